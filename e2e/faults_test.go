package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/agentcore-proxy/agentcore-proxy/agentcore"
	"github.com/agentcore-proxy/agentcore-proxy/internal/emulator"
	"github.com/agentcore-proxy/agentcore-proxy/proxy"
)

// faultMode is what a faultServer does to the requests it receives.
type faultMode int

const (
	passThrough   faultMode = iota // forward to the real endpoint
	fail500                        // answer 500
	hang                           // accept and never answer (until the mode changes)
	invalidClient                  // answer 400 {"error":"invalid_client"}
	refuse                         // stop listening: connections are refused
)

func (m faultMode) String() string {
	return [...]string{"pass through", "500", "hang", "invalid_client", "connection refused"}[m]
}

// faultServer is a controllable reverse proxy in front of one fixed URL (the
// emulator's token endpoint or key set), for faults the emulator has no
// lever for: an endpoint that fails, hangs or is not there at all.
type faultServer struct {
	addr   string
	target *url.URL
	rp     *httputil.ReverseProxy

	mu      sync.Mutex
	mode    faultMode
	changed chan struct{} // closed at the next mode change: releases held requests
	srv     *http.Server  // nil while refusing
	faulted int           // requests that met a fault
	served  int           // requests forwarded
	serving sync.WaitGroup
}

// newFaultServer starts a faultServer forwarding to target; it stops at the
// end of the test.
func newFaultServer(t *testing.T, target string) *faultServer {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &faultServer{addr: ln.Addr().String(), target: u, changed: make(chan struct{})}
	f.rp = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			out := *f.target
			pr.Out.URL = &out
			pr.Out.Host = ""
		},
		ErrorLog: log.New(io.Discard, "", 0),
	}
	f.serve(ln)
	t.Cleanup(func() {
		f.mu.Lock()
		srv := f.srv
		f.srv = nil
		f.mu.Unlock()
		if srv != nil {
			srv.Close()
		}
		f.serving.Wait()
	})
	return f
}

// URL returns the URL to give the proxy in place of the target's.
func (f *faultServer) URL() string { return "http://" + f.addr + f.target.Path }

func (f *faultServer) serve(ln net.Listener) {
	srv := &http.Server{Handler: f, ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
	f.mu.Lock()
	f.srv = srv
	f.mu.Unlock()
	f.serving.Go(func() { srv.Serve(ln) })
}

// set switches to mode m; requests held by hang are forwarded.
func (f *faultServer) set(t *testing.T, m faultMode) {
	t.Helper()
	f.mu.Lock()
	old := f.mode
	f.mode = m
	close(f.changed)
	f.changed = make(chan struct{})
	var stop *http.Server
	if m == refuse && old != refuse {
		stop, f.srv = f.srv, nil
	}
	f.mu.Unlock()
	if stop != nil {
		stop.Close()
	}
	if old == refuse && m != refuse {
		// Listen again on the same port: the proxy knows only this URL.
		var ln net.Listener
		var err error
		for range 100 {
			if ln, err = net.Listen("tcp", f.addr); err == nil {
				break
			}
			time.Sleep(10 * time.Millisecond) // retrying a bind, not synchronization
		}
		if err != nil {
			t.Fatalf("listening again on %s: %v", f.addr, err)
		}
		f.serve(ln)
	}
}

// counts returns how many requests met a fault and how many were forwarded.
func (f *faultServer) counts() (faulted, served int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.faulted, f.served
}

func (f *faultServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	mode, changed := f.mode, f.changed
	if mode == passThrough {
		f.served++
	} else {
		f.faulted++
	}
	f.mu.Unlock()
	switch mode {
	case fail500:
		http.Error(w, "internal server error", http.StatusInternalServerError)
	case invalidClient:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"error":"invalid_client"}`)
	case hang:
		select {
		case <-r.Context().Done():
		case <-changed:
			f.rp.ServeHTTP(w, r)
		}
	default:
		f.rp.ServeHTTP(w, r)
	}
}

// parseReply extracts the JSON-RPC reply from a JSON body or from the SSE
// event that holds the response, as postRPC does.
func parseReply(contentType string, raw []byte) (rpcReply, error) {
	var reply rpcReply
	payload := raw
	if strings.HasPrefix(contentType, "text/event-stream") {
		payload = nil
		sc := bufio.NewScanner(bytes.NewReader(raw))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok && strings.Contains(data, `"id"`) {
				payload = []byte(data)
			}
		}
	}
	if len(payload) == 0 {
		return reply, nil
	}
	if err := json.Unmarshal(payload, &reply); err != nil {
		return reply, fmt.Errorf("reply %.200q is not JSON-RPC: %w", raw, err)
	}
	return reply, nil
}

// doRPC is postRPC for goroutines other than the test's: it returns errors
// instead of failing the test.
func doRPC(ctx context.Context, client *http.Client, url, body string) (*http.Response, rpcReply, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return nil, rpcReply{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := client.Do(req)
	if err != nil {
		return nil, rpcReply{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp, rpcReply{}, err
	}
	reply, err := parseReply(resp.Header.Get("Content-Type"), raw)
	return resp, reply, err
}

// readiness is what /readyz said.
type readiness struct {
	status    int
	body      string
	expiresAt time.Time // the default route's token expiry
}

func readyz(t *testing.T, p *runningProxy) readiness {
	t.Helper()
	resp, err := http.Get(p.BaseURL + "/readyz")
	if err != nil {
		t.Fatalf("GET /readyz: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var doc struct {
		Routes map[string]struct {
			ExpiresAt time.Time `json:"token_expires_at"`
		} `json:"routes"`
	}
	json.Unmarshal(body, &doc)
	return readiness{status: resp.StatusCode, body: string(body), expiresAt: doc.Routes["default"].ExpiresAt}
}

// wantTokenFailure checks a request refused for want of a token: 503, the
// reason, a JSON-RPC error with the request's id that names the cause, and
// nothing sent to AgentCore.
func wantTokenFailure(t *testing.T, resp *http.Response, reply rpcReply, id int, reason, msg string) {
	t.Helper()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get(proxy.HeaderDiagnosis) != reason {
		t.Errorf("status %d, %s %q; want 503, %q", resp.StatusCode, proxy.HeaderDiagnosis, resp.Header.Get(proxy.HeaderDiagnosis), reason)
	}
	if reply.Error == nil || string(reply.ID) != fmt.Sprint(id) {
		t.Errorf("reply = %+v id=%s, want a JSON-RPC error with id %d", reply.Error, reply.ID, id)
	} else if !strings.Contains(strings.ToLower(reply.Error.Message), msg) {
		t.Errorf("error message %q, want it to name the cause (%q)", reply.Error.Message, msg)
	}
}

func TestFaultTokenEndpoint(t *testing.T) {
	const lifetime = 10 * time.Second
	tests := []struct {
		name       string
		mode       faultMode
		wantReason string        // X-Agentcore-Proxy-Diagnosis when no token is held
		wantMsg    string        // lower-case part of the JSON-RPC error message that names the cause
		coldWait   time.Duration // how long a cold request may wait for its 503
	}{
		{name: "500", mode: fail500, wantReason: agentcore.ReasonTokenEndpoint, wantMsg: "http 500", coldWait: 5 * time.Second},
		{name: "hangs", mode: hang, wantReason: agentcore.ReasonTokenEndpoint, wantMsg: "deadline exceeded", coldWait: 45 * time.Second},
		{name: "invalid_client", mode: invalidClient, wantReason: agentcore.ReasonTokenInvalidClient, wantMsg: "invalid_client", coldWait: 5 * time.Second},
		{name: "connection refused", mode: refuse, wantReason: agentcore.ReasonTokenEndpoint, wantMsg: "connection refused", coldWait: 5 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			t.Run("valid token cached", func(t *testing.T) {
				long(t, "keeps traffic going for most of a real 10 s token lifetime")
				emu := startEmulator(t, emulator.Config{TokenLifetime: lifetime})
				idp := newFaultServer(t, emu.TokenURL())
				p := startProxy(t, secretEnv, proxyFlags(emu, "--token-url", idp.URL())...)
				waitReady(t, p)
				rd := readyz(t, p)
				// The proxy may use a token until exp minus lifetime/10; stop a
				// little before that.
				until := rd.expiresAt.Add(-lifetime/10 - 150*time.Millisecond)
				idp.set(t, tt.mode)
				calls := 0
				for ; time.Now().Before(until) && calls < 1000; calls++ {
					resp, reply := postRPC(t, p.MCPURL(), addCall(calls), nil)
					wantSum(t, resp, reply, calls)
					if rd := readyz(t, p); rd.status != http.StatusOK {
						t.Errorf("/readyz during the outage with a valid token = %d %s, want 200", rd.status, rd.body)
					}
					time.Sleep(100 * time.Millisecond) // pacing: steady traffic, not synchronization
				}
				if calls == 0 {
					t.Fatalf("the token held (expiry %v) left no time for calls", rd.expiresAt)
				}
				if tt.mode != refuse {
					// The refresh ahead of expiry (80% of the lifetime) met the fault.
					if faulted, _ := idp.counts(); faulted == 0 {
						t.Errorf("the token endpoint saw no refresh during the outage; the test did not exercise it")
					}
				}
				t.Logf("%d calls succeeded during the outage with the cached token", calls)
				idp.set(t, passThrough)
				waitReady(t, p)
				resp, reply := postRPC(t, p.MCPURL(), addCall(10_000), nil)
				wantSum(t, resp, reply, 10_000)
			})
			t.Run("cold start", func(t *testing.T) {
				if tt.mode == hang {
					long(t, "waits out the 30 s bound on a token request")
				}
				emu := startEmulator(t, emulator.Config{})
				idp := newFaultServer(t, emu.TokenURL())
				idp.set(t, tt.mode)
				p := startProxy(t, secretEnv, proxyFlags(emu, "--token-url", idp.URL())...)
				start := time.Now()
				resp, reply := postRPC(t, p.MCPURL(), addCall(1), nil)
				took := time.Since(start)
				wantTokenFailure(t, resp, reply, 1, tt.wantReason, tt.wantMsg)
				if took > tt.coldWait {
					t.Errorf("the cold request waited %v for its 503, want at most %v", took, tt.coldWait)
				}
				t.Logf("cold request answered 503 %s after %v", resp.Header.Get(proxy.HeaderDiagnosis), took.Round(time.Millisecond))
				if rd := readyz(t, p); rd.status != http.StatusServiceUnavailable {
					t.Errorf("/readyz with no token = %d %s, want 503", rd.status, rd.body)
				}
				if n := len(emu.Invocations()); n != 0 {
					t.Errorf("AgentCore saw %d requests, want 0", n)
				}
				idp.set(t, passThrough)
				waitReady(t, p)
				resp, reply = postRPC(t, p.MCPURL(), addCall(2), nil)
				wantSum(t, resp, reply, 2)
			})
		})
	}
}

// jwksFault serves a discovery document that copies emu's but points
// jwks_uri at a faultServer in front of emu's key set.
func jwksFault(t *testing.T, emu *emulator.Emulator) (discoveryURL string, keys *faultServer) {
	t.Helper()
	resp, err := http.Get(emu.DiscoveryURL())
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	err = json.NewDecoder(resp.Body).Decode(&doc)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("discovery document: %v", err)
	}
	jwksURI, _ := doc["jwks_uri"].(string)
	if jwksURI == "" {
		t.Fatalf("discovery document %v has no jwks_uri", doc)
	}
	keys = newFaultServer(t, jwksURI)
	doc["jwks_uri"] = keys.URL()
	body, _ := json.Marshal(doc)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/.well-known/openid-configuration", keys
}

func TestFaultJWKSDownAtStart(t *testing.T) {
	tests := []struct {
		name string
		mode faultMode
	}{
		{name: "500", mode: fail500},
		{name: "connection refused", mode: refuse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			emu := startEmulator(t, emulator.Config{})
			discovery, keys := jwksFault(t, emu)
			keys.set(t, tt.mode)
			p := startProxy(t, secretEnv, proxyFlags(emu, "--discovery-url", discovery)...)
			// Not ready, and the reason names the key set (polled: at first
			// there is just "no valid access token yet").
			var rd readiness
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
				if rd = readyz(t, p); strings.Contains(rd.body, "key set") {
					break
				}
			}
			if rd.status != http.StatusServiceUnavailable || !strings.Contains(rd.body, "key set") {
				t.Errorf("/readyz with the key set down = %d %s, want 503 with a reason naming the key set", rd.status, rd.body)
			}
			resp, reply := postRPC(t, p.MCPURL(), addCall(1), nil)
			wantTokenFailure(t, resp, reply, 1, agentcore.ReasonJWKSUnavailable, "key set")
			if n := len(emu.Invocations()); n != 0 {
				t.Errorf("AgentCore saw %d requests, want 0", n)
			}
			keys.set(t, passThrough)
			waitReady(t, p)
			resp, reply = postRPC(t, p.MCPURL(), addCall(2), nil)
			wantSum(t, resp, reply, 2)
		})
	}
}

func TestFaultJWKSDownAfterStart(t *testing.T) {
	long(t, "keeps traffic going through a 7 s key-set outage")
	const lifetime, outage = 3 * time.Second, 7 * time.Second
	emu := startEmulator(t, emulator.Config{TokenLifetime: lifetime})
	discovery, keys := jwksFault(t, emu)
	p := startProxy(t, secretEnv, proxyFlags(emu, "--discovery-url", discovery)...)
	waitReady(t, p)
	resp, reply := postRPC(t, p.MCPURL(), addCall(0), nil)
	wantSum(t, resp, reply, 0)

	keys.set(t, fail500)
	before := emu.Stats()
	calls := 0
	for deadline := time.Now().Add(outage); time.Now().Before(deadline) && calls < 1000; calls++ {
		resp, reply := postRPC(t, p.MCPURL(), addCall(calls+1), nil)
		wantSum(t, resp, reply, calls+1)
		if rd := readyz(t, p); rd.status != http.StatusOK {
			t.Errorf("/readyz with the key set down after start = %d %s, want 200 (the cached keys still verify)", rd.status, rd.body)
		}
		time.Sleep(50 * time.Millisecond) // pacing: steady traffic, not synchronization
	}
	after := emu.Stats()
	// New tokens, signed with the known kid, were fetched and accepted
	// during the outage: the cached keys verified them.
	if issued := after.TokensIssued - before.TokensIssued; issued < 2 {
		t.Errorf("tokens issued during the %v outage = %d, want at least 2 (refreshes of %v tokens)", outage, issued, lifetime)
	}
	for reason, n := range after.Rejections {
		if n != 0 {
			t.Errorf("AgentCore rejected %d requests (%s), want 0", n, reason)
		}
	}
	faulted, _ := keys.counts()
	t.Logf("%d calls, %d new tokens during a %v key-set outage; the key set was asked %d times", calls, after.TokensIssued-before.TokensIssued, outage, faulted)
}

// Bodies of the MCP methods the upstream-fault rows send.
const (
	toolsListBody  = `{"jsonrpc":"2.0","id":7,"method":"tools/list"}`
	pingBody       = `{"jsonrpc":"2.0","id":7,"method":"ping"}`
	initializeBody = `{"jsonrpc":"2.0","id":7,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"fault-test","version":"1"}}}`
)

func TestFaultUpstreamStatus(t *testing.T) {
	conflict := emulator.Fault{Status: 409, ErrorType: "RetryableConflictException", Message: "Session operation in progress, please retry"}
	throttled := emulator.Fault{Status: 429, ErrorType: "ThrottlingException", Message: "Rate exceeded"}
	internal := emulator.Fault{Status: 500, ErrorType: "InternalServerException", Message: "Internal server error"}
	badGateway := emulator.Fault{Status: 502, Message: "Bad Gateway"}
	rotate := func(emu *emulator.Emulator) {
		// The pool rotates its key and retires the old one: the cached
		// token now fails AgentCore's signature check.
		emu.RotateKey()
		emu.RetireOldKeys()
	}
	inject := func(f emulator.Fault, n int) func(*emulator.Emulator) {
		return func(emu *emulator.Emulator) { emu.InjectFault(f, n) }
	}
	tests := []struct {
		name       string
		flags      []string
		setup      func(emu *emulator.Emulator)
		body       string
		wantStatus int
		wantResult string // with 200: part of the JSON-RPC result
		wantReason string // otherwise: X-Agentcore-Proxy-Diagnosis
		// Requests AgentCore sees for the one client request.
		minUpstream, maxUpstream int
		wantTokenRequests        int // new token requests
	}{
		{name: "401 retried once with a fresh token", setup: rotate, body: addCall(7),
			wantStatus: 200, wantResult: `"text":"8"`, minUpstream: 2, maxUpstream: 2, wantTokenRequests: 1},
		// Safe methods are retried with backoff.
		{name: "409 on tools/list retried", setup: inject(conflict, 2), body: toolsListBody,
			wantStatus: 200, wantResult: "add_numbers", minUpstream: 3, maxUpstream: 3},
		{name: "429 on tools/list retried", setup: inject(throttled, 2), body: toolsListBody,
			wantStatus: 200, wantResult: "add_numbers", minUpstream: 3, maxUpstream: 3},
		{name: "429 on initialize retried", setup: inject(throttled, 1), body: initializeBody,
			wantStatus: 200, wantResult: "serverInfo", minUpstream: 2, maxUpstream: 2},
		{name: "409 on ping retried", setup: inject(conflict, 1), body: pingBody,
			wantStatus: 200, wantResult: "{}", minUpstream: 2, maxUpstream: 2},
		{name: "429 on tools/list that persists: retries are bounded", setup: inject(throttled, 50), body: toolsListBody,
			wantStatus: 429, wantReason: agentcore.ReasonThrottled, minUpstream: 2, maxUpstream: 6},
		// tools/call is not retried: the tool may have side effects.
		{name: "409 on tools/call not retried", setup: inject(conflict, 1), body: addCall(7),
			wantStatus: 409, wantReason: agentcore.ReasonSessionConflict, minUpstream: 1, maxUpstream: 1},
		{name: "429 on tools/call not retried", setup: inject(throttled, 1), body: addCall(7),
			wantStatus: 429, wantReason: agentcore.ReasonThrottled, minUpstream: 1, maxUpstream: 1},
		// Unless asked to.
		{name: "429 on tools/call retried with --retry-tool-calls", flags: []string{"--retry-tool-calls"}, setup: inject(throttled, 2), body: addCall(7),
			wantStatus: 200, wantResult: `"text":"8"`, minUpstream: 3, maxUpstream: 3},
		{name: "409 on tools/call retried with --retry-tool-calls", flags: []string{"--retry-tool-calls"}, setup: inject(conflict, 1), body: addCall(7),
			wantStatus: 200, wantResult: `"text":"8"`, minUpstream: 2, maxUpstream: 2},
		// 5xx is passed on: AgentCore may have run the request.
		{name: "500 on tools/list passed on", setup: inject(internal, 1), body: toolsListBody,
			wantStatus: 500, wantReason: agentcore.ReasonUpstreamError, minUpstream: 1, maxUpstream: 1},
		{name: "500 on tools/call passed on", setup: inject(internal, 1), body: addCall(7),
			wantStatus: 500, wantReason: agentcore.ReasonUpstreamError, minUpstream: 1, maxUpstream: 1},
		{name: "502 on tools/list passed on", setup: inject(badGateway, 1), body: toolsListBody,
			wantStatus: 502, wantReason: agentcore.ReasonUpstreamError, minUpstream: 1, maxUpstream: 1},
		{name: "502 on tools/call passed on", setup: inject(badGateway, 1), body: addCall(7),
			wantStatus: 502, wantReason: agentcore.ReasonUpstreamError, minUpstream: 1, maxUpstream: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			emu := startEmulator(t, emulator.Config{})
			p := startProxy(t, secretEnv, proxyFlags(emu, tt.flags...)...)
			waitReady(t, p)
			tt.setup(emu)
			before, sent := emu.Stats(), len(emu.Invocations())
			start := time.Now()
			resp, reply := postRPC(t, p.MCPURL(), tt.body, nil)
			took := time.Since(start)
			upstream := len(emu.Invocations()) - sent
			tokens := emu.Stats().TokenRequests - before.TokenRequests

			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status %d (%s %q), want %d", resp.StatusCode, proxy.HeaderDiagnosis, resp.Header.Get(proxy.HeaderDiagnosis), tt.wantStatus)
			}
			if string(reply.ID) != "7" {
				t.Errorf("reply id = %s, want 7", reply.ID)
			}
			if tt.wantStatus == http.StatusOK {
				if reply.Error != nil || !strings.Contains(string(reply.Result), tt.wantResult) {
					t.Errorf("reply = %s %+v, want a result with %q", reply.Result, reply.Error, tt.wantResult)
				}
			} else {
				if got := resp.Header.Get(proxy.HeaderDiagnosis); got != tt.wantReason {
					t.Errorf("%s = %q, want %q", proxy.HeaderDiagnosis, got, tt.wantReason)
				}
				if reply.Error == nil {
					t.Errorf("reply has no JSON-RPC error, want the explanation")
				}
			}
			if upstream < tt.minUpstream || upstream > tt.maxUpstream {
				t.Errorf("AgentCore saw %d requests, want %d to %d", upstream, tt.minUpstream, tt.maxUpstream)
			}
			if tokens != tt.wantTokenRequests {
				t.Errorf("new token requests = %d, want %d", tokens, tt.wantTokenRequests)
			}
			t.Logf("answered %d after %d upstream requests in %v", resp.StatusCode, upstream, took.Round(time.Millisecond))
		})
	}
}

// sseEvent writes one SSE event carrying a progress notification and
// flushes it.
func sseEvent(w http.ResponseWriter, i int) error {
	fmt.Fprintf(w, "event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{\"progressToken\":1,\"progress\":%d}}\n\n", i)
	return http.NewResponseController(w).Flush()
}

// openStream POSTs a tools/call that the upstream answers with a stream.
func openStream(ctx context.Context, client *http.Client, url string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url,
		strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"slow","_meta":{"progressToken":1}}}`))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		resp.Body.Close()
		return nil, fmt.Errorf("stream answered %d %q, want 200 text/event-stream", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return resp, nil
}

func TestFaultConnectionResetMidStream(t *testing.T) {
	var requests atomic.Int32
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if requests.Add(1) > 1 {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"jsonrpc":"2.0","id":2,"result":{"tools":[]}}`)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		for i := range 2 {
			if sseEvent(w, i) != nil {
				return
			}
		}
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("Hijack: %v", err)
			return
		}
		conn.Close() // no final chunk: the stream is cut
	}))
	t.Cleanup(upstream.Close)
	p := startProxy(t, nil, "serve", "--listen", "127.0.0.1:0", "--log-format", "json", "--upstream-url", upstream.URL+"/mcp")

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	resp, err := openStream(ctx, http.DefaultClient, p.MCPURL())
	if err != nil {
		t.Fatal(err)
	}
	rd := bufio.NewReader(resp.Body)
	for i := range 2 {
		line, err := readDataLine(rd)
		if err != nil || !strings.Contains(line, fmt.Sprintf(`"progress":%d}`, i)) {
			t.Fatalf("event %d = %q, %v; want progress %d", i, line, err, i)
		}
	}
	start := time.Now()
	line, err := readDataLine(rd)
	resp.Body.Close()
	if err == nil {
		t.Errorf("after the reset the client read %q, want the stream to end", line)
	}
	if ctx.Err() != nil {
		t.Errorf("the stream did not end within 10s of the upstream's reset (hang)")
	}
	t.Logf("stream ended %v after the upstream reset: %v", time.Since(start).Round(time.Millisecond), err)

	if resp, err := http.Get(p.BaseURL + "/healthz"); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("/healthz after the reset = %v, %v; want 200", resp, err)
	} else {
		resp.Body.Close()
	}
	resp2, reply := postRPC(t, p.MCPURL(), `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`, nil)
	if resp2.StatusCode != http.StatusOK || reply.Error != nil || string(reply.ID) != "2" {
		t.Errorf("next request = %d %+v id=%s, want 200 with id 2", resp2.StatusCode, reply.Error, reply.ID)
	}
}

// heldUpstream accepts requests and never answers; it reports when each
// request's context is cancelled.
func heldUpstream(t *testing.T) (url string, arrived, cancelled chan time.Time) {
	arrived, cancelled = make(chan time.Time, 10), make(chan time.Time, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		// Read the body: until it is read, the server does not watch the
		// connection and would not notice the proxy closing it.
		io.Copy(io.Discard, r.Body)
		arrived <- time.Now()
		<-r.Context().Done()
		cancelled <- time.Now()
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/mcp", arrived, cancelled
}

// within waits for a time on c for at most d.
func within(c <-chan time.Time, d time.Duration) (time.Time, bool) {
	select {
	case at := <-c:
		return at, true
	case <-time.After(d):
		return time.Time{}, false
	}
}

func TestFaultHeadersNeverCome(t *testing.T) {
	t.Run("with --upstream-response-header-timeout", func(t *testing.T) {
		// NEW flag.
		url, arrived, cancelled := heldUpstream(t)
		p := startProxy(t, nil, "serve", "--listen", "127.0.0.1:0", "--log-format", "json", "--upstream-url", url,
			"--upstream-response-header-timeout", "1s")
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		start := time.Now()
		resp, reply, err := doRPC(ctx, http.DefaultClient, p.MCPURL(), `{"jsonrpc":"2.0","id":3,"method":"tools/list"}`)
		took := time.Since(start)
		if err != nil {
			t.Fatalf("POST: %v after %v; want a 504 after about 1s", err, took)
		}
		if resp.StatusCode != http.StatusGatewayTimeout || reply.Error == nil || string(reply.ID) != "3" {
			t.Errorf("held upstream = %d %+v id=%s, want 504 with a JSON-RPC error, id 3", resp.StatusCode, reply.Error, reply.ID)
		}
		if took < 900*time.Millisecond || took > 5*time.Second {
			t.Errorf("504 after %v, want after about 1s (at most 5s)", took)
		}
		if _, ok := within(arrived, time.Second); !ok {
			t.Errorf("the upstream never saw the request")
		}
		if _, ok := within(cancelled, 5*time.Second); !ok {
			t.Errorf("the upstream request was not cancelled after the 504")
		}
		t.Logf("504 after %v", took.Round(time.Millisecond))
	})
	t.Run("client gives up", func(t *testing.T) {
		url, arrived, cancelled := heldUpstream(t)
		p := startProxy(t, nil, "serve", "--listen", "127.0.0.1:0", "--log-format", "json", "--upstream-url", url)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		errc := make(chan error, 1)
		go func() {
			_, _, err := doRPC(ctx, http.DefaultClient, p.MCPURL(), `{"jsonrpc":"2.0","id":4,"method":"tools/list"}`)
			errc <- err
		}()
		if _, ok := within(arrived, 5*time.Second); !ok {
			t.Fatalf("the upstream never saw the request")
		}
		cancelAt := time.Now()
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Errorf("client request = %v, want context.Canceled", err)
		}
		at, ok := within(cancelled, 5*time.Second)
		if !ok {
			t.Fatalf("the upstream request was not cancelled within 5s of the client giving up")
		}
		t.Logf("client cancel to upstream cancel (no response headers yet): %v", at.Sub(cancelAt))
	})
}

func TestFaultClientAbortMidStream(t *testing.T) {
	const interval = 50 * time.Millisecond
	cancelled := make(chan time.Time, 4)
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // so that the server watches the connection
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		tick := time.NewTicker(interval)
		defer tick.Stop()
	events:
		for i := range 400 { // 20 s at most
			if sseEvent(w, i) != nil {
				break
			}
			select {
			case <-tick.C:
			case <-r.Context().Done():
				break events
			}
		}
		<-r.Context().Done()
		select {
		case cancelled <- time.Now():
		default:
		}
	}))
	t.Cleanup(upstream.Close)
	p := startProxy(t, nil, "serve", "--listen", "127.0.0.1:0", "--log-format", "json", "--upstream-url", upstream.URL+"/mcp")

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	resp, err := openStream(ctx, http.DefaultClient, p.MCPURL())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	rd := bufio.NewReader(resp.Body)
	for i := range 3 {
		if _, err := readDataLine(rd); err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
	}
	cancelAt := time.Now()
	cancel()
	at, ok := within(cancelled, 5*time.Second)
	if !ok {
		t.Fatalf("the upstream did not see its request cancelled within 5s of the client's abort")
	}
	t.Logf("client cancel mid-stream to upstream request context cancelled: %v", at.Sub(cancelAt))

	// The proxy is unharmed: the next stream works.
	ctx2, cancel2 := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel2()
	resp2, err := openStream(ctx2, http.DefaultClient, p.MCPURL())
	if err != nil {
		t.Fatalf("next stream after the abort: %v", err)
	}
	defer resp2.Body.Close()
	if line, err := readDataLine(bufio.NewReader(resp2.Body)); err != nil || !strings.Contains(line, `"progress":0}`) {
		t.Errorf("next stream's first event = %q, %v; want progress 0", line, err)
	}
}

var probesLine = regexp.MustCompile(`metrics and probes on http://(\S+) `)

var listeningLine = regexp.MustCompile(`listening on http://(\S+)`)

func TestFaultSIGTERMDrain(t *testing.T) {
	const streams, interval = 10, 100 * time.Millisecond
	tests := []struct {
		name   string
		events int           // events per stream, one per interval
		drain  time.Duration // --drain-timeout
		cut    bool          // the streams outlast the drain timeout and are cut
	}{
		{name: "streams end within the drain timeout", events: 20, drain: 3 * time.Second},
		{name: "streams outlast the drain timeout", events: 100, drain: time.Second, cut: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body) // so that the server watches the connection
				w.Header().Set("Content-Type", "text/event-stream")
				w.WriteHeader(http.StatusOK)
				tick := time.NewTicker(interval)
				defer tick.Stop()
				for i := range tt.events {
					if sseEvent(w, i) != nil {
						return
					}
					select {
					case <-tick.C:
					case <-r.Context().Done():
						return
					}
				}
				fmt.Fprint(w, "event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n\n")
			}))
			t.Cleanup(upstream.Close)

			cmd := exec.Command(binary(t), "serve", "--listen", "127.0.0.1:0", "--upstream-url", upstream.URL+"/mcp",
				"--metrics-listen", "127.0.0.1:0", "--drain-timeout", tt.drain.String(), "--log-format", "json")
			cmd.Env = []string{}
			var stderr syncBuffer
			cmd.Stderr = &stderr
			pr, pw := io.Pipe()
			cmd.Stdout = pw
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			addrc, probec := make(chan string, 1), make(chan string, 1)
			go func() {
				sc := bufio.NewScanner(pr)
				for sc.Scan() {
					if m := listeningLine.FindStringSubmatch(sc.Text()); m != nil {
						select {
						case addrc <- m[1]:
						default:
						}
					}
					if m := probesLine.FindStringSubmatch(sc.Text()); m != nil {
						probec <- m[1]
					}
				}
				io.Copy(io.Discard, pr)
			}()
			exited := make(chan error, 1)
			var exitAt time.Time
			go func() {
				err := cmd.Wait()
				exitAt = time.Now()
				pw.Close()
				exited <- err
			}()
			t.Cleanup(func() { cmd.Process.Kill() }) // a no-op once it has exited
			var addr string
			select {
			case addr = <-addrc:
			case err := <-exited:
				t.Fatalf("the proxy exited before listening: %v\n%s", err, stderr.String())
			case <-time.After(30 * time.Second):
				t.Fatalf("the proxy did not listen within 30s\n%s", stderr.String())
			}
			base := "http://" + addr
			var probes string
			select {
			case probes = <-probec:
			case <-time.After(10 * time.Second):
				t.Fatalf("no probes line on stdout")
			}

			// Open the streams and wait until each has its first event.
			type result struct {
				events int
				err    error // what ended the stream: io.EOF for a clean end
				endAt  time.Time
			}
			results := make(chan result, streams)
			started := make(chan struct{}, streams)
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: streams}}
			defer client.CloseIdleConnections()
			var wg sync.WaitGroup
			for range streams {
				wg.Go(func() {
					resp, err := openStream(ctx, client, base+"/mcp")
					if err != nil {
						started <- struct{}{}
						results <- result{err: err, endAt: time.Now()}
						return
					}
					defer resp.Body.Close()
					rd := bufio.NewReader(resp.Body)
					var r result
					for {
						line, err := readDataLine(rd)
						if err != nil {
							r.err, r.endAt = err, time.Now()
							break
						}
						if strings.Contains(line, "notifications/progress") {
							if r.events++; r.events == 1 {
								started <- struct{}{}
							}
						}
					}
					results <- r
				})
			}
			for i := range streams {
				select {
				case <-started:
				case <-time.After(10 * time.Second):
					t.Fatalf("%d of %d streams started within 10s", i, streams)
				}
			}

			sigAt := time.Now()
			if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			// (a) /readyz on the probe listener answers 503 at once; (b) the
			// main listener refuses new connections, while the streams run.
			noKeepAlive := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: time.Second}
			var notReadyAt, refusedAt time.Time
			for deadline := sigAt.Add(tt.drain + 2*time.Second); time.Now().Before(deadline) && (refusedAt.IsZero() || notReadyAt.IsZero()); time.Sleep(10 * time.Millisecond) {
				if notReadyAt.IsZero() {
					if resp, err := noKeepAlive.Get("http://" + probes + "/readyz"); err == nil {
						resp.Body.Close()
						if resp.StatusCode == http.StatusServiceUnavailable {
							notReadyAt = time.Now()
						}
					}
				}
				if refusedAt.IsZero() {
					resp, err := noKeepAlive.Get(base + "/healthz")
					switch {
					case err != nil && errors.Is(err, syscall.ECONNREFUSED):
						refusedAt = time.Now()
					case err != nil:
						t.Logf("GET /healthz after SIGTERM: %v", err)
					default:
						resp.Body.Close()
					}
				}
			}
			wg.Wait()
			close(results)
			var err error
			select {
			case err = <-exited:
			case <-time.After(tt.drain + 5*time.Second):
				t.Fatalf("the proxy did not exit within %v of SIGTERM\n%s", tt.drain+5*time.Second, stderr.String())
			}
			drained := exitAt.Sub(sigAt)
			t.Logf("SIGTERM to exit: %v (--drain-timeout %v)", drained.Round(time.Millisecond), tt.drain)

			if notReadyAt.IsZero() {
				t.Errorf("(a) /readyz never answered 503 after SIGTERM (refused from %v after the signal): a readiness probe cannot see the drain", refusedAt.Sub(sigAt))
			} else {
				t.Logf("(a) /readyz 503 %v after SIGTERM", notReadyAt.Sub(sigAt).Round(time.Millisecond))
			}
			var firstEnd time.Time
			n := 0
			for r := range results {
				n++
				if firstEnd.IsZero() || r.endAt.Before(firstEnd) {
					firstEnd = r.endAt
				}
				switch {
				case !tt.cut && (r.events != tt.events || r.err != io.EOF):
					t.Errorf("(c) a stream got %d events and ended with %v, want all %d and a clean end", r.events, r.err, tt.events)
				case tt.cut && (r.events >= tt.events || r.endAt.Before(sigAt.Add(tt.drain-200*time.Millisecond))):
					t.Errorf("stream got %d events and ended %v after SIGTERM, want it cut at the drain timeout (%v)", r.events, r.endAt.Sub(sigAt), tt.drain)
				}
			}
			if n != streams {
				t.Errorf("%d streams reported, want %d", n, streams)
			}
			if refusedAt.IsZero() || !refusedAt.Before(firstEnd) {
				t.Errorf("(b) new connections were not refused while the streams ran (refused %v after SIGTERM, first stream ended %v after)",
					refusedAt.Sub(sigAt), firstEnd.Sub(sigAt))
			}
			if err != nil {
				t.Errorf("(d) exit: %v, want status 0\n%s", err, stderr.String())
			}
			if limit := tt.drain + 2*time.Second; drained > limit {
				t.Errorf("exited %v after SIGTERM, want within %v", drained, limit)
			}
		})
	}
}

// rpcOfSize returns a tools/call request of exactly n bytes.
func rpcOfSize(n int) string {
	const head, tail = `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"upload","arguments":{"data":"`, `"}}}`
	return head + strings.Repeat("a", n-len(head)-len(tail)) + tail
}

func TestFaultBodySize(t *testing.T) {
	const limit = 1 << 20
	tests := []struct {
		name       string
		flags      []string
		size       int
		chunked    bool // sent without Content-Length, so the proxy learns the size only while streaming it
		wantStatus int
		wantMsg    string // with an error: part of the JSON-RPC message
	}{
		{name: "5 MB under the default limit", size: 5_000_000, wantStatus: http.StatusOK},
		// NEW flag.
		{name: "at --max-body-bytes", flags: []string{"--max-body-bytes", fmt.Sprint(limit)}, size: limit, wantStatus: http.StatusOK},
		{name: "one byte over --max-body-bytes", flags: []string{"--max-body-bytes", fmt.Sprint(limit)}, size: limit + 1,
			wantStatus: http.StatusRequestEntityTooLarge, wantMsg: "--max-body-bytes"},
		{name: "one byte over --max-body-bytes, chunked", flags: []string{"--max-body-bytes", fmt.Sprint(limit)}, size: limit + 1, chunked: true,
			wantStatus: http.StatusRequestEntityTooLarge, wantMsg: "--max-body-bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var seen []int64 // body bytes of each request the upstream got
			upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n, _ := io.Copy(io.Discard, r.Body)
				mu.Lock()
				seen = append(seen, n)
				mu.Unlock()
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprintf(w, `{"jsonrpc":"2.0","id":1,"result":{"bytes":%d}}`, n)
			}))
			t.Cleanup(upstream.Close)
			args := append([]string{"serve", "--listen", "127.0.0.1:0", "--log-format", "json", "--upstream-url", upstream.URL + "/mcp"}, tt.flags...)
			p := startProxy(t, nil, args...)
			var body io.Reader = strings.NewReader(rpcOfSize(tt.size))
			if tt.chunked {
				body = io.MultiReader(body) // hides the length: Transfer-Encoding: chunked
			}
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, p.MCPURL(), body)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/json, text/event-stream")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("POST of %d bytes: %v", tt.size, err)
			}
			raw, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			reply, err := parseReply(resp.Header.Get("Content-Type"), raw)
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			got := append([]int64(nil), seen...)
			mu.Unlock()
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("POST of %d bytes = %d, want %d", tt.size, resp.StatusCode, tt.wantStatus)
			}
			if tt.wantStatus == http.StatusOK {
				if want := fmt.Sprintf(`{"bytes":%d}`, tt.size); reply.Error != nil || string(reply.Result) != want {
					t.Errorf("reply = %s %+v, want result %s", reply.Result, reply.Error, want)
				}
				if len(got) != 1 || got[0] != int64(tt.size) {
					t.Errorf("upstream got bodies of %v bytes, want one of %d", got, tt.size)
				}
				return
			}
			if reply.Error == nil || string(reply.ID) != "1" || !strings.Contains(reply.Error.Message, tt.wantMsg) {
				t.Errorf("reply = %+v id=%s, want a JSON-RPC error with id 1 naming %s", reply.Error, reply.ID, tt.wantMsg)
			}
			t.Logf("the upstream saw %d requests for the refused body (bytes each: %v)", len(got), got)
		})
	}
}

func TestFaultConcurrentColdStart(t *testing.T) {
	long(t, "opens 1000 concurrent connections (TestHundredConcurrentCallsOnColdProxy covers the rule with 100)")
	const n = 1000
	emu := startEmulator(t, emulator.Config{})
	p := startProxy(t, secretEnv, proxyFlags(emu)...)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n}, Timeout: 60 * time.Second}
	defer client.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	gate := make(chan struct{})
	failures := make(chan string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-gate
			resp, reply, err := doRPC(ctx, client, p.MCPURL(), addCall(i))
			switch {
			case err != nil:
				failures <- fmt.Sprintf("call %d: %v", i, err)
			case resp.StatusCode != http.StatusOK || reply.Error != nil || !strings.Contains(string(reply.Result), fmt.Sprintf(`"text":"%d"`, i+1)):
				failures <- fmt.Sprintf("call %d = %d %s %+v, want 200 with %d", i, resp.StatusCode, reply.Result, reply.Error, i+1)
			}
		})
	}
	start := time.Now()
	close(gate)
	wg.Wait()
	took := time.Since(start)
	close(failures)
	bad := 0
	for f := range failures {
		if bad++; bad <= 5 {
			t.Error(f)
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d calls failed", bad, n)
	}
	st := emu.Stats()
	if st.TokenRequests != 1 || st.Invocations != n {
		t.Errorf("token requests = %d, invocations = %d; want 1 and %d", st.TokenRequests, st.Invocations, n)
	}
	t.Logf("%d concurrent calls on a cold proxy in %v: %d token request(s)", n, took.Round(time.Millisecond), st.TokenRequests)
}
