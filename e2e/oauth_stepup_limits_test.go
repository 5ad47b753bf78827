package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/agentcore-proxy/agentcore-proxy/agentcore"
	"github.com/agentcore-proxy/agentcore-proxy/internal/emulator"
	"github.com/agentcore-proxy/agentcore-proxy/internal/route"
	"github.com/agentcore-proxy/agentcore-proxy/proxy"
)

// demandingUpstream is an MCP upstream that wants, for each tools/call, the
// scope demand returns for the tool's name ("" wants none): a token without
// it gets 403 insufficient_scope naming it. Tokens are the scopedPeers
// authorization server's, "opaque." and their scopes joined by "+". It
// answers every other call, and records each token it receives.
type demandingUpstream struct {
	*httptest.Server
	mu     sync.Mutex
	tokens []string
}

func newDemandingUpstream(t *testing.T, demand func(tool string) string) *demandingUpstream {
	u := &demandingUpstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		u.mu.Lock()
		u.tokens = append(u.tokens, tok)
		u.mu.Unlock()
		var call struct {
			ID     json.RawMessage `json:"id"`
			Params struct {
				Name string `json:"name"`
			} `json:"params"`
		}
		body, _ := io.ReadAll(r.Body)
		json.Unmarshal(body, &call)
		scopes := strings.Split(strings.TrimPrefix(tok, "opaque."), "+")
		if want := demand(call.Params.Name); want != "" && !slices.Contains(scopes, want) {
			w.Header().Set("WWW-Authenticate", `Bearer error="insufficient_scope", scope="`+want+`"`)
			http.Error(w, "insufficient scope", http.StatusForbidden)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%s,"result":{"content":[{"type":"text","text":"done"}]}}`, call.ID)
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *demandingUpstream) received() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return slices.Clone(u.tokens)
}

// toolCall is a tools/call of tool.
func toolCall(id int, tool string) string {
	return fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":%q,"arguments":{}}}`, id, tool)
}

// TestStepUpRefusedByIdentityProvider: Cognito answers invalid_scope to a
// step-up; the client gets the insufficient_scope explanation, and the next
// call goes out with the route's token and succeeds, /readyz still ready.
func TestStepUpRefusedByIdentityProvider(t *testing.T) {
	emu := startEmulator(t, emulator.Config{})
	p := startProxy(t, secretEnv, proxyFlags(emu)...) // no --scope: step-up may ask for anything
	waitReady(t, p)
	resp, reply := postRPC(t, p.MCPURL(), addCall(1), nil)
	wantSum(t, resp, reply, 1)

	emu.InjectFault(emulator.Fault{Status: 403, Message: "insufficient scope", Challenge: `Bearer error="insufficient_scope", scope="mcp:admin"`}, 1)
	resp, reply = postRPC(t, p.MCPURL(), addCall(2), nil)
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get(proxy.HeaderDiagnosis) != agentcore.ReasonInsufficientScope ||
		reply.Error == nil || !strings.Contains(reply.Error.Message, `"mcp:admin"`) {
		t.Fatalf("call during a refused step-up = %d %s=%q %+v; want 403 %s naming mcp:admin",
			resp.StatusCode, proxy.HeaderDiagnosis, resp.Header.Get(proxy.HeaderDiagnosis), reply.Error, agentcore.ReasonInsufficientScope)
	}
	if st := emu.Stats(); st.TokenRequests != 2 || st.TokensIssued != 1 {
		t.Fatalf("token requests %d, issued %d; want 2 and 1 (the step-up refused with invalid_scope)", st.TokenRequests, st.TokensIssued)
	}

	resp, reply = postRPC(t, p.MCPURL(), addCall(3), nil)
	wantSum(t, resp, reply, 3)
	inv := emu.Invocations()
	first, last := inv[0].Header.Get("Authorization"), inv[len(inv)-1].Header.Get("Authorization")
	if first == "" || last != first {
		t.Errorf("token after the refused step-up %q, want the route's own %q", last, first)
	}
	if status, body := httpGet(t, p.BaseURL+"/readyz"); status != http.StatusOK {
		t.Errorf("/readyz = %d %s, want 200", status, body)
	}
	if st := emu.Stats(); st.TokenRequests != 2 {
		t.Errorf("token requests = %d, want still 2: the refused set's cache must not retry", st.TokenRequests)
	}
	if !strings.Contains(p.Logs(), "step-up failed: the route keeps its token") {
		t.Errorf("logs lack the failed step-up:\n%s", p.Logs())
	}
}

// TestStepUpOff: with step-up off (flag or variable) the client gets the
// insufficient_scope explanation and no token is requested.
func TestStepUpOff(t *testing.T) {
	tests := []struct {
		name  string
		env   map[string]string
		flags []string
	}{
		{name: "flag", env: secretEnv, flags: []string{"--step-up=false"}},
		{name: "variable", env: map[string]string{"AGENTCORE_PROXY_CLIENT_SECRET": testClientSecret, "AGENTCORE_PROXY_STEP_UP": "false"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			emu := startEmulator(t, emulator.Config{})
			p := startProxy(t, tt.env, proxyFlags(emu, tt.flags...)...)
			waitReady(t, p)
			emu.InjectFault(emulator.Fault{Status: 403, Message: "insufficient scope", Challenge: `Bearer error="insufficient_scope", scope="default-m2m-resource-server/read"`}, 1)
			resp, reply := postRPC(t, p.MCPURL(), addCall(1), nil)
			if resp.StatusCode != http.StatusForbidden || resp.Header.Get(proxy.HeaderDiagnosis) != agentcore.ReasonInsufficientScope || reply.Error == nil {
				t.Fatalf("call = %d %s=%q %+v; want 403 %s", resp.StatusCode, proxy.HeaderDiagnosis,
					resp.Header.Get(proxy.HeaderDiagnosis), reply.Error, agentcore.ReasonInsufficientScope)
			}
			if st := emu.Stats(); st.TokenRequests != 1 {
				t.Errorf("token requests = %d, want 1: no step-up", st.TokenRequests)
			}
			if !strings.Contains(p.Logs(), `"msg":"step-up is off`) || !strings.Contains(p.Logs(), `"setting":"--step-up"`) {
				t.Errorf("logs do not say step-up is off, naming --step-up:\n%s", p.Logs())
			}
		})
	}
}

// TestStepUpPerRoute: two routes share one client, and so one token; only
// upstream A demands mcp:write. A steps up; B's requests never carry A's
// stepped-up token.
func TestStepUpPerRoute(t *testing.T) {
	as := newScopedPeers(t) // its authorization server issues opaque tokens naming their scopes
	a := newDemandingUpstream(t, func(string) string { return "mcp:write" })
	b := newDemandingUpstream(t, func(string) string { return "" })
	dir := t.TempDir()
	file := filepath.Join(dir, "routes.yaml")
	cfg := `listen: 127.0.0.1:0
routes:
  - name: a
    path: /a/mcp
    target: {upstream_url: "` + a.URL + `/mcp"}
    auth: {token_url: "` + as.as.URL + `/token", client_id: c1, client_secret_env: STEP_SECRET}
  - name: b
    path: /b/mcp
    target: {upstream_url: "` + b.URL + `/mcp"}
    auth: {token_url: "` + as.as.URL + `/token", client_id: c1, client_secret_env: STEP_SECRET}
`
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startProxy(t, map[string]string{"STEP_SECRET": "s3cret-per-route"}, "serve", "--config", file, "--log-format", "json")
	waitReady(t, p)
	for i, path := range []string{"/b/mcp", "/a/mcp", "/b/mcp", "/a/mcp", "/b/mcp"} {
		if resp, reply := postRPC(t, p.BaseURL+path, toolCall(i, "write"), nil); resp.StatusCode != http.StatusOK || reply.Error != nil {
			t.Fatalf("call %d to %s = %d %+v, want 200", i, path, resp.StatusCode, reply.Error)
		}
	}
	if got := b.received(); len(got) != 3 || slices.ContainsFunc(got, func(tok string) bool { return tok != "opaque." }) {
		t.Errorf("tokens B received = %q, want the shared token opaque. three times, never A's", got)
	}
	if got := a.received(); !slices.Equal(got, []string{"opaque.", "opaque.mcp:write", "opaque.mcp:write"}) {
		t.Errorf("tokens A received = %q, want the shared one, then its stepped-up one, kept", got)
	}
	if got := as.scopes(); !slices.Equal(got, []string{"", "mcp:write"}) {
		t.Errorf("token requests' scopes = %q, want one shared token and one step-up", got)
	}
}

// TestStepUpLimits: an upstream that asks for ever-new scopes gets at most
// route.MaxStepUpSets step-ups; a scope longer than
// route.MaxStepUpScopeBytes is refused without a token request. Each
// refusal is the insufficient_scope explanation, and the log names the
// limit.
func TestStepUpLimits(t *testing.T) {
	as := newScopedPeers(t)
	up := newDemandingUpstream(t, func(tool string) string { return tool })
	p := startProxy(t, map[string]string{"AGENTCORE_PROXY_CLIENT_SECRET": "s3cret-limits"},
		"serve", "--listen", "127.0.0.1:0", "--log-format", "json", "--upstream-url", up.URL+"/mcp", "--token-url", as.as.URL+"/token", "--client-id", "c1")
	waitReady(t, p)
	refused := func(t *testing.T, tool, limit string, tokenRequests int) {
		t.Helper()
		resp, reply := postRPC(t, p.MCPURL(), toolCall(99, tool), nil)
		if resp.StatusCode != http.StatusForbidden || resp.Header.Get(proxy.HeaderDiagnosis) != agentcore.ReasonInsufficientScope || reply.Error == nil {
			t.Errorf("call wanting a %d-byte scope = %d %s=%q %+v; want 403 %s", len(tool), resp.StatusCode, proxy.HeaderDiagnosis,
				resp.Header.Get(proxy.HeaderDiagnosis), reply.Error, agentcore.ReasonInsufficientScope)
		}
		if got := len(as.scopes()); got != tokenRequests {
			t.Errorf("token requests = %d, want %d: none for a refused step-up", got, tokenRequests)
		}
		if !strings.Contains(p.Logs(), `"limit":"`+limit+`"`) {
			t.Errorf("logs do not name the %s limit:\n%s", limit, p.Logs())
		}
	}

	t.Run("scope bytes", func(t *testing.T) {
		refused(t, strings.Repeat("x", route.MaxStepUpScopeBytes+1), "scope_bytes", 1)
	})
	t.Run("scope sets", func(t *testing.T) {
		for i := range route.MaxStepUpSets {
			if resp, reply := postRPC(t, p.MCPURL(), toolCall(i, fmt.Sprintf("s%d", i)), nil); resp.StatusCode != http.StatusOK || reply.Error != nil {
				t.Fatalf("step-up %d of %d = %d %+v, want 200", i+1, route.MaxStepUpSets, resp.StatusCode, reply.Error)
			}
		}
		refused(t, "one-more", "scope_sets", 1+route.MaxStepUpSets)
		// The route keeps its largest token.
		if resp, reply := postRPC(t, p.MCPURL(), toolCall(100, "s0"), nil); resp.StatusCode != http.StatusOK || reply.Error != nil {
			t.Errorf("call after the limit = %d %+v, want 200", resp.StatusCode, reply.Error)
		}
	})
}
