package e2e

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentcore-proxy/agentcore-proxy/agentcore"
	"github.com/agentcore-proxy/agentcore-proxy/internal/emulator"
	"github.com/agentcore-proxy/agentcore-proxy/proxy"
)

var secretEnv = map[string]string{"AGENTCORE_PROXY_CLIENT_SECRET": testClientSecret}

// rpcReply is a JSON-RPC response as a raw client sees it.
type rpcReply struct {
	ID     json.RawMessage `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// postRPC POSTs one JSON-RPC request as an MCP client would and returns the
// response and the JSON-RPC reply it carries (from a JSON body or the SSE
// event that holds the response).
func postRPC(t *testing.T, url, body string, header http.Header) (*http.Response, rpcReply) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading reply: %v", err)
	}
	var reply rpcReply
	payload := raw
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		payload = nil
		sc := bufio.NewScanner(bytes.NewReader(raw))
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok && strings.Contains(data, `"id"`) {
				payload = []byte(data)
			}
		}
	}
	if len(payload) > 0 {
		if err := json.Unmarshal(payload, &reply); err != nil {
			t.Fatalf("reply %q (status %d) is not JSON-RPC: %v", raw, resp.StatusCode, err)
		}
	}
	return resp, reply
}

func addCall(id int) string {
	return fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"add_numbers","arguments":{"a":%d,"b":1}}}`, id, id)
}

// wantSum checks that reply is add_numbers' result id+1.
func wantSum(t *testing.T, resp *http.Response, reply rpcReply, id int) {
	t.Helper()
	if resp.StatusCode != http.StatusOK || reply.Error != nil || !strings.Contains(string(reply.Result), fmt.Sprintf(`"text":"%d"`, id+1)) {
		t.Errorf("tools/call add_numbers(%d,1) = %d %s %+v, want 200 with %d", id, resp.StatusCode, reply.Result, reply.Error, id+1)
	}
}

func TestFiftyCallsOneTokenRequest(t *testing.T) {
	emu := startEmulator(t, emulator.Config{})
	p := startProxy(t, secretEnv, proxyFlags(emu)...)
	for i := range 50 {
		resp, reply := postRPC(t, p.MCPURL(), addCall(i), nil)
		wantSum(t, resp, reply, i)
	}
	st := emu.Stats()
	if st.TokenRequests != 1 || st.Invocations != 50 {
		t.Errorf("after 50 calls: token requests = %d, invocations = %d; want 1 and 50", st.TokenRequests, st.Invocations)
	}
	t.Logf("token requests per 50 calls: %d", st.TokenRequests)
}

func TestHundredConcurrentCallsOnColdProxy(t *testing.T) {
	emu := startEmulator(t, emulator.Config{})
	p := startProxy(t, secretEnv, proxyFlags(emu)...)
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Go(func() {
			resp, reply := postRPC(t, p.MCPURL(), addCall(i), nil)
			wantSum(t, resp, reply, i)
		})
	}
	wg.Wait()
	st := emu.Stats()
	if st.TokenRequests != 1 || st.Invocations != 100 {
		t.Errorf("after 100 concurrent calls: token requests = %d, invocations = %d; want 1 and 100", st.TokenRequests, st.Invocations)
	}
}

func TestShortLivedTokensUnderSteadyTraffic(t *testing.T) {
	long(t, "waits out 15 s of real 6 s token lifetimes")
	const lifetime, duration = 6 * time.Second, 15 * time.Second
	emu := startEmulator(t, emulator.Config{TokenLifetime: lifetime})
	p := startProxy(t, secretEnv, proxyFlags(emu)...)
	waitReady(t, p)
	var wg sync.WaitGroup
	var mu sync.Mutex
	calls := 0
	deadline := time.Now().Add(duration)
	for w := range 4 {
		wg.Go(func() {
			for i := 0; time.Now().Before(deadline); i++ {
				id := w*1_000_000 + i
				resp, reply := postRPC(t, p.MCPURL(), addCall(id), nil)
				wantSum(t, resp, reply, id)
				mu.Lock()
				calls++
				mu.Unlock()
				time.Sleep(20 * time.Millisecond) // pacing: steady traffic, not synchronization
			}
		})
	}
	wg.Wait()
	st := emu.Stats()
	// Every call passed on its first try: the 401 retry must not be what
	// keeps the calls green.
	for reason, n := range st.Rejections {
		if n != 0 {
			t.Errorf("AgentCore rejected %d requests (%s), want 0", n, reason)
		}
	}
	for _, inv := range emu.Invocations() {
		if !inv.TokenExpiry.After(inv.ReceivedAt) {
			t.Errorf("a request arrived at %v with a token that expired at %v", inv.ReceivedAt, inv.TokenExpiry)
		}
	}
	// 15 s of 6 s tokens refreshed at ~80%: at least 3 fetches.
	if st.TokenRequests < 3 || st.Invocations != calls {
		t.Errorf("token requests = %d, invocations = %d; want >= 3 and %d", st.TokenRequests, st.Invocations, calls)
	}
	t.Logf("%d calls over %v with %v tokens: %d token requests, 0 failures", calls, duration, lifetime, st.TokenRequests)
}

func TestInvocationPathAndQualifier(t *testing.T) {
	emu := startEmulator(t, emulator.Config{Qualifiers: []string{"DEFAULT", "prod_v2"}})
	const wantPath = "/runtimes/arn%3Aaws%3Abedrock-agentcore%3Aus-west-2%3A123456789012%3Aruntime%2Fdemo_mcp_server-EMUL8R0001/invocations"
	tests := []struct {
		name      string
		flags     []string
		wantQuery string
	}{
		{name: "default qualifier", wantQuery: "qualifier=DEFAULT"},
		{name: "named qualifier", flags: []string{"--qualifier", "prod_v2"}, wantQuery: "qualifier=prod_v2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(emu.Invocations())
			p := startProxy(t, secretEnv, proxyFlags(emu, tt.flags...)...)
			resp, reply := postRPC(t, p.MCPURL(), addCall(1), nil)
			wantSum(t, resp, reply, 1)
			invs := emu.Invocations()[before:]
			if len(invs) != 1 {
				t.Fatalf("AgentCore saw %d requests, want 1", len(invs))
			}
			if invs[0].RawPath != wantPath || invs[0].RawQuery != tt.wantQuery {
				t.Errorf("AgentCore saw %s?%s, want %s?%s", invs[0].RawPath, invs[0].RawQuery, wantPath, tt.wantQuery)
			}
		})
	}
}

func TestHeadersCrossingTheProxy(t *testing.T) {
	emu := startEmulator(t, emulator.Config{})
	p := startProxy(t, secretEnv, proxyFlags(emu)...)
	sent := http.Header{
		"Authorization":        {"Bearer client-supplied-token"},
		"Cookie":               {"session=abc"},
		"Traceparent":          {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
		"X-Amzn-Trace-Id":      {"Root=1-67891233-abcdef012345678912345678"},
		"Mcp-Session-Id":       {"client-session-1"},
		"Mcp-Protocol-Version": {"2025-06-18"},
		"X-Forwarded-For":      {"203.0.113.9"},
	}
	resp, reply := postRPC(t, p.MCPURL(), addCall(2), sent)
	wantSum(t, resp, reply, 2)
	invs := emu.Invocations()
	got := invs[len(invs)-1].Header
	checks := []struct{ header, want string }{
		{"Traceparent", sent.Get("Traceparent")},
		{"X-Amzn-Trace-Id", sent.Get("X-Amzn-Trace-Id")},
		{"Mcp-Session-Id", "client-session-1"},
		{"Mcp-Protocol-Version", "2025-06-18"},
		{"Cookie", ""},
		{"X-Forwarded-For", ""},
		{"Accept", "application/json, text/event-stream"},
	}
	for _, c := range checks {
		if g := got.Get(c.header); g != c.want {
			t.Errorf("upstream header %s = %q, want %q", c.header, g, c.want)
		}
	}
	if ua := got.Get("User-Agent"); !strings.HasPrefix(ua, "agentcore-proxy/") {
		t.Errorf("upstream User-Agent = %q, want agentcore-proxy/VERSION", ua)
	}
	// The emulator records "Bearer <fingerprint>": it must be the proxy's
	// token, not the one the client sent.
	if a := got.Get("Authorization"); a == "" || a == "Bearer "+fingerprint("client-supplied-token") {
		t.Errorf("upstream Authorization = %q, want the proxy's token", a)
	}
	for _, h := range []string{"Traceparent", "X-Amzn-Trace-Id", "Mcp-Session-Id"} {
		if resp.Header.Get(h) == "" {
			t.Errorf("response header %s missing, want it passed back", h)
		}
	}
}

func fingerprint(token string) string {
	// Same definition as tokencache.Fingerprint, recomputed here so the test
	// does not trust the code under test.
	return tokenFingerprintForTest(token)
}

func TestRuntimeSessionIDTooShort(t *testing.T) {
	emu := startEmulator(t, emulator.Config{})
	p := startProxy(t, secretEnv, proxyFlags(emu)...)
	resp, reply := postRPC(t, p.MCPURL(), addCall(3), http.Header{agentcore.HeaderRuntimeSessionID: {"too-short"}})
	if resp.StatusCode != http.StatusBadRequest || reply.Error == nil || string(reply.ID) != "3" ||
		!strings.Contains(reply.Error.Message, agentcore.HeaderRuntimeSessionID) || !strings.Contains(reply.Error.Message, "33") {
		t.Errorf("short runtime session id: %d %+v id=%s; want 400 naming the header and the 33-character minimum, with id 3", resp.StatusCode, reply.Error, reply.ID)
	}
	if got := resp.Header.Get(proxy.HeaderDiagnosis); got != agentcore.ReasonSessionIDInvalid {
		t.Errorf("%s = %q, want %q", proxy.HeaderDiagnosis, got, agentcore.ReasonSessionIDInvalid)
	}
	if n := len(emu.Invocations()); n != 0 {
		t.Errorf("AgentCore saw %d requests, want 0 (refused before sending)", n)
	}
	// 33 characters pass.
	resp, reply = postRPC(t, p.MCPURL(), addCall(4), http.Header{agentcore.HeaderRuntimeSessionID: {strings.Repeat("a", 33)}})
	wantSum(t, resp, reply, 4)
}

func TestUpstream401RetriesOnceWithFreshToken(t *testing.T) {
	emu := startEmulator(t, emulator.Config{})
	p := startProxy(t, secretEnv, proxyFlags(emu)...)
	resp, reply := postRPC(t, p.MCPURL(), addCall(5), nil)
	wantSum(t, resp, reply, 5)

	// The pool rotates its key and retires the old one: the cached token,
	// valid a moment ago, now fails AgentCore's signature check.
	emu.RotateKey()
	emu.RetireOldKeys()
	before := emu.Stats()
	resp, reply = postRPC(t, p.MCPURL(), addCall(6), nil)
	after := emu.Stats()
	wantSum(t, resp, reply, 6)
	if got := after.TokenRequests - before.TokenRequests; got != 1 {
		t.Errorf("token requests after a 401 = %d, want exactly 1 fresh token", got)
	}
	if got := after.Rejections[emulator.ReasonBadSignature] - before.Rejections[emulator.ReasonBadSignature]; got != 1 {
		t.Errorf("requests AgentCore rejected = %d, want 1 (then one retry that passes)", got)
	}

	// A claim mismatch is not retried: a fresh token has the same claims.
	emu.SetAuthorizer(emulator.Authorizer{AllowedClients: []string{"someone-else"}})
	before = emu.Stats()
	sent := len(emu.Invocations())
	resp, _ = postRPC(t, p.MCPURL(), addCall(7), nil)
	after = emu.Stats()
	if n := len(emu.Invocations()) - sent; resp.StatusCode != http.StatusUnauthorized || after.TokenRequests != before.TokenRequests || n != 1 {
		t.Errorf("claim mismatch: status %d, %d new token requests, %d requests sent; want the upstream's 401, no new token, 1 request",
			resp.StatusCode, after.TokenRequests-before.TokenRequests, n)
	}
}

func tokenFingerprintForTest(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])[:8]
}

func TestProxyFailuresAreJSONRPCErrors(t *testing.T) {
	t.Run("wrong client secret", func(t *testing.T) {
		emu := startEmulator(t, emulator.Config{})
		p := startProxy(t, map[string]string{"AGENTCORE_PROXY_CLIENT_SECRET": "not-the-secret"}, proxyFlags(emu)...)
		resp, reply := postRPC(t, p.MCPURL(), addCall(11), nil)
		if resp.StatusCode != http.StatusServiceUnavailable || reply.Error == nil || string(reply.ID) != "11" ||
			!strings.Contains(reply.Error.Message, "invalid_client") || !strings.Contains(reply.Error.Message, "--client-secret-file") {
			t.Errorf("POST with a bad secret = %d %+v id=%s; want 503 naming invalid_client and --client-secret-file, id 11", resp.StatusCode, reply.Error, reply.ID)
		}
		if n := len(emu.Invocations()); n != 0 {
			t.Errorf("AgentCore saw %d requests, want 0", n)
		}
		status, body := httpGet(t, p.BaseURL+"/readyz")
		if status != http.StatusServiceUnavailable || !strings.Contains(body, "invalid_client") {
			t.Errorf("/readyz = %d %s, want 503 with the reason", status, body)
		}
		if strings.Contains(body, "not-the-secret") || strings.Contains(reply.Error.Message, "not-the-secret") {
			t.Errorf("the client secret leaked into a response")
		}
	})
	t.Run("upstream unreachable", func(t *testing.T) {
		p := startProxy(t, nil, "serve", "--listen", "127.0.0.1:0", "--log-format", "json", "--upstream-url", "http://"+closedPort(t)+"/mcp")
		resp, reply := postRPC(t, p.MCPURL(), `{"jsonrpc":"2.0","id":"req-7","method":"tools/list"}`, nil)
		if resp.StatusCode != http.StatusBadGateway || reply.Error == nil || string(reply.ID) != `"req-7"` || !strings.Contains(reply.Error.Message, "could not reach the upstream") {
			t.Errorf("POST to a dead upstream = %d %+v id=%s; want 502 with id \"req-7\"", resp.StatusCode, reply.Error, reply.ID)
		}
	})
	t.Run("method not allowed", func(t *testing.T) {
		p := startProxy(t, nil, "serve", "--listen", "127.0.0.1:0", "--log-format", "json", "--upstream-url", "http://"+closedPort(t)+"/mcp")
		req, _ := http.NewRequest(http.MethodPut, p.MCPURL(), nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "POST, GET, DELETE" {
			t.Errorf("PUT = %d Allow=%q, want 405 with Allow: POST, GET, DELETE", resp.StatusCode, resp.Header.Get("Allow"))
		}
	})
}
