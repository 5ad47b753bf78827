package route

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/agentcore-proxy/agentcore-proxy/internal/config"
	"github.com/agentcore-proxy/agentcore-proxy/internal/emulator"
	"github.com/agentcore-proxy/agentcore-proxy/proxy"
)

// resolve validates one route made of flags, with secret as
// AGENTCORE_PROXY_CLIENT_SECRET.
func resolve(t *testing.T, rf config.RouteFlags, secret string) config.Resolved {
	t.Helper()
	rf.SecretInEnv = secret != ""
	if rf.RuntimeConfig == "" {
		rf.RuntimeConfig = config.RuntimeConfigOff // these tests are not about the runtime configuration
	}
	routes, err := config.FromFlags("127.0.0.1:0", rf).Validate(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if err := config.ReadSecrets(routes, func(string) string { return secret }); err != nil {
		t.Fatal(err)
	}
	return routes[0]
}

// build builds r with deps (its Auth and Upstream filled in when nil) and
// stops its token machinery when the test ends.
func build(t *testing.T, r config.Resolved, deps Deps) *Route {
	t.Helper()
	if deps.Auth == nil {
		deps.Auth = NewAuthSetup(AuthOptions{})
	}
	if deps.Upstream == nil {
		up := proxy.NewTransport(proxy.TransportOptions{})
		deps.Upstream = up
		t.Cleanup(up.CloseIdleConnections)
	}
	life, stop := context.WithCancel(context.Background())
	t.Cleanup(func() {
		stop()
		deps.Auth.Wait()
		deps.Auth.CloseIdleConnections()
	})
	rt, err := Build(t.Context(), life, r, deps)
	if err != nil {
		t.Fatalf("Build(%s) = %v", r.Name, err)
	}
	return rt
}

func call(h http.Handler, body string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/mcp", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	h.ServeHTTP(rec, req)
	return rec
}

const reply = `{"jsonrpc":"2.0","id":1,"result":{}}`

// TestBuildShapesHandler: the handler Build returns carries the body cap,
// the stream bound, the hooks and the shared upstream transport.
func TestBuildShapesHandler(t *testing.T) {
	var deadline time.Time
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, reply)
	}))
	t.Cleanup(up.Close)
	var done []proxy.Summary
	wrapped := false
	deps := Deps{MaxBodyBytes: 1024, MaxStreamDuration: time.Minute,
		Hooks: func(name string) Hooks {
			return Hooks{
				OnDone: func(s proxy.Summary) { done = append(done, s) },
				Wrap: func(h http.Handler) http.Handler {
					return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						wrapped = true
						deadline, _ = r.Context().Deadline()
						h.ServeHTTP(w, r)
					})
				},
			}
		}}
	rt := build(t, resolve(t, config.RouteFlags{UpstreamURL: up.URL + "/mcp"}, ""), deps)
	if rt.Auth != nil || rt.Tokens != nil || rt.SigV4 != nil {
		t.Errorf("a route without auth got Auth %v, Tokens %v, SigV4 %v; want none", rt.Auth, rt.Tokens, rt.SigV4)
	}
	if _, ok := rt.TokenState(); ok {
		t.Errorf("TokenState of a route without auth = ok, want none")
	}
	if rec := call(rt.Handler, `{"jsonrpc":"2.0","id":1,"method":"ping"}`); rec.Code != 200 || rec.Body.String() != reply {
		t.Errorf("call = %d %q, want 200 and the upstream's reply", rec.Code, rec.Body)
	}
	if !wrapped || len(done) != 1 || done[0].Route != "default" {
		t.Errorf("hooks: wrapped %v, OnDone %+v; want the handler wrapped and one summary for route default", wrapped, done)
	}
	if !deadline.IsZero() {
		t.Errorf("the Wrap hook saw a deadline: it must wrap outermost, outside the stream bound")
	}
	big := `{"jsonrpc":"2.0","id":1,"method":"ping","params":{"pad":"` + strings.Repeat("x", 2048) + `"}}`
	if rec := call(rt.Handler, big); rec.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("a 2 KiB body with MaxBodyBytes 1024 = %d, want 413", rec.Code)
	}
}

// TestBuildOAuthRoute: an OAuth route gets its token machinery and a token
// source that the handler uses; its state shows the token.
func TestBuildOAuthRoute(t *testing.T) {
	emu, err := emulator.Start(t.Context(), emulator.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	r := resolve(t, config.RouteFlags{RuntimeARN: emu.RuntimeARN(), EndpointURL: emu.EndpointURL(), DiscoveryURL: emu.DiscoveryURL(),
		ClientID: "demo-client-id"}, "demo-client-secret")
	rt := build(t, r, Deps{SessionRecovery: true})
	if rt.Auth == nil || rt.Tokens == nil || rt.Auth.Checker == nil {
		t.Fatalf("Build(OAuth route) = Auth %v, Tokens %v; want both, with a checker", rt.Auth, rt.Tokens)
	}
	if rec := call(rt.Handler, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`); rec.Code != 200 {
		t.Fatalf("initialize = %d %s, want 200", rec.Code, rec.Body)
	}
	if st, ok := rt.TokenState(); !ok || !st.Valid || st.Fingerprint == "" {
		t.Errorf("TokenState = %+v, %v; want a valid token after a call", st, ok)
	}
	if got := rt.Auth.Claims(); !strings.Contains(got, "client_id=demo-client-id") {
		t.Errorf("Claims = %q, want the checked token's claims", got)
	}
	if st := emu.Stats(); st.TokenRequests != 1 {
		t.Errorf("token requests = %d, want 1", st.TokenRequests)
	}
}

// TestBuildSigV4Route: a SigV4 route signs with the credentials it is
// given, and fails to build, naming the setting, without any.
func TestBuildSigV4Route(t *testing.T) {
	emu, err := emulator.Start(t.Context(), emulator.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	emu.SetSigV4(true)
	r := resolve(t, config.RouteFlags{RuntimeARN: emu.RuntimeARN(), EndpointURL: emu.EndpointURL(), Auth: config.AuthSigV4}, "")
	key := emulator.DefaultAWSCredential
	auth := NewAuthSetup(AuthOptions{AWSCredentials: aws.NewCredentialsCache(aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: key.AccessKeyID, SecretAccessKey: key.SecretAccessKey}, nil
	}))})
	rt := build(t, r, Deps{Auth: auth})
	if rt.SigV4 == nil || rt.Tokens != nil {
		t.Fatalf("Build(SigV4 route) = SigV4 %v, Tokens %v; want signing and no token", rt.SigV4, rt.Tokens)
	}
	if rd := rt.SigV4.Readiness(); !rd.Ready || rd.Auth != config.AuthSigV4 || rd.SignerFingerprint == "" {
		t.Errorf("Readiness = %+v, want ready, sigv4, with the key's fingerprint", rd)
	}
	if rec := call(rt.Handler, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`); rec.Code != 200 {
		t.Errorf("initialize = %d %s, want 200 (signed)", rec.Code, rec.Body)
	}
	none := NewAuthSetup(AuthOptions{AWSCredentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{}, context.DeadlineExceeded
	})})
	life, stop := context.WithCancel(context.Background())
	defer stop()
	if _, err := Build(t.Context(), life, r, Deps{Auth: none, Upstream: http.DefaultTransport}); err == nil || !strings.Contains(err.Error(), "--auth sigv4") {
		t.Errorf("Build without credentials = %v, want an error naming --auth sigv4", err)
	}
}
