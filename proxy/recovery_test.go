package proxy_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"sync"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agentcore-proxy/agentcore-proxy/agentcore"
	"github.com/agentcore-proxy/agentcore-proxy/internal/emulator"
	"github.com/agentcore-proxy/agentcore-proxy/proxy"
	"github.com/agentcore-proxy/agentcore-proxy/tokencache"
)

// recoveryRig is the real proxy (proxy.New with a token cache) in front of
// the emulator, served over loopback.
type recoveryRig struct {
	emu     *emulator.Emulator
	url     string // the proxy's MCP endpoint
	mu      sync.Mutex
	results []string // OnRecovery calls
}

func (r *recoveryRig) recoveries() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.results)
}

// startRig starts the emulator and the proxy. front, if not nil, wraps the
// emulator's AgentCore endpoint (to add a fault of the test's own).
// edit, if given, changes the proxy's options.
func startRig(t testing.TB, recovery bool, front func(emu *emulator.Emulator, next http.Handler) http.Handler, edit ...func(*proxy.Options)) *recoveryRig {
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
	if front != nil {
		endpoint, _ := url.Parse(emu.EndpointURL())
		srv := httptest.NewServer(front(emu, &httputil.ReverseProxy{
			Rewrite:       func(pr *httputil.ProxyRequest) { pr.SetURL(endpoint); pr.Out.URL.RawPath = pr.In.URL.RawPath },
			FlushInterval: -1,
			ErrorLog:      log.New(io.Discard, "", 0),
		}))
		t.Cleanup(srv.Close)
		front, _ := url.Parse(srv.URL)
		target.Host = front.Host
	}
	tokens, err := tokencache.New(t.Context(), tokencache.Config{TokenURL: emu.TokenURL(), ClientID: "demo-client-id", ClientSecret: "demo-client-secret"})
	if err != nil {
		t.Fatalf("tokencache.New: %v", err)
	}
	rig := &recoveryRig{emu: emu}
	opts := proxy.Options{
		Route: "default", Target: target, Tokens: tokens, SessionRecovery: recovery,
		Upstream: proxy.UpstreamContext{ARN: emu.RuntimeARN()},
		OnRecovery: func(result string) {
			rig.mu.Lock()
			defer rig.mu.Unlock()
			rig.results = append(rig.results, result)
		},
	}
	for _, e := range edit {
		e(&opts)
	}
	p, err := proxy.New(opts)
	if err != nil {
		t.Fatalf("proxy.New: %v", err)
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	rig.url = srv.URL + "/mcp"
	return rig
}

// connectGo connects a Go SDK client through the proxy with the given
// protocol version ("" for the SDK's default).
func connectGo(t testing.TB, endpoint, version string) *mcp.ClientSession {
	t.Helper()
	c := mcp.NewClient(&mcp.Implementation{Name: "recovery-test", Version: "1"}, nil)
	cs, err := c.Connect(t.Context(), &mcp.StreamableClientTransport{Endpoint: endpoint, DisableStandaloneSSE: true},
		&mcp.ClientSessionOptions{ProtocolVersion: version})
	if err != nil {
		t.Fatalf("Connect(%s): %v", version, err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

func add(t testing.TB, cs *mcp.ClientSession, a, b float64) error {
	t.Helper()
	res, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: "add_numbers", Arguments: map[string]any{"a": a, "b": b}})
	if err != nil {
		return err
	}
	if res.IsError {
		return &toolError{res}
	}
	want := a + b
	got := res.StructuredContent.(map[string]any)["result"]
	if got != want {
		t.Errorf("add_numbers(%v, %v) = %v, want %v", a, b, got, want)
	}
	return nil
}

type toolError struct{ res *mcp.CallToolResult }

func (e *toolError) Error() string {
	b, _ := json.Marshal(e.res.Content)
	return "tool error: " + string(b)
}

func TestSessionRecovery(t *testing.T) {
	rig := startRig(t, true, nil)
	cs := connectGo(t, rig.url, "2025-11-25")
	if got := cs.InitializeResult().ProtocolVersion; got != "2025-11-25" {
		t.Fatalf("negotiated protocol %q, want 2025-11-25", got)
	}
	sid := cs.ID()
	if err := add(t, cs, 1, 2); err != nil {
		t.Fatalf("before the loss: %v", err)
	}
	before := rig.emu.Stats()

	rig.emu.EndSessions()
	for i := range 5 {
		if err := add(t, cs, float64(i), 10); err != nil {
			t.Fatalf("call %d after EndSessions: %v", i, err)
		}
	}
	if _, err := cs.ListTools(t.Context(), nil); err != nil {
		t.Fatalf("ListTools after recovery: %v", err)
	}
	if cs.ID() != sid {
		t.Errorf("session id changed from %q to %q", sid, cs.ID())
	}
	after := rig.emu.Stats()
	if n := after.Initializes - before.Initializes; n != 1 {
		t.Errorf("the emulator saw %d new initializes, want 1", n)
	}
	if n := after.Rejections[emulator.ReasonSessionEnded] - before.Rejections[emulator.ReasonSessionEnded]; n != 1 {
		t.Errorf("the emulator answered %d requests with 404 for the ended session, want 1", n)
	}
	if got := rig.recoveries(); !slices.Equal(got, []string{proxy.RecoveryRecovered}) {
		t.Errorf("OnRecovery calls = %q, want [recovered]", got)
	}
	// A second loss is recovered too.
	rig.emu.EndSessions()
	if err := add(t, cs, 2, 2); err != nil {
		t.Fatalf("after the second loss: %v", err)
	}
	if got := rig.recoveries(); !slices.Equal(got, []string{proxy.RecoveryRecovered, proxy.RecoveryRecovered}) {
		t.Errorf("OnRecovery calls = %q, want two recovered", got)
	}
}

// TestSessionRecoveryConcurrent loses the session under concurrent calls:
// one re-initialize serves them all.
func TestSessionRecoveryConcurrent(t *testing.T) {
	rig := startRig(t, true, nil)
	cs := connectGo(t, rig.url, "2025-11-25")
	before := rig.emu.Stats().Initializes
	rig.emu.EndSessions()
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for i := range 10 {
		wg.Go(func() { errs <- add(t, cs, float64(i), 1) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent call after EndSessions: %v", err)
		}
	}
	if n := rig.emu.Stats().Initializes - before; n != 1 {
		t.Errorf("the emulator saw %d new initializes, want 1", n)
	}
}

// TestSessionRecoveryLostAgain loses the new session as soon as it is
// initialized: the client gets the 404, explained.
func TestSessionRecoveryLostAgain(t *testing.T) {
	var armed sync.Mutex
	arm := false
	rig := startRig(t, true, func(emu *emulator.Emulator, next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			next.ServeHTTP(w, r)
			armed.Lock()
			defer armed.Unlock()
			if arm && bytes.Contains(body, []byte(`"notifications/initialized"`)) {
				emu.EndSessions()
			}
		})
	})
	cs := connectGo(t, rig.url, "2025-11-25")
	armed.Lock()
	arm = true
	armed.Unlock()
	rig.emu.EndSessions()
	assertSessionNotFound(t, rawCall(t, rig, cs.ID()))
	if got := rig.recoveries(); !slices.Equal(got, []string{proxy.RecoveryLostAgain}) {
		t.Errorf("OnRecovery calls = %q, want [lost_again]", got)
	}
}

// TestSessionRecoveryInitializeFails fails the re-initialize: the client
// gets the original 404, explained.
func TestSessionRecoveryInitializeFails(t *testing.T) {
	rig := startRig(t, true, nil)
	cs := connectGo(t, rig.url, "2025-11-25")
	rig.emu.EndSessions()
	rig.emu.InjectFault(emulator.Fault{Status: 500, ErrorType: "InternalServerException", Message: "boom"}, 1)
	assertSessionNotFound(t, rawCall(t, rig, cs.ID()))
	if got := rig.recoveries(); !slices.Equal(got, []string{proxy.RecoveryFailed}) {
		t.Errorf("OnRecovery calls = %q, want [failed]", got)
	}
}

func TestSessionRecoveryOff(t *testing.T) {
	rig := startRig(t, false, nil)
	cs := connectGo(t, rig.url, "2025-11-25")
	before := rig.emu.Stats().Initializes
	rig.emu.EndSessions()
	assertSessionNotFound(t, rawCall(t, rig, cs.ID()))
	if n := rig.emu.Stats().Initializes - before; n != 0 {
		t.Errorf("the emulator saw %d new initializes, want 0", n)
	}
	if got := rig.recoveries(); len(got) != 0 {
		t.Errorf("OnRecovery calls = %q, want none", got)
	}
}

// rawCall sends tools/call add_numbers on session sid the way an MCP client
// does, and returns the proxy's status and diagnosis header.
type answer struct {
	status          int
	diagnosis, body string
}

func rawCall(t *testing.T, rig *recoveryRig, sid string) answer {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, rig.url, bytes.NewReader(
		[]byte(`{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"add_numbers","arguments":{"a":1,"b":1}}}`)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Mcp-Session-Id", sid)
	req.Header.Set("Mcp-Protocol-Version", "2025-11-25")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header.Get(proxy.HeaderDiagnosis), string(b)}
}

func assertSessionNotFound(t *testing.T, a answer) {
	t.Helper()
	if a.status != http.StatusNotFound || a.diagnosis != agentcore.ReasonSessionNotFound {
		t.Errorf("answer = %d, diagnosis %q, body %s; want 404, %q", a.status, a.diagnosis, a.body, agentcore.ReasonSessionNotFound)
	}
}

// TestProtocol20260728PassesThrough calls tools with the Go SDK's default
// protocol (2026-07-28, no initialize, no session) through the proxy with
// recovery on: the Mcp-Method and Mcp-Name headers reach the upstream
// unchanged, and nothing is initialized.
func TestProtocol20260728PassesThrough(t *testing.T) {
	rig := startRig(t, true, nil)
	cs := connectGo(t, rig.url, "")
	if got := cs.InitializeResult().ProtocolVersion; got != "2026-07-28" {
		t.Fatalf("negotiated protocol %q, want 2026-07-28", got)
	}
	if err := add(t, cs, 20, 6); err != nil {
		t.Fatal(err)
	}
	var saw bool
	for _, inv := range rig.emu.Invocations() {
		if inv.Header.Get("Mcp-Method") == "tools/call" {
			saw = true
			if got := inv.Header.Get("Mcp-Name"); got != "add_numbers" {
				t.Errorf("Mcp-Name upstream = %q, want add_numbers", got)
			}
			if got := inv.Header.Get("Mcp-Protocol-Version"); got != "2026-07-28" {
				t.Errorf("Mcp-Protocol-Version upstream = %q, want 2026-07-28", got)
			}
		}
	}
	if !saw {
		t.Error("no tools/call with an Mcp-Method header reached the emulator")
	}
	if n := rig.emu.Stats().Initializes; n != 0 {
		t.Errorf("the emulator saw %d initializes, want 0", n)
	}
	// AgentCore (and the emulator) return an Mcp-Session-Id all the same,
	// which the Go SDK client adopts: when its microVM ends, the proxy sends
	// the request again without the id, and no initialize.
	sid := cs.ID()
	rig.emu.EndSessions()
	for i := range 3 {
		if err := add(t, cs, float64(i), 1); err != nil {
			t.Fatalf("2026-07-28 call %d after EndSessions: %v", i, err)
		}
	}
	if cs.ID() != sid {
		t.Errorf("session id changed from %q to %q", sid, cs.ID())
	}
	if n := rig.emu.Stats().Initializes; n != 0 {
		t.Errorf("the emulator saw %d initializes, want 0", n)
	}
	if got := rig.recoveries(); !slices.Equal(got, []string{proxy.RecoveryRecovered}) {
		t.Errorf("OnRecovery calls = %q, want [recovered]", got)
	}
}

// TestMCPHeadersPassThrough sends a 2026-07-28 request with Mcp-Method,
// Mcp-Name and Mcp-Param-* headers and no session: they reach the upstream
// unchanged.
func TestMCPHeadersPassThrough(t *testing.T) {
	rig := startRig(t, true, nil)
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, rig.url, bytes.NewReader([]byte(
		`{"jsonrpc":"2.0","id":"g","method":"tools/call","params":{"name":"greet_user","arguments":{"name":"Ada"},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/clientInfo":{"name":"raw","version":"1"}}}}`)))
	want := http.Header{
		"Mcp-Protocol-Version": {"2026-07-28"},
		"Mcp-Method":           {"tools/call"},
		"Mcp-Name":             {"greet_user"},
		"Mcp-Param-Region":     {"eu-west-1"},
	}
	for k, v := range want {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte("Hello, Ada!")) {
		t.Fatalf("answer = %d %s, want 200 with the greeting", resp.StatusCode, body)
	}
	invs := rig.emu.Invocations()
	if len(invs) != 1 {
		t.Fatalf("the emulator saw %d invocations, want 1", len(invs))
	}
	for k, v := range want {
		if got := invs[0].Header.Values(k); !slices.Equal(got, v) {
			t.Errorf("upstream %s = %q, want %q", k, got, v)
		}
	}
	if got := invs[0].Header.Get("Mcp-Session-Id"); got != "" {
		t.Errorf("upstream Mcp-Session-Id = %q, want none", got)
	}
	if got := rig.recoveries(); len(got) != 0 {
		t.Errorf("OnRecovery calls = %q, want none", got)
	}
}
