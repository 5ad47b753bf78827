package emulator

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// bearerTransport adds a bearer token to every request, as a caller of AgentCore does.
type bearerTransport struct {
	token string
	base  http.RoundTripper
}

func (b *bearerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.base.RoundTrip(r)
}

// connect opens an MCP client session through the emulator's AgentCore host.
func connect(t *testing.T, e *Emulator, protocolVersion string, opts *mcp.ClientOptions) *mcp.ClientSession {
	t.Helper()
	transport := &mcp.StreamableClientTransport{
		Endpoint:   invocationURL(t, e.EndpointURL(), e.RuntimeARN(), "qualifier=DEFAULT"),
		HTTPClient: &http.Client{Timeout: 30 * time.Second, Transport: &bearerTransport{token: fetchToken(t, e), base: http.DefaultTransport}},
	}
	client := mcp.NewClient(&mcp.Implementation{Name: "emulator-test", Version: "1"}, opts)
	cs, err := client.Connect(t.Context(), transport, &mcp.ClientSessionOptions{ProtocolVersion: protocolVersion})
	if err != nil {
		t.Fatalf("Connect(protocol %q) error = %v", protocolVersion, err)
	}
	t.Cleanup(func() { _ = cs.Close() })
	return cs
}

// protocolVersions covers the SDK's default (2026-07-28, stateless server/discover) and a legacy
// initialize handshake, which AgentCore's session header minting affects.
var protocolVersions = []struct {
	name    string
	version string
}{
	{name: "default protocol", version: ""},
	{name: "2025-06-18", version: "2025-06-18"},
}

func TestMCPToolsThroughAgentCore(t *testing.T) {
	for _, pv := range protocolVersions {
		t.Run(pv.name, func(t *testing.T) {
			e := startEmulator(t, Config{})
			cs := connect(t, e, pv.version, nil)

			tools, err := cs.ListTools(t.Context(), nil)
			if err != nil {
				t.Fatalf("ListTools() error = %v", err)
			}
			var names []string
			for _, tool := range tools.Tools {
				names = append(names, tool.Name)
			}
			slices.Sort(names)
			if want := []string{"add_numbers", "greet_user", "multiply_numbers", "stream_progress"}; !slices.Equal(names, want) {
				t.Errorf("ListTools() names = %v, want %v", names, want)
			}

			calls := []struct {
				name           string
				args           map[string]any
				wantText       string
				wantStructured map[string]any
			}{
				{name: "add_numbers", args: map[string]any{"a": 5, "b": 3}, wantText: "8", wantStructured: map[string]any{"result": 8.0}},
				{name: "multiply_numbers", args: map[string]any{"a": 4, "b": 7}, wantText: "28", wantStructured: map[string]any{"result": 28.0}},
				{name: "add_numbers", args: map[string]any{"a": 0.1, "b": 0.25}, wantText: "0.35", wantStructured: map[string]any{"result": 0.35}},
				{name: "greet_user", args: map[string]any{"name": "Alice"}, wantText: "Hello, Alice! Nice to meet you."},
				{name: "stream_progress", args: map[string]any{"steps": 2, "interval_ms": 1}, wantText: "streamed 2 steps"},
			}
			for _, c := range calls {
				res, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: c.name, Arguments: c.args})
				if err != nil {
					t.Fatalf("CallTool(%s, %v) error = %v", c.name, c.args, err)
				}
				if res.IsError || len(res.Content) != 1 {
					t.Fatalf("CallTool(%s, %v) = %+v, want one content item", c.name, c.args, res)
				}
				if got := res.Content[0].(*mcp.TextContent).Text; got != c.wantText {
					t.Errorf("CallTool(%s, %v) text = %q, want %q", c.name, c.args, got, c.wantText)
				}
				if c.wantStructured != nil && !jsonEqual(res.StructuredContent, c.wantStructured) {
					t.Errorf("CallTool(%s, %v) structured = %v, want %v", c.name, c.args, res.StructuredContent, c.wantStructured)
				}
			}

			s := e.Stats()
			invs := e.Invocations()
			if s.Invocations == 0 || s.Invocations != len(invs) || len(s.Rejections) != 0 {
				t.Errorf("Stats() = %+v with %d recorded, want every request authorized", s, len(invs))
			}
			// Once AgentCore has handed the client a session id, the client sends it back.
			if sid := cs.ID(); pv.version != "" && (sid == "" || invs[len(invs)-1].Header.Get("Mcp-Session-Id") != sid) {
				t.Errorf("session id %q, last request's Mcp-Session-Id %q; want the minted id echoed", sid, invs[len(invs)-1].Header.Get("Mcp-Session-Id"))
			}
		})
	}
}

// wireEvent is one SSE message as the client's HTTP transport read it off the wire.
type wireEvent struct {
	method   string  // "notifications/progress", or "" for a response
	progress float64 // for progress notifications
	message  string  // for progress notifications: the server's emit time
	readAt   time.Time
}

// sseRecorder records, per SSE data line, when the client read it, to check that events are relayed
// one by one rather than buffered until the response ends.
type sseRecorder struct {
	base   http.RoundTripper
	mu     sync.Mutex
	events []wireEvent
}

func (s *sseRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := s.base.RoundTrip(r)
	if err != nil || resp.Header.Get("Content-Type") != "text/event-stream" {
		return resp, err
	}
	resp.Body = &recordingBody{ReadCloser: resp.Body, rec: s}
	return resp, nil
}

func (s *sseRecorder) snapshot() []wireEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.events)
}

type recordingBody struct {
	io.ReadCloser
	rec     *sseRecorder
	pending []byte
}

func (b *recordingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	now := time.Now()
	b.pending = append(b.pending, p[:n]...)
	for {
		line, rest, ok := bytes.Cut(b.pending, []byte("\n"))
		if !ok {
			break
		}
		b.pending = rest
		data, isData := bytes.CutPrefix(bytes.TrimRight(line, "\r"), []byte("data:"))
		if !isData {
			continue
		}
		var msg struct {
			Method string `json:"method"`
			Params struct {
				Progress float64 `json:"progress"`
				Message  string  `json:"message"`
			} `json:"params"`
		}
		if json.Unmarshal(bytes.TrimSpace(data), &msg) == nil {
			b.rec.mu.Lock()
			b.rec.events = append(b.rec.events, wireEvent{method: msg.Method, progress: msg.Params.Progress, message: msg.Params.Message, readAt: now})
			b.rec.mu.Unlock()
		}
	}
	return n, err
}

func TestProgressStreamsBeforeResult(t *testing.T) {
	const steps, interval = 4, 150 * time.Millisecond
	for _, pv := range protocolVersions {
		t.Run(pv.name, func(t *testing.T) {
			e := startEmulator(t, Config{})
			rec := &sseRecorder{base: http.DefaultTransport}
			handled := make(chan float64, steps)
			client := mcp.NewClient(&mcp.Implementation{Name: "emulator-test", Version: "1"}, &mcp.ClientOptions{
				ProgressNotificationHandler: func(_ context.Context, req *mcp.ProgressNotificationClientRequest) {
					handled <- req.Params.Progress
				},
			})
			transport := &mcp.StreamableClientTransport{
				Endpoint:   invocationURL(t, e.EndpointURL(), e.RuntimeARN(), "qualifier=DEFAULT"),
				HTTPClient: &http.Client{Timeout: 30 * time.Second, Transport: &bearerTransport{token: fetchToken(t, e), base: rec}},
			}
			cs, err := client.Connect(t.Context(), transport, &mcp.ClientSessionOptions{ProtocolVersion: pv.version})
			if err != nil {
				t.Fatalf("Connect() error = %v", err)
			}
			defer cs.Close()

			params := &mcp.CallToolParams{Name: "stream_progress", Arguments: map[string]any{"steps": steps, "interval_ms": interval.Milliseconds()}}
			params.SetProgressToken("progress-1")
			skip := len(rec.snapshot())
			res, err := cs.CallTool(t.Context(), params)
			if err != nil {
				t.Fatalf("CallTool(stream_progress) error = %v", err)
			}
			if got := res.Content[0].(*mcp.TextContent).Text; got != "streamed 4 steps" {
				t.Errorf("CallTool(stream_progress) text = %q, want %q", got, "streamed 4 steps")
			}
			// The SDK client dispatches notifications to the handler asynchronously, so the last one
			// may be handled just after CallTool returns; the wire order is checked below.
			handledBeforeReturn := len(handled)
			var got []float64
			for range steps {
				select {
				case p := <-handled:
					got = append(got, p)
				case <-time.After(5 * time.Second):
					t.Fatalf("ProgressNotificationHandler saw %v, want %d notifications", got, steps)
				}
			}
			slices.Sort(got)
			if want := []float64{1, 2, 3, 4}; !slices.Equal(got, want) || handledBeforeReturn < steps-1 {
				t.Errorf("handler saw progress %v (%d before CallTool returned), want %v, at least %d before", got, handledBeforeReturn, want, steps-1)
			}

			events := rec.snapshot()[skip:]
			if len(events) != steps+1 || events[steps].method != "" {
				t.Fatalf("SSE events = %+v, want %d progress notifications then the result", events, steps)
			}
			for i, ev := range events[:steps] {
				if ev.method != "notifications/progress" || ev.progress != float64(i+1) {
					t.Errorf("SSE event %d = %+v, want progress %d", i, ev, i+1)
				}
				emitted, err := time.Parse(time.RFC3339Nano, ev.message)
				if err != nil {
					t.Fatalf("progress message %q is not an RFC 3339 time: %v", ev.message, err)
				}
				// Streaming, not buffering: each event is read before the server emits the next one. The
				// result follows the last notification at once, so they may share a read.
				if i+1 < steps {
					next, _ := time.Parse(time.RFC3339Nano, events[i+1].message)
					if !ev.readAt.Before(next) {
						t.Errorf("progress %d read at %v, not before progress %d was emitted (%v)", i+1, ev.readAt, i+2, next)
					}
				} else if ev.readAt.After(events[steps].readAt) {
					t.Errorf("progress %d read at %v, after the result (%v)", i+1, ev.readAt, events[steps].readAt)
				}
				t.Logf("progress %d relayed in %v", i+1, ev.readAt.Sub(emitted))
			}
		})
	}
}

func TestStreamProgressCancelled(t *testing.T) {
	for _, pv := range protocolVersions {
		t.Run(pv.name, func(t *testing.T) {
			e := startEmulator(t, Config{})
			cs := connect(t, e, pv.version, nil)
			ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
			defer cancel()
			_, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "stream_progress", Arguments: map[string]any{"steps": 1000, "interval_ms": 10000}})
			if err == nil {
				t.Fatalf("CallTool(stream_progress 1000 x 10 s) with a 300 ms deadline succeeded, want an error")
			}
			// The tool must stop with its HTTP request: Close waits for handlers, and would otherwise
			// hit its 5 s shutdown bound and report an error.
			start := time.Now()
			if err := e.Close(); err != nil {
				t.Errorf("Close() after a cancelled call = %v, want nil", err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("Close() took %v after a cancelled call, want the tool to have stopped", d)
			}
		})
	}
}
