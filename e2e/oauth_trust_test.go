package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/agentcore-proxy/agentcore-proxy/internal/otherhost"
)

// trustSecret is the client secret of the trust tests: none of it may reach
// a server the user did not point the proxy at.
const trustSecret = "s3cret-for-the-real-idp-only"

var trustEnv = map[string]string{"AGENTCORE_PROXY_CLIENT_SECRET": trustSecret}

// newElsewhere starts an authorization server on another host (127.0.0.2)
// that records everything it receives and would hand out tokens to anyone.
func newElsewhere(t *testing.T) *otherhost.Server {
	t.Helper()
	return otherhost.Start(t, func(w http.ResponseWriter, r *http.Request) {
		base := "http://" + r.Host
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/.well-known/oauth-authorization-server":
			json.NewEncoder(w).Encode(map[string]any{"issuer": base, "token_endpoint": base + "/token"})
		case "/token":
			json.NewEncoder(w).Encode(map[string]any{"access_token": "token-from-elsewhere", "token_type": "Bearer", "expires_in": 3600})
		default:
			http.NotFound(w, r)
		}
	})
}

// assertNothingReceived fails t if e received any request at all, and so
// certainly no secret, no Authorization and no client_secret.
func assertNothingReceived(t *testing.T, e *otherhost.Server) {
	t.Helper()
	if got := e.Received(); len(got) != 0 {
		t.Errorf("the server on another host received %d requests, want none:\n%s", len(got), strings.Join(got, "\n"))
	}
}

// hostileUpstream is an MCP server on 127.0.0.1 whose 401 points at its
// protected resource metadata, which names authServer as its
// authorization server. With the bearer token wantToken it answers
// JSON-RPC requests.
func hostileUpstream(t *testing.T, authServer func() string, wantToken string) *httptest.Server {
	t.Helper()
	var srv *httptest.Server
	srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/.well-known/oauth-protected-resource/mcp":
			json.NewEncoder(w).Encode(map[string]any{"resource": srv.URL + "/mcp", "authorization_servers": []string{authServer()}})
		case r.URL.Path == "/mcp" && r.Header.Get("Authorization") == "Bearer "+wantToken && wantToken != "":
			var req struct {
				ID json.RawMessage `json:"id"`
			}
			json.NewDecoder(r.Body).Decode(&req)
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%s,"result":{"protocolVersion":"2025-06-18","capabilities":{},"serverInfo":{"name":"hostile","version":"1"}}}`, req.ID)
		case r.URL.Path == "/mcp":
			w.Header().Set("WWW-Authenticate", `Bearer resource_metadata="`+srv.URL+`/.well-known/oauth-protected-resource/mcp"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
		default:
			http.NotFound(w, r)
		}
	}))
	srv.Start() // after srv is set: the handler reads it
	t.Cleanup(srv.Close)
	return srv
}

// TestZeroConfigSendsCredentialsOnlyToTrustedServer: an upstream on
// 127.0.0.1 whose metadata names an authorization server on 127.0.0.2
// stops serve, stdio, token and doctor with a message naming the server,
// the upstream's host and --issuer (auth.issuer in a YAML file), and the
// server receives nothing; with --issuer naming it, the route works.
func TestZeroConfigSendsCredentialsOnlyToTrustedServer(t *testing.T) {
	as := newElsewhere(t)
	up := hostileUpstream(t, func() string { return as.URL }, "token-from-elsewhere")
	route := []string{"--upstream-url", up.URL + "/mcp", "--client-id", "c1"}
	wantAll := []string{
		"names the authorization server " + as.URL,
		"not on the upstream's host 127.0.0.1",
		"give --issuer " + as.URL,
	}
	for _, cmd := range [][]string{
		append([]string{"serve", "--listen", "127.0.0.1:0"}, route...),
		append([]string{"stdio"}, route...),
		append([]string{"token"}, route...),
	} {
		t.Run(cmd[0], func(t *testing.T) {
			_, _, err := runCmd(t, trustEnv, cmd...)
			if err == nil {
				t.Fatalf("%s = nil error, want the route refused", cmd[0])
			}
			t.Logf("%s: %v", cmd[0], err)
			for _, w := range wantAll {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%s error lacks %q:\n%v", cmd[0], w, err)
				}
			}
			if strings.Contains(err.Error(), trustSecret) {
				t.Errorf("%s error shows the secret", cmd[0])
			}
		})
	}
	t.Run("doctor", func(t *testing.T) {
		stdout, _, err := runCmd(t, trustEnv, append([]string{"doctor"}, route...)...)
		if err == nil {
			t.Fatalf("doctor = nil error, want a failed check")
		}
		t.Logf("doctor:\n%s", stdout)
		for _, w := range append(wantAll, "discovery") {
			if !strings.Contains(stdout, w) {
				t.Errorf("doctor output lacks %q:\n%s", w, stdout)
			}
		}
	})
	t.Run("YAML", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "routes.yaml")
		yaml := fmt.Sprintf("listen: 127.0.0.1:0\nroutes:\n  - name: hostile\n    path: /hostile/mcp\n    target: {upstream_url: %q}\n    auth: {client_id: c1, client_secret_env: HOSTILE_SECRET}\n", up.URL+"/mcp")
		if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		_, _, err := runCmd(t, map[string]string{"HOSTILE_SECRET": trustSecret}, "serve", "--config", file)
		want := "give auth.issuer (route hostile in " + file + ") " + as.URL
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("serve --config = %v, want %q", err, want)
		}
	})
	t.Run("another issuer given", func(t *testing.T) {
		_, _, err := runCmd(t, trustEnv, append([]string{"token", "--issuer", "https://idp.example.com"}, route...)...)
		want := "names the authorization server " + as.URL + " in its protected resource metadata " + up.URL + "/.well-known/oauth-protected-resource/mcp, but --issuer is https://idp.example.com"
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("token --issuer https://idp.example.com = %v, want %q", err, want)
		}
	})
	assertNothingReceived(t, as)

	// Named by --issuer, the server gets the token request and the route
	// works.
	px := startProxy(t, trustEnv, append([]string{"serve", "--listen", "127.0.0.1:0", "--log-format", "json", "--issuer", as.URL}, route...)...)
	waitReady(t, px)
	resp, err := http.Post(px.MCPURL(), "application/json", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"name":"hostile"`) {
		t.Errorf("initialize through the proxy = %d %s, want the upstream's answer", resp.StatusCode, body)
	}
	tokenRequests := 0
	for _, r := range as.Received() {
		if strings.HasPrefix(r, "POST /token ") && strings.Contains(r, `Authorization="Basic `) {
			tokenRequests++
		}
	}
	if tokenRequests == 0 {
		t.Errorf("the server --issuer names got no token request: %q", as.Received())
	}
}

// TestServeRefusesUntrustedServerExitStatus: the real binary exits 1 and
// says why on stderr.
func TestServeRefusesUntrustedServerExitStatus(t *testing.T) {
	as := newElsewhere(t)
	up := hostileUpstream(t, func() string { return as.URL }, "")
	cmd := exec.CommandContext(t.Context(), binary(t), "serve", "--listen", "127.0.0.1:0", "--upstream-url", up.URL+"/mcp", "--client-id", "c1")
	cmd.Env = []string{"AGENTCORE_PROXY_CLIENT_SECRET=" + trustSecret}
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("serve = %v, want exit status 1\n%s", err, out)
	}
	if !strings.Contains(string(out), "not on the upstream's host 127.0.0.1") || !strings.Contains(string(out), "--issuer "+as.URL) {
		t.Errorf("serve said %q, want the refusal naming --issuer", out)
	}
	secretScan(t, string(out))
	assertNothingReceived(t, as)
}

// TestTokenEndpointRedirectNotFollowed: a token endpoint answering 307 to
// plain http on another host gets an error naming the Location, whatever
// the client authentication, and the other host receives nothing.
func TestTokenEndpointRedirectNotFollowed(t *testing.T) {
	other := newElsewhere(t)
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/steal", http.StatusTemporaryRedirect)
	}))
	defer idp.Close()
	for _, style := range []string{"basic", "post"} {
		t.Run(style, func(t *testing.T) {
			_, _, err := runCmd(t, trustEnv, "token", "--upstream-url", "http://127.0.0.1:1/mcp", "--token-url", idp.URL+"/oauth2/token",
				"--client-id", "c1", "--token-auth-style", style)
			t.Logf("token: %v", err)
			want := "answered HTTP 307 with Location " + other.URL + "/steal"
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("token = %v, want %q", err, want)
			}
		})
	}
	t.Run("doctor", func(t *testing.T) {
		stdout, _, err := runCmd(t, trustEnv, "doctor", "--upstream-url", "http://127.0.0.1:1/mcp", "--token-url", idp.URL+"/oauth2/token", "--client-id", "c1")
		if err == nil || !strings.Contains(stdout, "with Location "+other.URL+"/steal") {
			t.Errorf("doctor = %v\n%s\nwant a failed token step naming the Location", err, stdout)
		}
	})
	assertNothingReceived(t, other)
}

// TestDiscoveredPlainHTTPRefused: metadata naming a plain-http token
// endpoint or key set on a non-loopback address (never dialled: it is
// refused before any request) stops serve, naming the URL.
func TestDiscoveredPlainHTTPRefused(t *testing.T) {
	tests := []struct {
		name string
		meta func(as string) map[string]any
		want string
	}{
		{name: "token_endpoint", meta: func(as string) map[string]any {
			return map[string]any{"issuer": as, "token_endpoint": "http://10.1.2.3/token"}
		}, want: `"token_endpoint" "http://10.1.2.3/token": plain http is allowed only to a loopback address`},
		{name: "jwks_uri", meta: func(as string) map[string]any {
			return map[string]any{"issuer": as, "token_endpoint": as + "/token", "jwks_uri": "http://10.1.2.3/jwks"}
		}, want: `"jwks_uri" "http://10.1.2.3/jwks": plain http is allowed only to a loopback address`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBadPeers(t, true, func(mcpURL string) string { return mcpURL + "/mcp" }, tt.meta)
			_, _, err := runCmd(t, trustEnv, "serve", "--listen", "127.0.0.1:0", "--upstream-url", b.mcp.URL+"/mcp", "--client-id", "c1")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("serve = %v, want %q", err, tt.want)
			}
			if n := b.tokens.Load(); n != 0 {
				t.Errorf("token requests = %d, want 0", n)
			}
		})
	}
	t.Run("OpenID Connect discovery URL", func(t *testing.T) {
		idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			iss := "http://" + r.Host
			json.NewEncoder(w).Encode(map[string]any{"issuer": iss, "jwks_uri": "http://10.1.2.3/jwks", "token_endpoint": iss + "/token"})
		}))
		defer idp.Close()
		_, _, err := runCmd(t, trustEnv, "serve", "--listen", "127.0.0.1:0", "--upstream-url", "http://127.0.0.1:1/mcp",
			"--discovery-url", idp.URL+"/.well-known/openid-configuration", "--client-id", "c1")
		want := `--discovery-url "` + idp.URL + `/.well-known/openid-configuration"`
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), `"jwks_uri" "http://10.1.2.3/jwks": plain http`) {
			t.Errorf("serve = %v, want the jwks_uri refused under %s", err, want)
		}
	})
}

// TestMetadataRedirectToOtherHostNotFollowed: protected resource metadata
// that redirects to another host is not fetched there.
func TestMetadataRedirectToOtherHostNotFollowed(t *testing.T) {
	other := newElsewhere(t)
	var up *httptest.Server
	up = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/mcp":
			w.Header().Set("WWW-Authenticate", `Bearer resource_metadata="`+up.URL+`/prm"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
		case "/prm":
			http.Redirect(w, r, other.URL+"/.well-known/oauth-protected-resource", http.StatusFound)
		default:
			http.NotFound(w, r)
		}
	}))
	up.Start()
	defer up.Close()
	_, _, err := runCmd(t, trustEnv, "serve", "--listen", "127.0.0.1:0", "--upstream-url", up.URL+"/mcp", "--client-id", "c1")
	want := up.URL + "/prm: HTTP 302: redirect to " + other.URL + "/.well-known/oauth-protected-resource not followed"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("serve = %v, want %q", err, want)
	}
	assertNothingReceived(t, other)
}

// TestDiscoveryURLIssuerMustMatch: with --discovery-url and --issuer, the
// document's issuer must be --issuer; no token request is made otherwise.
func TestDiscoveryURLIssuerMustMatch(t *testing.T) {
	var tokens atomic.Int32
	var as *httptest.Server
	as = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/.well-known/oauth-authorization-server":
			json.NewEncoder(w).Encode(map[string]any{"issuer": as.URL, "token_endpoint": as.URL + "/token"})
		case "/token":
			tokens.Add(1)
			json.NewEncoder(w).Encode(map[string]any{"access_token": "opaque-token", "token_type": "Bearer", "expires_in": 3600})
		default:
			http.NotFound(w, r)
		}
	}))
	as.Start()
	defer as.Close()
	base := []string{"token", "--upstream-url", "http://127.0.0.1:1/mcp", "--discovery-url", as.URL, "--client-id", "c1"}
	_, _, err := runCmd(t, trustEnv, append(base, "--issuer", "https://idp.example.com")...)
	want := "--discovery-url " + as.URL + "/.well-known/oauth-authorization-server gives the issuer " + as.URL + ", but --issuer is https://idp.example.com"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("token = %v, want %q", err, want)
	}
	if n := tokens.Load(); n != 0 {
		t.Errorf("token requests = %d, want 0", n)
	}
	stdout, _, err := runCmd(t, trustEnv, append(base, "--issuer", as.URL+"/")...)
	if err != nil || !strings.Contains(stdout, "opaque-token") || tokens.Load() != 1 {
		t.Errorf("token --issuer %s/ = %q, %v after %d token requests, want the token", as.URL, stdout, err, tokens.Load())
	}
}
