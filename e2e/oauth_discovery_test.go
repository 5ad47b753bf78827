package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agentcore-proxy/agentcore-proxy/internal/emulator"
)

// TestZeroConfigShowsDiscoveryAndOpaqueTokens: with only --upstream-url and
// --client-id, the status page, /status and token --decode say where the
// authorization server was found and that its opaque tokens are not
// checked locally.
func TestZeroConfigShowsDiscoveryAndOpaqueTokens(t *testing.T) {
	p := newScopedPeers(t)
	env := map[string]string{"AGENTCORE_PROXY_CLIENT_SECRET": "s3cret-zero-config"}
	args := []string{"--upstream-url", p.mcp.URL + "/mcp", "--client-id", "c1", "--scope", "mcp:write"}
	px := startProxy(t, env, append([]string{"serve", "--listen", "127.0.0.1:0", "--log-format", "json"}, args...)...)
	waitReady(t, px)

	resp, err := http.Get(px.BaseURL + "/status")
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Routes []struct {
			Discovery struct {
				Source, Issuer string
				SentResource   string `json:"sent_resource"`
				LocalCheck     string `json:"local_check"`
				TokenEndpoint  string `json:"token_endpoint"`
				Hops           []string
			}
		}
	}
	err = json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if err != nil || len(st.Routes) != 1 {
		t.Fatalf("/status = %+v, %v", st, err)
	}
	d := st.Routes[0].Discovery
	if d.Source != "upstream" || d.Issuer != p.as.URL || d.TokenEndpoint != p.as.URL+"/token" || len(d.Hops) != 3 {
		t.Errorf("/status discovery = %+v, want source upstream, issuer %s, 3 hops", d, p.as.URL)
	}
	if d.LocalCheck != "opaque: not checked locally" {
		t.Errorf("/status local_check = %q, want opaque: not checked locally", d.LocalCheck)
	}
	if d.SentResource != p.mcp.URL+"/mcp" {
		t.Errorf("/status sent_resource = %q, want the protected resource %s/mcp", d.SentResource, p.mcp.URL)
	}
	resp, err = http.Get(px.BaseURL + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"opaque: not checked locally", "/.well-known/oauth-protected-resource/mcp: HTTP 200: ok"} {
		if !bytes.Contains(page, []byte(want)) {
			t.Errorf("status page lacks %q", want)
		}
	}

	var out, errOut bytes.Buffer
	if err := run(t.Context(), append([]string{"token", "--decode"}, args...), func(k string) string { return env[k] }, strings.NewReader(""), &out, &errOut); err != nil {
		t.Fatalf("token --decode = %v\n%s", err, errOut.String())
	}
	if !strings.Contains(out.String(), "check: opaque: not checked locally") || strings.Contains(out.String(), "opaque.mcp") {
		t.Errorf("token --decode printed %q, want the opaque check line and no token", out.String())
	}
}

// badPeers serve an MCP URL and an authorization server whose answers each
// case spoils, and count token requests.
type badPeers struct {
	as, mcp *httptest.Server
	tokens  atomic.Int32
}

func newBadPeers(t *testing.T, challenge bool, prmResource func(mcpURL string) string, asMeta func(asURL string) map[string]any) *badPeers {
	b := &badPeers{}
	b.as = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/.well-known/oauth-authorization-server":
			json.NewEncoder(w).Encode(asMeta(b.as.URL))
		case "/token":
			b.tokens.Add(1)
			json.NewEncoder(w).Encode(map[string]any{"access_token": "x", "token_type": "Bearer", "expires_in": 60})
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(b.as.Close)
	b.mcp = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/.well-known/oauth-protected-resource/mcp" && prmResource != nil {
			json.NewEncoder(w).Encode(map[string]any{"resource": prmResource(b.mcp.URL), "authorization_servers": []string{b.as.URL}})
			return
		}
		if r.URL.Path != "/mcp" {
			http.NotFound(w, r)
			return
		}
		if challenge {
			w.Header().Set("WWW-Authenticate", `Bearer resource_metadata="`+b.mcp.URL+`/.well-known/oauth-protected-resource/mcp"`)
		}
		http.Error(w, "unauthorized", http.StatusUnauthorized)
	}))
	t.Cleanup(b.mcp.Close)
	return b
}

// TestBadDiscoveryStopsAtStart: each broken discovery chain stops serve with
// one error that names what is wrong and every URL tried; no token request
// is made.
func TestBadDiscoveryStopsAtStart(t *testing.T) {
	goodMeta := func(as string) map[string]any { return map[string]any{"issuer": as, "token_endpoint": as + "/token"} }
	sameResource := func(mcpURL string) string { return mcpURL + "/mcp" }
	tests := []struct {
		name      string
		challenge bool
		resource  func(string) string
		meta      func(string) map[string]any
		want      []string
	}{
		{name: "metadata without token_endpoint", challenge: true, resource: sameResource,
			meta: func(as string) map[string]any { return map[string]any{"issuer": as} },
			want: []string{"token_endpoint", "/.well-known/oauth-authorization-server", "--discovery-url"}},
		{name: "401 without challenge, no well-known metadata", challenge: false, resource: nil, meta: goodMeta,
			want: []string{"no Bearer challenge", "/.well-known/oauth-protected-resource/mcp: HTTP 404", "/.well-known/oauth-protected-resource: HTTP 404", "--discovery-url"}},
		{name: "resource does not match the URL", challenge: true, resource: func(string) string { return "https://elsewhere.example.com/mcp" }, meta: goodMeta,
			want: []string{`resource "https://elsewhere.example.com/mcp" does not name`, "RFC 9728"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBadPeers(t, tt.challenge, tt.resource, tt.meta)
			var out, errOut bytes.Buffer
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			env := map[string]string{"AGENTCORE_PROXY_CLIENT_SECRET": "s3cret-bad"}
			err := run(ctx, []string{"serve", "--listen", "127.0.0.1:0", "--upstream-url", b.mcp.URL + "/mcp", "--client-id", "c1"},
				func(k string) string { return env[k] }, strings.NewReader(""), &out, &errOut)
			if err == nil {
				t.Fatalf("serve = nil error, want one")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("serve error lacks %q:\n%v", w, err)
				}
			}
			if n := b.tokens.Load(); n != 0 {
				t.Errorf("token requests = %d, want 0", n)
			}
			if strings.Contains(err.Error(), "s3cret-bad") {
				t.Errorf("error shows the secret: %v", err)
			}
		})
	}
}

// TestDoctorWalksDiscoveryChain: doctor prints each hop of zero-config
// discovery and says opaque tokens are not checked locally.
func TestDoctorWalksDiscoveryChain(t *testing.T) {
	p := newScopedPeers(t)
	env := map[string]string{"AGENTCORE_PROXY_CLIENT_SECRET": "s3cret-doctor"}
	var out, errOut bytes.Buffer
	err := run(t.Context(), []string{"doctor", "--upstream-url", p.mcp.URL + "/mcp", "--client-id", "c1", "--scope", "mcp:write"},
		func(k string) string { return env[k] }, strings.NewReader(""), &out, &errOut)
	if err != nil {
		t.Fatalf("doctor = %v\n%s%s", err, out.String(), errOut.String())
	}
	for _, want := range []string{
		"from " + p.mcp.URL + "/mcp (upstream), resource " + p.mcp.URL + "/mcp",
		"probe " + p.mcp.URL + "/mcp: HTTP 401: ok",
		"resource_metadata " + p.mcp.URL + "/.well-known/oauth-protected-resource/mcp: HTTP 200: ok",
		"server_metadata " + p.as.URL + "/.well-known/oauth-authorization-server: HTTP 200: ok",
		"jwks_uri (none: opaque: not checked locally)",
		"authorizer rules: opaque: not checked locally",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("doctor output lacks %q:\n%s", want, out.String())
		}
	}
}

// TestZeroConfigAgainstEmulatedRuntime: with only the ARN, its endpoint and
// the client id, the proxy finds the runtime's user pool from its 401 (the
// emulated Cognito answers only the appended OIDC URL) and the Go SDK
// client calls a tool through it.
func TestZeroConfigAgainstEmulatedRuntime(t *testing.T) {
	emu := startEmulator(t, emulator.Config{})
	p := startProxy(t, secretEnv, "serve", "--listen", "127.0.0.1:0", "--log-format", "json",
		"--runtime-arn", emu.RuntimeARN(), "--endpoint-url", emu.EndpointURL(), "--client-id", testClientID)
	waitReady(t, p)
	client := mcp.NewClient(&mcp.Implementation{Name: "zero-config", Version: "1"}, nil)
	session, err := client.Connect(t.Context(), &mcp.StreamableClientTransport{Endpoint: p.MCPURL(), DisableStandaloneSSE: true}, nil)
	if err != nil {
		t.Fatalf("Connect: %v\n%s", err, p.Logs())
	}
	defer session.Close()
	res, err := session.CallTool(t.Context(), &mcp.CallToolParams{Name: "add_numbers", Arguments: map[string]any{"a": 1, "b": 2}})
	if err != nil || res.IsError {
		t.Fatalf("CallTool(add_numbers) = %+v, %v", res, err)
	}
	for _, want := range []string{`"source":"upstream"`, "/.well-known/openid-configuration: HTTP 200: ok", "jwt: checked"} {
		if !strings.Contains(p.Logs()+statusBody(t, p), want) {
			t.Errorf("logs and /status lack %q", want)
		}
	}
}

func statusBody(t *testing.T, p *runningProxy) string {
	t.Helper()
	_, body := httpGet(t, p.BaseURL+"/status")
	return body
}
