package stdio_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agentcore-proxy/agentcore-proxy/internal/emulator"
	"github.com/agentcore-proxy/agentcore-proxy/internal/stdio"
	"github.com/agentcore-proxy/agentcore-proxy/proxy"
	"github.com/agentcore-proxy/agentcore-proxy/tokencache"
)

// rig is the emulator behind the real proxy handler behind the stdio
// front, which runs in process on pipes.
type rig struct {
	emu    *emulator.Emulator
	stdin  *io.PipeWriter // the client writes here
	out    *io.PipeReader // and reads the front's stdout here
	done   chan error     // Run's result
	cancel context.CancelFunc
}

func startRig(t testing.TB, drain time.Duration) *rig {
	return startRigWith(t, stdio.Options{DrainTimeout: drain}, false)
}

// startRigWith starts the rig with opts; overHTTP serves the proxy on
// loopback and points Options.Endpoint at it instead of Options.Handler.
func startRigWith(t testing.TB, opts stdio.Options, overHTTP bool) *rig {
	t.Helper()
	emu, err := emulator.Start(t.Context(), emulator.Config{})
	if err != nil {
		t.Fatalf("emulator.Start: %v", err)
	}
	t.Cleanup(func() { emu.Close() })
	target, err := url.Parse(emu.InvocationURL("DEFAULT"))
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := tokencache.New(t.Context(), tokencache.Config{TokenURL: emu.TokenURL(), ClientID: "demo-client-id", ClientSecret: "demo-client-secret"})
	if err != nil {
		t.Fatalf("tokencache.New: %v", err)
	}
	p, err := proxy.New(proxy.Options{Route: "default", Target: target, Tokens: tokens, SessionRecovery: true,
		Upstream: proxy.UpstreamContext{ARN: emu.RuntimeARN()}})
	if err != nil {
		t.Fatalf("proxy.New: %v", err)
	}
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	opts.Handler = p
	if overHTTP {
		srv := httptest.NewServer(p)
		t.Cleanup(srv.Close)
		opts.Handler, opts.Endpoint = nil, srv.URL+"/mcp"
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &rig{emu: emu, stdin: inW, out: outR, done: make(chan error, 1), cancel: cancel}
	go func() {
		err := stdio.Run(ctx, inR, outW, opts)
		outW.Close()
		inR.Close()
		r.done <- err
	}()
	t.Cleanup(func() {
		cancel()
		inW.Close()
		go io.Copy(io.Discard, outR)
		if err := <-r.done; err != nil {
			t.Errorf("Run() = %v, want nil", err)
		}
	})
	return r
}

// connect runs a Go SDK client on the front's stdin and stdout.
func (r *rig) connect(t testing.TB, version string, opts *mcp.ClientOptions) *mcp.ClientSession {
	t.Helper()
	c := mcp.NewClient(&mcp.Implementation{Name: "stdio-test", Version: "1"}, opts)
	cs, err := c.Connect(t.Context(), &mcp.IOTransport{Reader: r.out, Writer: r.stdin}, &mcp.ClientSessionOptions{ProtocolVersion: version})
	if err != nil {
		t.Fatalf("Connect(%s): %v", version, err)
	}
	if got := cs.InitializeResult().ProtocolVersion; got != version {
		t.Fatalf("negotiated protocol %q, want %q", got, version)
	}
	return cs
}

func text(res *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

func TestTools(t *testing.T) {
	for _, version := range []string{"2025-11-25", "2026-07-28"} {
		t.Run(version, func(t *testing.T) {
			r := startRig(t, 0)
			progress := make(chan float64, 100)
			cs := r.connect(t, version, &mcp.ClientOptions{
				ProgressNotificationHandler: func(_ context.Context, req *mcp.ProgressNotificationClientRequest) {
					progress <- req.Params.Progress
				},
			})
			ctx := t.Context()
			tools, err := cs.ListTools(ctx, nil)
			if err != nil {
				t.Fatalf("ListTools: %v", err)
			}
			var names []string
			for _, tool := range tools.Tools {
				names = append(names, tool.Name)
			}
			if got, want := strings.Join(names, ","), "add_numbers,greet_user,multiply_numbers,stream_progress"; got != want {
				t.Errorf("ListTools() = %s, want %s", got, want)
			}
			calls := []struct {
				name string
				args map[string]any
				want string
			}{
				{name: "add_numbers", args: map[string]any{"a": 2, "b": 3}, want: "5"},
				{name: "multiply_numbers", args: map[string]any{"a": 4, "b": 2.5}, want: "10"},
				{name: "greet_user", args: map[string]any{"name": "Ada"}, want: "Hello, Ada! Nice to meet you."},
			}
			for _, c := range calls {
				res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: c.name, Arguments: c.args})
				if err != nil || res.IsError || text(res) != c.want {
					t.Errorf("CallTool(%s) = %v, %v, want %q", c.name, res, err, c.want)
				}
			}

			params := &mcp.CallToolParams{Name: "stream_progress", Arguments: map[string]any{"steps": 5, "interval_ms": 10}}
			params.SetProgressToken("p1")
			res, err := cs.CallTool(ctx, params)
			if err != nil || text(res) != "streamed 5 steps" {
				t.Errorf("CallTool(stream_progress) = %v, %v", res, err)
			}
			// The SDK client runs notification handlers on their own
			// goroutines: they may finish after CallTool returns.
			for i := range 5 {
				select {
				case <-progress:
				case <-time.After(10 * time.Second):
					t.Fatalf("got %d progress notifications, want 5", i)
				}
			}

			var wg sync.WaitGroup
			errs := make(chan error, 20)
			for i := range 20 {
				wg.Go(func() {
					res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "add_numbers", Arguments: map[string]any{"a": i, "b": 1000}})
					switch {
					case err != nil:
						errs <- err
					case text(res) != fmt.Sprint(i+1000):
						errs <- fmt.Errorf("add_numbers(%d, 1000) = %q", i, text(res))
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Errorf("concurrent call: %v", err)
			}
			if err := cs.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			// The headers the front set reached AgentCore.
			var named, sessions int
			for _, inv := range r.emu.Invocations() {
				if inv.Header.Get("Mcp-Method") == "tools/call" && inv.Header.Get("Mcp-Name") == "greet_user" {
					named++
				}
				if inv.Header.Get("Mcp-Session-Id") != "" {
					sessions++
				}
			}
			if version >= "2026-07-28" && (named != 1 || sessions != 0) {
				t.Errorf("upstream saw %d greet_user calls with Mcp-Method/Mcp-Name and %d requests with a session, want 1 and 0", named, sessions)
			}
			if version < "2026-07-28" && (named != 0 || sessions == 0) {
				t.Errorf("upstream saw %d calls with Mcp-Method/Mcp-Name and %d requests with a session, want 0 and some", named, sessions)
			}
		})
	}
}

// TestLargeLine sends a 10 MB line and gets a 10 MB line back.
func TestLargeLine(t *testing.T) {
	r := startRig(t, 0)
	w := newWire(t, r)
	w.send(initialize)
	w.next()
	w.send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	name := strings.Repeat("x", 10<<20)
	w.send(`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"greet_user","arguments":{"name":"` + name + `"}}}`)
	got := w.next()
	want := "Hello, " + name + "! Nice to meet you."
	res, _ := got["result"].(map[string]any)
	content, _ := res["content"].([]any)
	if len(content) != 1 || content[0].(map[string]any)["text"] != want {
		t.Errorf("answer to a 10 MB line: %.200v…, want the 10 MB greeting", got)
	}
}

// TestSessionRecovery loses the session behind a 2025-11-25 client on stdio:
// calls keep working with one new initialize.
func TestSessionRecovery(t *testing.T) {
	r := startRig(t, 0)
	cs := r.connect(t, "2025-11-25", nil)
	add := func() error {
		res, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: "add_numbers", Arguments: map[string]any{"a": 1, "b": 2}})
		if err == nil && text(res) != "3" {
			err = fmt.Errorf("add_numbers = %q", text(res))
		}
		return err
	}
	if err := add(); err != nil {
		t.Fatal(err)
	}
	before := r.emu.Stats().Initializes
	r.emu.EndSessions()
	for i := range 3 {
		if err := add(); err != nil {
			t.Fatalf("call %d after EndSessions: %v", i, err)
		}
	}
	if n := r.emu.Stats().Initializes - before; n != 1 {
		t.Errorf("the emulator saw %d new initializes, want 1", n)
	}
	cs.Close()
}

// TestProxyErrorAsJSONRPC fails an upstream call: the client gets a JSON-RPC
// error for its request carrying the proxy's explanation.
func TestProxyErrorAsJSONRPC(t *testing.T) {
	r := startRig(t, 0)
	cs := r.connect(t, "2025-11-25", nil)
	r.emu.InjectFault(emulator.Fault{Status: 429, ErrorType: "ThrottlingException", Message: "Rate exceeded"}, 10)
	_, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: "add_numbers", Arguments: map[string]any{"a": 1, "b": 2}})
	if err == nil || !strings.Contains(err.Error(), "agentcore-proxy: AgentCore answered 429") || !strings.Contains(err.Error(), "Rate exceeded") {
		t.Errorf("CallTool during throttling: err = %v, want the proxy's explanation", err)
	}
	cs.Close()
}

// wire is a raw client: it writes lines and reads lines.
type wire struct {
	t  *testing.T
	r  *rig
	sc *bufio.Scanner
}

func newWire(t *testing.T, r *rig) *wire {
	sc := bufio.NewScanner(r.out)
	sc.Buffer(nil, 64<<20)
	return &wire{t: t, r: r, sc: sc}
}

func (w *wire) send(line string) {
	w.t.Helper()
	if _, err := io.WriteString(w.r.stdin, line+"\n"); err != nil {
		w.t.Fatalf("write stdin: %v", err)
	}
}

// next reads one line and decodes it; it fails on anything but JSON.
func (w *wire) next() map[string]any {
	w.t.Helper()
	if !w.sc.Scan() {
		w.t.Fatalf("stdout ended: %v", w.sc.Err())
	}
	var m map[string]any
	if err := json.Unmarshal(w.sc.Bytes(), &m); err != nil {
		w.t.Fatalf("stdout line %q is not JSON: %v", w.sc.Text(), err)
	}
	return m
}

const initialize = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`

func TestGarbage(t *testing.T) {
	r := startRig(t, 0)
	w := newWire(t, r)
	for _, garbage := range []string{"this is not json", `{"jsonrpc":"2.0","id":`, "\x00\x01"} {
		w.send(garbage)
		got := w.next()
		e, _ := got["error"].(map[string]any)
		if got["id"] != nil || e == nil || e["code"] != float64(-32700) {
			t.Errorf("answer to %q = %v, want a parse error (-32700) with id null", garbage, got)
		}
	}
	w.send(initialize)
	got := w.next()
	if got["id"] != float64(1) || got["result"] == nil {
		t.Errorf("initialize after garbage = %v, want a result", got)
	}
}

// TestInvalidRequestEchoesID: the error to an invalid request carries its
// id as the client wrote it, not re-encoded ("&" stays "&").
func TestInvalidRequestEchoesID(t *testing.T) {
	r := startRig(t, 0)
	sc := bufio.NewScanner(r.out)
	if _, err := io.WriteString(r.stdin, `{"jsonrpc":"2.0","id":"a&b<c>","method":7}`+"\n"); err != nil {
		t.Fatal(err)
	}
	if !sc.Scan() {
		t.Fatalf("stdout ended: %v", sc.Err())
	}
	if got := sc.Text(); !strings.Contains(got, `"id":"a&b<c>"`) || !strings.Contains(got, `"code":-32600`) {
		t.Errorf("answer = %s, want -32600 with \"id\":\"a&b<c>\" as sent", got)
	}
}

// TestStdinClosedMidCall closes stdin while a call streams: the call
// finishes within the drain, then Run returns nil.
func TestStdinClosedMidCall(t *testing.T) {
	r := startRig(t, 30*time.Second)
	w := newWire(t, r)
	w.send(initialize)
	w.next()
	w.send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	w.send(`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"stream_progress","arguments":{"steps":3,"interval_ms":50},"_meta":{"progressToken":"t"}}}`)
	r.stdin.Close()
	var progress int
	for {
		got := w.next()
		if got["method"] == "notifications/progress" {
			progress++
			continue
		}
		if got["id"] != float64(2) || got["result"] == nil {
			t.Fatalf("answer = %v, want the result of call 2", got)
		}
		break
	}
	if progress != 3 {
		t.Errorf("progress notifications = %d, want 3", progress)
	}
	if err := <-r.done; err != nil {
		t.Errorf("Run() = %v, want nil", err)
	}
	r.done <- nil // for the cleanup
}

// TestDrainCancels closes stdin while a long call runs and the drain is
// short: Run cancels the call and returns nil.
func TestDrainCancels(t *testing.T) {
	r := startRig(t, 50*time.Millisecond)
	w := newWire(t, r)
	w.send(initialize)
	w.next()
	w.send(`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"stream_progress","arguments":{"steps":1000,"interval_ms":1000}}}`)
	r.stdin.Close()
	go io.Copy(io.Discard, r.out)
	if err := <-r.done; err != nil {
		t.Errorf("Run() = %v, want nil", err)
	}
	r.done <- nil
}

// TestContextCancel ends Run's context while a long call runs: the call
// gets the drain, is cancelled, and Run returns nil.
func TestContextCancel(t *testing.T) {
	r := startRig(t, 50*time.Millisecond)
	w := newWire(t, r)
	w.send(initialize)
	w.next()
	w.send(`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"stream_progress","arguments":{"steps":1000,"interval_ms":1000}}}`)
	r.cancel()
	go io.Copy(io.Discard, r.out)
	if err := <-r.done; err != nil {
		t.Errorf("Run() = %v, want nil", err)
	}
	r.done <- nil
}

// TestEndpoint relays to a proxy served over HTTP instead of in process.
func TestEndpoint(t *testing.T) {
	r := startRigWith(t, stdio.Options{}, true)
	cs := r.connect(t, "2025-11-25", nil)
	res, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: "greet_user", Arguments: map[string]any{"name": "Bob"}})
	if err != nil || text(res) != "Hello, Bob! Nice to meet you." {
		t.Errorf("CallTool(greet_user) = %v, %v", res, err)
	}
	cs.Close()
}
