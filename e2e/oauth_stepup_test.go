package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agentcore-proxy/agentcore-proxy/agentcore"
	"github.com/agentcore-proxy/agentcore-proxy/proxy"
)

// scopedPeers are an OAuth authorization server issuing opaque tokens that
// name their scopes, and an MCP server (the Go SDK's) that demands scope
// "mcp:write" with a 403 insufficient_scope challenge (MCP 2025-11-25).
type scopedPeers struct {
	as, mcp *httptest.Server

	mu        sync.Mutex
	requested []string // the scope parameter of each token request
	// reject makes the MCP server refuse every token as invalid.
	reject atomic.Bool
}

func newScopedPeers(t *testing.T) *scopedPeers {
	p := &scopedPeers{}
	p.as = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/.well-known/oauth-authorization-server":
			json.NewEncoder(w).Encode(map[string]any{"issuer": p.as.URL, "token_endpoint": p.as.URL + "/token",
				"grant_types_supported": []string{"client_credentials"}})
		case "/token":
			r.ParseForm()
			scope := r.PostForm.Get("scope")
			p.mu.Lock()
			p.requested = append(p.requested, scope)
			p.mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(map[string]any{"access_token": "opaque." + strings.ReplaceAll(scope, " ", "+"), "token_type": "Bearer", "expires_in": 3600})
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(p.as.Close)
	server := mcp.NewServer(&mcp.Implementation{Name: "scoped", Version: "1"}, nil)
	mcp.AddTool(server, &mcp.Tool{Name: "write"}, func(ctx context.Context, _ *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, any, error) {
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "written"}}}, nil, nil
	})
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, nil)
	p.mcp = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/.well-known/oauth-protected-resource/mcp" {
			json.NewEncoder(w).Encode(map[string]any{"resource": p.mcp.URL + "/mcp", "authorization_servers": []string{p.as.URL}})
			return
		}
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer opaque.")
		if !ok || p.reject.Load() {
			w.Header().Set("WWW-Authenticate", `Bearer resource_metadata="`+p.mcp.URL+`/.well-known/oauth-protected-resource/mcp"`)
			http.Error(w, "no token", http.StatusUnauthorized)
			return
		}
		if !slices.Contains(strings.Split(tok, "+"), "mcp:write") {
			w.Header().Set("WWW-Authenticate", `Bearer error="insufficient_scope", scope="mcp:write", error_description="tools need mcp:write"`)
			http.Error(w, "insufficient scope", http.StatusForbidden)
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(p.mcp.Close)
	return p
}

func (p *scopedPeers) scopes() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.requested)
}

func TestStepUpNotNeededWhenScopeListHoldsIt(t *testing.T) {
	p := newScopedPeers(t)
	px := startProxy(t, map[string]string{"AGENTCORE_PROXY_CLIENT_SECRET": "s3cret-step-up"},
		"serve", "--listen", "127.0.0.1:0", "--log-format", "json", "--upstream-url", p.mcp.URL+"/mcp", "--client-id", "c1", "--scope", "mcp:read", "--scope", "mcp:write")
	waitReady(t, px)
	client := mcp.NewClient(&mcp.Implementation{Name: "stepup", Version: "1"}, nil)
	session, err := client.Connect(t.Context(), &mcp.StreamableClientTransport{Endpoint: px.MCPURL(), DisableStandaloneSSE: true}, nil)
	if err != nil {
		t.Fatalf("Connect through the proxy: %v\nlogs:\n%s", err, px.Logs())
	}
	defer session.Close()
	res, err := session.CallTool(t.Context(), &mcp.CallToolParams{Name: "write", Arguments: map[string]any{}})
	if err != nil || res.IsError {
		t.Fatalf("CallTool(write) = %v, %v", res, err)
	}
	// --scope lists both: the first token asks for both, so no 403 comes.
	if got := p.scopes(); len(got) != 1 || got[0] != "mcp:read mcp:write" {
		t.Fatalf("token requests' scopes = %q, want one with both", got)
	}
}

func TestStepUpWithoutScopeList(t *testing.T) {
	p := newScopedPeers(t)
	px := startProxy(t, map[string]string{"AGENTCORE_PROXY_CLIENT_SECRET": "s3cret-step-up"},
		"serve", "--listen", "127.0.0.1:0", "--log-format", "json", "--upstream-url", p.mcp.URL+"/mcp", "--client-id", "c1")
	waitReady(t, px)
	client := mcp.NewClient(&mcp.Implementation{Name: "stepup", Version: "1"}, nil)
	session, err := client.Connect(t.Context(), &mcp.StreamableClientTransport{Endpoint: px.MCPURL(), DisableStandaloneSSE: true}, nil)
	if err != nil {
		t.Fatalf("Connect through the proxy: %v\nlogs:\n%s", err, px.Logs())
	}
	defer session.Close()
	for range 3 {
		if res, err := session.CallTool(t.Context(), &mcp.CallToolParams{Name: "write", Arguments: map[string]any{}}); err != nil || res.IsError {
			t.Fatalf("CallTool(write) = %v, %v", res, err)
		}
	}
	// One token with no scope (all the client's), then one step-up with
	// the scope the challenge named, kept for later calls.
	if got := p.scopes(); !slices.Equal(got, []string{"", "mcp:write"}) {
		t.Fatalf("token requests' scopes = %q, want [\"\" \"mcp:write\"]", got)
	}
}

func TestStepUpRefusedOutsideScopeList(t *testing.T) {
	p := newScopedPeers(t)
	px := startProxy(t, map[string]string{"AGENTCORE_PROXY_CLIENT_SECRET": "s3cret-step-up"},
		"serve", "--listen", "127.0.0.1:0", "--log-format", "json", "--upstream-url", p.mcp.URL+"/mcp", "--client-id", "c1", "--scope", "mcp:read")
	waitReady(t, px)
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, px.MCPURL(),
		strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get(proxy.HeaderDiagnosis) != agentcore.ReasonInsufficientScope {
		t.Fatalf("initialize = %d %s=%q, want 403 %s\n%s", resp.StatusCode, proxy.HeaderDiagnosis, resp.Header.Get(proxy.HeaderDiagnosis), agentcore.ReasonInsufficientScope, body)
	}
	for _, want := range []string{`\"mcp:write\"`, "--scope"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("answer %s lacks %s", body, want)
		}
	}
	if got := p.scopes(); !slices.Equal(got, []string{"mcp:read"}) {
		t.Fatalf("token requests' scopes = %q, want only [mcp:read]: nothing outside --scope is requested", got)
	}
}

// TestRediscoveryAfterRefusedToken: a zero-config route whose upstream
// refuses its token as invalid probes the upstream's metadata again and
// logs what it found.
func TestRediscoveryAfterRefusedToken(t *testing.T) {
	p := newScopedPeers(t)
	px := startProxy(t, map[string]string{"AGENTCORE_PROXY_CLIENT_SECRET": "s3cret-rediscover"},
		"serve", "--listen", "127.0.0.1:0", "--log-format", "json", "--upstream-url", p.mcp.URL+"/mcp", "--client-id", "c1", "--scope", "mcp:write")
	waitReady(t, px)
	p.reject.Store(true)
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, px.MCPURL(),
		strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("initialize = %d, want 401", resp.StatusCode)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(px.Logs(), "re-discovery after a refused token found the same authorization server") {
		if time.Now().After(deadline) {
			t.Fatalf("no re-discovery logged within 10s:\n%s", px.Logs())
		}
		time.Sleep(20 * time.Millisecond) // polling the log, not synchronization
	}
	if !strings.Contains(px.Logs(), "oauth-protected-resource/mcp: HTTP 200: ok") {
		t.Errorf("re-discovery log lacks the protected resource metadata hop:\n%s", px.Logs())
	}
}
