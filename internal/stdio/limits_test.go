package stdio_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentcore-proxy/agentcore-proxy/internal/stdio"
)

// hugeUpstream answers tools/call "sse" with one event of lines × 1 MiB
// data lines, tools/call "json" with a JSON body of that size, and anything
// else with an empty result. written counts the MiB lines it got out
// before the front stopped reading.
type hugeUpstream struct {
	lines   int
	written atomic.Int64
	stopped chan struct{} // closed when a write of the big answer failed
}

// dataLine is an SSE data line of 1 MiB of data.
var dataLine = "data: " + strings.Repeat("x", 1<<20) + "\n"

func (u *hugeUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req struct {
		ID     json.RawMessage `json:"id"`
		Params struct {
			Name string `json:"name"`
		} `json:"params"`
	}
	json.NewDecoder(r.Body).Decode(&req)
	switch req.Params.Name {
	case "sse":
		w.Header().Set("Content-Type", "text/event-stream")
		for range u.lines {
			if _, err := io.WriteString(w, dataLine); err != nil {
				close(u.stopped)
				return
			}
			u.written.Add(1)
		}
		io.WriteString(w, "\n")
	case "json":
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%s,"result":{"pad":"`, req.ID)
		for range u.lines {
			if _, err := io.WriteString(w, dataLine[len("data: "):len(dataLine)-1]); err != nil {
				return
			}
		}
		io.WriteString(w, `"}}`)
	default:
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%s,"result":{}}`, req.ID)
	}
}

// TestUpstreamAnswerTooLarge relays answers over MaxLineBytes: one SSE
// event of 64 MiB and a JSON body of 64 MiB against a limit of 4 MiB. Each
// gets a JSON-RPC error for its id, the front stops reading instead of
// accumulating, and the next request works.
func TestUpstreamAnswerTooLarge(t *testing.T) {
	const limit = 4 << 20
	u := &hugeUpstream{lines: 64, stopped: make(chan struct{})}
	srv := httptest.NewServer(u)
	t.Cleanup(srv.Close)
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		done <- stdio.Run(ctx, inR, outW, stdio.Options{Endpoint: srv.URL + "/mcp", MaxLineBytes: limit, MaxLineName: "--max-line-bytes"})
		outW.Close()
	}()
	sc := bufio.NewScanner(outR)
	sc.Buffer(nil, 160<<20) // room for an answer the front failed to refuse
	call := func(id int, tool string) map[string]any {
		t.Helper()
		fmt.Fprintf(inW, `{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":%q}}`+"\n", id, tool)
		if !sc.Scan() {
			t.Fatalf("stdout ended: %v", sc.Err())
		}
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("stdout line is not JSON: %v", err)
		}
		return m
	}

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i, tool := range []string{"sse", "json"} {
		got := call(i+1, tool)
		e, _ := got["error"].(map[string]any)
		msg, _ := e["message"].(string)
		if got["id"] != float64(i+1) || !strings.Contains(msg, "larger than 4194304 bytes") || !strings.Contains(msg, "--max-line-bytes") {
			t.Errorf("answer to a 64 MiB %s answer = %.300v, want a JSON-RPC error for id %d naming the limit", tool, got, i+1)
		}
	}
	runtime.ReadMemStats(&after)
	// Accumulating the answers would allocate their 128 MiB at least.
	alloc := after.TotalAlloc - before.TotalAlloc
	if alloc > 64<<20 {
		t.Errorf("relaying two refused 64 MiB answers allocated %d MiB, want under 64", alloc>>20)
	}
	t.Logf("relaying two refused 64 MiB answers allocated %d MiB", alloc>>20)
	select {
	case <-u.stopped: // the front closed the stream: the upstream's writes failed
	case <-time.After(10 * time.Second):
		t.Errorf("the upstream's event stream was not closed")
	}
	if n := u.written.Load(); n >= 64 {
		t.Errorf("the upstream wrote all %d MiB lines; want the front to stop reading", n)
	}
	t.Logf("the upstream got %d of 64 MiB lines out before the front closed the stream", u.written.Load())

	if got := call(3, "small"); got["id"] != float64(3) || got["result"] == nil {
		t.Errorf("answer after the refusals = %v, want a result for id 3", got)
	}
	inW.Close()
	go io.Copy(io.Discard, outR)
	if err := <-done; err != nil {
		t.Errorf("Run() = %v, want nil", err)
	}
}
