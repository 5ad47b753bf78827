//go:build unix

package oidc_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agentcore-proxy/agentcore-proxy/discovery"
	"github.com/agentcore-proxy/agentcore-proxy/internal/cli"
	"github.com/agentcore-proxy/agentcore-proxy/internal/emulator"
	"github.com/agentcore-proxy/agentcore-proxy/tokencache"
)

// logBuffer collects the proxy's log safely across goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startAgentcoreProxy runs agentcore-proxy serve in-process with args (after
// --listen) and env, and returns its base URL once /readyz says ready.
func startAgentcoreProxy(t *testing.T, env map[string]string, args ...string) (string, *logBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	logs := &logBuffer{}
	done := make(chan error, 1)
	go func() {
		err := cli.Run(ctx, append([]string{"serve", "--listen", "127.0.0.1:0", "--log-format", "json"}, args...),
			cli.Env{Getenv: func(k string) string { return env[k] }, Stdin: strings.NewReader(""), Stdout: pw, Stderr: logs})
		pw.Close()
		done <- err
	}()
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if _, after, ok := strings.Cut(sc.Text(), " listening on "); ok {
				addr <- strings.Fields(after)[0]
			}
		}
		close(addr)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		if strings.Contains(logs.String(), basicSecret) || strings.Contains(logs.String(), "PRIVATE KEY") {
			t.Errorf("the proxy logged the client secret or key")
		}
	})
	base, ok := <-addr
	if !ok {
		t.Fatalf("serve ended before listening: %v\n%s", <-done, logs)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base, logs
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("proxy not ready within 20s:\n%s", logs)
		}
		time.Sleep(20 * time.Millisecond) // polling /readyz, not synchronization
	}
}

// callThrough lists the tools at mcpURL with the Go SDK client and calls
// tool with args.
func callThrough(t *testing.T, mcpURL, tool string, args map[string]any) *mcp.CallToolResult {
	t.Helper()
	client := mcp.NewClient(&mcp.Implementation{Name: "oidc-proxy-e2e", Version: "0"}, nil)
	session, err := client.Connect(t.Context(), &mcp.StreamableClientTransport{Endpoint: mcpURL, DisableStandaloneSSE: true, MaxRetries: -1}, nil)
	if err != nil {
		t.Fatalf("Connect(%s) = %v", mcpURL, err)
	}
	defer session.Close()
	tools, err := session.ListTools(t.Context(), nil)
	if err != nil || len(tools.Tools) == 0 {
		t.Fatalf("ListTools() = %v, %v", tools, err)
	}
	res, err := session.CallTool(t.Context(), &mcp.CallToolParams{Name: tool, Arguments: args})
	if err != nil || res.IsError {
		t.Fatalf("CallTool(%s) = %+v, %v", tool, res, err)
	}
	return res
}

// routeStatus reads the first route's discovery from /status.
func routeStatus(t *testing.T, base string) map[string]any {
	t.Helper()
	resp, err := http.Get(base + "/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st struct {
		Routes []struct {
			Discovery map[string]any `json:"discovery"`
			Token     map[string]any `json:"token"`
		} `json:"routes"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || len(st.Routes) == 0 {
		t.Fatalf("/status: %v", err)
	}
	out := st.Routes[0].Discovery
	out["claims"] = st.Routes[0].Token["claims"]
	out["fingerprint"] = st.Routes[0].Token["fingerprint"]
	return out
}

// TestProxyThroughRuntimeTrustingProvider: the real proxy with only the
// runtime ARN, its endpoint and a client id finds oidc-provider from the
// runtime's 401, sends the discovered resource (oidc-provider has no
// default resource, so without it the token would be opaque and refused),
// checks the JWT locally, and the Go SDK client lists and calls tools;
// likewise with private_key_jwt; and across a key rotation.
func TestProxyThroughRuntimeTrustingProvider(t *testing.T) {
	p := startProvider(t)
	as, err := discovery.DiscoverAuthServer(t.Context(), nil, p.issuer)
	if err != nil {
		t.Fatal(err)
	}
	kf, err := keyfunc.NewDefaultCtx(t.Context(), []string{as.JWKSURI})
	if err != nil {
		t.Fatal(err)
	}
	e, err := emulator.Start(t.Context(), emulator.Config{TrustedIssuer: &emulator.TrustedIssuer{Issuer: as.Issuer, Keyfunc: kf.Keyfunc}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	inv := e.InvocationURL("DEFAULT")
	e.SetAuthorizer(emulator.Authorizer{AllowedClients: []string{basicID, jwtID}, AllowedAudience: []string{inv}})
	target := []string{"--runtime-arn", e.RuntimeARN(), "--endpoint-url", e.EndpointURL()}

	t.Run("basic with the discovered resource", func(t *testing.T) {
		base, _ := startAgentcoreProxy(t, map[string]string{"AGENTCORE_PROXY_CLIENT_SECRET": basicSecret},
			append(target, "--client-id", basicID, "--allowed-client", basicID, "--allowed-audience", inv)...)
		res := callThrough(t, base+"/mcp", "add_numbers", map[string]any{"a": 2, "b": 3})
		if got, _ := res.StructuredContent.(map[string]any); got["result"] != 5.0 {
			t.Errorf("add_numbers(2, 3) = %v, want 5", res.StructuredContent)
		}
		st := routeStatus(t, base)
		if st["source"] != "upstream" || st["issuer"] != p.issuer || st["sent_resource"] != inv || st["local_check"] != "jwt: checked against the issuer's key set" {
			t.Errorf("/status discovery = %v, want upstream, issuer %s, resource %s, checked as JWT", st, p.issuer, inv)
		}

		// Key rotation: the runtime refuses the token once; the proxy fetches
		// a new one, signed with the new key, which its checker accepts
		// after refreshing the key set, and the call goes through.
		before := routeStatus(t, base)["fingerprint"]
		newKid := p.rotate(t)
		e.InjectFault(emulator.Fault{Status: 401, Message: "Invalid token signature"}, 1)
		callThrough(t, base+"/mcp", "add_numbers", map[string]any{"a": 1, "b": 1})
		if after := routeStatus(t, base)["fingerprint"]; after == before || after == nil {
			t.Errorf("token fingerprint %v before the rotation, %v after: want a new token (kid %s)", before, after, newKid)
		}
	})

	t.Run("private_key_jwt", func(t *testing.T) {
		base, logs := startAgentcoreProxy(t, nil, append(target, "--client-id", jwtID, "--client-key-file", p.keyFile,
			"--client-key-id", "client-key-1", "--allowed-client", jwtID)...)
		callThrough(t, base+"/mcp", "add_numbers", map[string]any{"a": 4, "b": 5})
		if strings.Contains(logs.String(), "BEGIN") {
			t.Errorf("the log shows key material")
		}
	})

	t.Run("no resource: opaque token, not checked locally, refused by the runtime", func(t *testing.T) {
		base, _ := startAgentcoreProxy(t, map[string]string{"AGENTCORE_PROXY_CLIENT_SECRET": basicSecret},
			append(target, "--client-id", basicID, "--resource", "")...)
		client := mcp.NewClient(&mcp.Implementation{Name: "oidc-proxy-e2e", Version: "0"}, nil)
		_, err := client.Connect(t.Context(), &mcp.StreamableClientTransport{Endpoint: base + "/mcp", DisableStandaloneSSE: true, MaxRetries: -1}, nil)
		if err == nil || !strings.Contains(err.Error(), "could not parse the bearer token") {
			t.Errorf("Connect() = %v, want the runtime's refusal of an opaque token explained", err)
		}
		if st := routeStatus(t, base); st["local_check"] != "opaque: not checked locally" || st["sent_resource"] != nil {
			t.Errorf("/status discovery = %v, want opaque and no resource sent", st)
		}
	})
}

// TestProxyOpaqueTokensToIntrospectingServer: an MCP server outside
// AgentCore that accepts oidc-provider's opaque tokens (it introspects
// them) and publishes protected resource metadata; the proxy, told to send
// no resource, gets opaque tokens, skips local checks, and the Go SDK
// client lists and calls tools.
func TestProxyOpaqueTokensToIntrospectingServer(t *testing.T) {
	p := startProvider(t)
	as, err := discovery.DiscoverAuthServer(t.Context(), nil, p.issuer)
	if err != nil {
		t.Fatal(err)
	}
	var introspectURL string
	if err := getJSON(p.issuer+"/.well-known/openid-configuration", &struct {
		IntrospectionEndpoint *string `json:"introspection_endpoint"`
	}{&introspectURL}); err != nil || introspectURL == "" {
		t.Fatalf("introspection endpoint: %q, %v", introspectURL, err)
	}
	server := mcp.NewServer(&mcp.Implementation{Name: "opaque", Version: "1"}, nil)
	mcp.AddTool(server, &mcp.Tool{Name: "echo"}, func(_ context.Context, _ *mcp.CallToolRequest, in struct{ Text string }) (*mcp.CallToolResult, any, error) {
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: in.Text}}}, nil, nil
	})
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, nil)
	var up *httptest.Server
	up = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/.well-known/oauth-protected-resource/mcp" {
			json.NewEncoder(w).Encode(map[string]any{"resource": up.URL + "/mcp", "authorization_servers": []string{as.Issuer}})
			return
		}
		tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if tok == "" || tokencache.IsJWT(tok) || !introspect(introspectURL, tok) {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token", resource_metadata="`+up.URL+`/.well-known/oauth-protected-resource/mcp"`)
			http.Error(w, "want an active opaque token", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(up.Close)

	base, logs := startAgentcoreProxy(t, map[string]string{"AGENTCORE_PROXY_CLIENT_SECRET": basicSecret},
		"--upstream-url", up.URL+"/mcp", "--client-id", basicID, "--resource", "")
	callThrough(t, base+"/mcp", "echo", map[string]any{"Text": "hi"})
	if st := routeStatus(t, base); st["local_check"] != "opaque: not checked locally" {
		t.Errorf("/status local_check = %v, want opaque: not checked locally", st["local_check"])
	}
	if n := strings.Count(logs.String(), "not a JWT"); n != 1 {
		t.Errorf("the opaque-token notice was logged %d times, want once:\n%s", n, logs)
	}
}

func getJSON(u string, v any) error {
	resp, err := http.Get(u)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(v)
}

// introspect asks the provider whether tok is active (RFC 7662), as the
// basic client.
func introspect(endpoint, tok string) bool {
	req, _ := http.NewRequest(http.MethodPost, endpoint, strings.NewReader(url.Values{"token": {tok}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(basicID, basicSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var out struct {
		Active bool `json:"active"`
	}
	return json.NewDecoder(resp.Body).Decode(&out) == nil && out.Active
}

// TestProxyUnregisteredKeyIsExplained: a private_key_jwt client signing with
// a key the provider does not know gets invalid_client, which the proxy
// explains in terms of the key, not a secret.
func TestProxyUnregisteredKeyIsExplained(t *testing.T) {
	p := startProvider(t)
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(ec)
	keyFile := filepath.Join(t.TempDir(), "other.pem")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut strings.Builder
	err = cli.Run(t.Context(), []string{"token", "--discovery-url", p.issuer, "--upstream-url", "http://127.0.0.1:1/mcp", "--client-id", jwtID, "--client-key-file", keyFile},
		cli.Env{Getenv: func(string) string { return "" }, Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut})
	if err == nil {
		t.Fatalf("token with an unregistered key = nil error, want invalid_client")
	}
	for _, want := range []string{"register the public key of ES256 key", "--client-key-file", "--client-assertion-aud"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("token error lacks %q: %v", want, err)
		}
	}
	if out.Len() != 0 {
		t.Errorf("token printed %q, want nothing", out.String())
	}
}
