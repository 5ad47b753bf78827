package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agentcore-proxy/agentcore-proxy/internal/emulator"
)

// TestSSEEventsRelayedOneByOne runs an upstream that writes an SSE event and
// then waits until the client has received it before writing the next. A
// proxy that buffered would deadlock here; the test measures how long each
// event took from the upstream's flush to the client's read.
func TestSSEEventsRelayedOneByOne(t *testing.T) {
	const events = 10
	ack := make(chan int)
	var mu sync.Mutex
	flushed := make([]time.Time, events)
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-cache")
		w.WriteHeader(http.StatusOK)
		rc := http.NewResponseController(w)
		for i := range events {
			fmt.Fprintf(w, "event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{\"progressToken\":1,\"progress\":%d}}\n\n", i)
			mu.Lock()
			flushed[i] = time.Now()
			mu.Unlock()
			if err := rc.Flush(); err != nil {
				return
			}
			select {
			case got := <-ack:
				if got != i {
					return
				}
			case <-time.After(10 * time.Second):
				return // the client never saw event i: the test fails below
			case <-r.Context().Done():
				return
			}
		}
		fmt.Fprint(w, "event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n\n")
	}))
	t.Cleanup(upstream.Close)

	p := startProxy(t, nil, "serve", "--listen", "127.0.0.1:0", "--log-format", "json", "--upstream-url", upstream.URL+"/mcp")
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, p.MCPURL(),
		strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"slow","_meta":{"progressToken":1}}}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type = %q, want text/event-stream", ct)
	}
	rd := bufio.NewReader(resp.Body)
	var worst, total time.Duration
	for i := range events {
		line, err := readDataLine(rd)
		if err != nil {
			t.Fatalf("event %d never arrived (the proxy held it back?): %v", i, err)
		}
		arrived := time.Now()
		if want := fmt.Sprintf(`"progress":%d}`, i); !strings.Contains(line, want) {
			t.Fatalf("event %d = %s, want progress %d", i, line, i)
		}
		mu.Lock()
		delay := arrived.Sub(flushed[i])
		mu.Unlock()
		worst, total = max(worst, delay), total+delay
		ack <- i
	}
	if line, err := readDataLine(rd); err != nil || !strings.Contains(line, `"result"`) {
		t.Fatalf("final event = %q, %v; want the result", line, err)
	}
	t.Logf("SSE relay delay over %d events: mean %v, max %v", events, total/events, worst)
}

// readDataLine returns the next SSE data line.
func readDataLine(rd *bufio.Reader) (string, error) {
	for {
		line, err := rd.ReadString('\n')
		if err != nil {
			return "", err
		}
		if data, ok := strings.CutPrefix(strings.TrimRight(line, "\r\n"), "data: "); ok {
			return data, nil
		}
	}
}

// TestProgressNotificationsThroughAgentCore sends the emulator's streaming
// tool through the proxy with the Go SDK client: each progress notification
// reaches the client while the tool still runs, not in one lump at the end.
func TestProgressNotificationsThroughAgentCore(t *testing.T) {
	emu := startEmulator(t, emulator.Config{})
	p := startProxy(t, secretEnv, proxyFlags(emu)...)
	const steps = 5
	type arrival struct {
		at, emitted time.Time
	}
	arrivals := make(chan arrival, steps*2)
	cs := connect(t, p.MCPURL(), &mcp.ClientOptions{
		ProgressNotificationHandler: func(_ context.Context, req *mcp.ProgressNotificationClientRequest) {
			now := time.Now()
			emitted, err := time.Parse(time.RFC3339Nano, req.Params.Message)
			if err != nil {
				t.Errorf("progress message %q is not the emit time: %v", req.Params.Message, err)
			}
			arrivals <- arrival{at: now, emitted: emitted}
		},
	})
	params := &mcp.CallToolParams{Name: "stream_progress", Arguments: map[string]any{"steps": steps, "interval_ms": 200}}
	params.SetProgressToken("p-1")
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if _, err := cs.CallTool(ctx, params); err != nil {
		t.Fatalf("CallTool(stream_progress): %v", err)
	}
	// The SDK client runs notification handlers apart from the call, so the
	// last one may land just after CallTool returns.
	var got []arrival
	for len(got) < steps {
		select {
		case a := <-arrivals:
			got = append(got, a)
		case <-time.After(10 * time.Second):
			t.Fatalf("received %d progress notifications, want %d", len(got), steps)
		}
	}
	slices.SortFunc(got, func(a, b arrival) int { return a.emitted.Compare(b.emitted) })
	// Not held back: the first arrived before the last was even emitted.
	if first, lastEmit := got[0].at, got[steps-1].emitted; !first.Before(lastEmit) {
		t.Errorf("first notification arrived at %v, after the last was emitted at %v: the stream was buffered", first, lastEmit)
	}
	var worst time.Duration
	for _, a := range got {
		worst = max(worst, a.at.Sub(a.emitted))
	}
	t.Logf("progress notification relay delay (emit to client handler, through proxy and emulated AgentCore): max %v", worst)
}
