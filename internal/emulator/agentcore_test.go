package emulator

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/agentcore-proxy/agentcore-proxy/internal/redact"
	"github.com/golang-jwt/jwt/v5"
)

const initializeBody = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"emulator-test","version":"1"}}}`

type rawResponse struct {
	status int
	header http.Header
	body   string
}

// rawInvoke sends an MCP initialize request (or an empty body for GET/DELETE) with an optional bearer.
func rawInvoke(t *testing.T, e *Emulator, method, rawURL, token string, header http.Header) rawResponse {
	t.Helper()
	var body io.Reader
	if method == http.MethodPost {
		body = strings.NewReader(initializeBody)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, rawURL, body)
	if err != nil {
		t.Fatalf("NewRequest(%s, %q) error = %v", method, rawURL, err)
	}
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := testHTTPClient().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, rawURL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, rawURL, err)
	}
	return rawResponse{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

func TestRejections(t *testing.T) {
	e := startEmulator(t, Config{})
	arn := e.RuntimeARN()
	good := invocationURL(t, e.EndpointURL(), arn, "qualifier=DEFAULT")
	token := fetchToken(t, e)
	now := time.Now().Unix()

	foreignKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	signForeign := func(kid string) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{"iss": e.Issuer(), "client_id": demoID, "exp": now + 3600})
		tok.Header["kid"] = kid
		s, err := tok.SignedString(foreignKey)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	mustSign := func(claims map[string]any) string {
		s, err := e.SignClaims(claims)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	unauthorized := func(msg string) string {
		return `{"jsonrpc":"2.0","error":{"code":-32001,"message":"` + msg + `"}}`
	}
	notFound := func(q, agent string) string {
		return `{"message":"No endpoint or agent found with qualifier '` + q + `' for agent '` + agent + `'"}`
	}
	otherAccount := strings.Replace(arn, "123456789012", "210987654321", 1)
	otherRegion := strings.Replace(arn, "us-west-2", "us-east-1", 1)
	const missingAuth = `{"message":"Missing Authentication Token"}`

	tests := []struct {
		name          string
		method        string
		url           string
		token         string
		header        http.Header
		authorizer    *Authorizer
		wantStatus    int
		wantBody      string
		wantChallenge bool
		wantReason    string
	}{
		{name: "no token", url: good, wantStatus: 401, wantBody: unauthorized("Missing Authentication Token"), wantChallenge: true, wantReason: ReasonMissingToken},
		{name: "empty bearer", url: good, header: http.Header{"Authorization": {"Bearer "}}, wantStatus: 401, wantBody: unauthorized("Missing Authentication Token"), wantChallenge: true, wantReason: ReasonMissingToken},
		{name: "not a JWT", url: good, token: "not-a-jwt", wantStatus: 403, wantBody: `{"message":"OAuth authorization failed: Failed to parse token"}`, wantReason: ReasonUnparseableToken},
		{name: "foreign key, known kid", url: good, token: signForeign(e.SigningKeyID()), wantStatus: 401, wantBody: unauthorized("Invalid token signature"), wantChallenge: true, wantReason: ReasonBadSignature},
		{name: "unknown kid", url: good, token: signForeign("unknown"), wantStatus: 401, wantBody: unauthorized("Invalid token signature"), wantChallenge: true, wantReason: ReasonBadSignature},
		{name: "foreign issuer", url: good, token: mustSign(map[string]any{"iss": "https://cognito-idp.us-west-2.amazonaws.com/us-west-2_other", "client_id": demoID, "exp": now + 3600}), wantStatus: 401, wantBody: unauthorized("Claim 'iss' value mismatch with configuration."), wantChallenge: true, wantReason: ReasonIssMismatch},
		{name: "ID token has no client_id", url: good, token: mustSign(map[string]any{"iss": e.Issuer(), "aud": demoID, "token_use": "id", "exp": now + 3600}), wantStatus: 401, wantBody: unauthorized("Claim 'client_id' value mismatch with configuration."), wantChallenge: true, wantReason: ReasonClientIDMismatch},
		{name: "client not allowed", url: good, token: token, authorizer: &Authorizer{AllowedClients: []string{"someone-else"}}, wantStatus: 401, wantBody: unauthorized("Claim 'client_id' value mismatch with configuration."), wantChallenge: true, wantReason: ReasonClientIDMismatch},
		{name: "access token has no aud", url: good, token: token, authorizer: &Authorizer{AllowedAudience: []string{demoID}}, wantStatus: 401, wantBody: unauthorized("Claim 'aud' value mismatch with configuration."), wantChallenge: true, wantReason: ReasonAudMismatch},
		{name: "scope not allowed", url: good, token: token, authorizer: &Authorizer{AllowedClients: []string{demoID}, AllowedScopes: []string{"other/write"}}, wantStatus: 401, wantBody: unauthorized("Claim 'scope' value mismatch with configuration."), wantChallenge: true, wantReason: ReasonScopeMismatch},
		{name: "other account", url: invocationURL(t, e.EndpointURL(), otherAccount, "qualifier=DEFAULT"), token: token, wantStatus: 404, wantBody: notFound("DEFAULT", otherAccount), wantReason: ReasonUnknownRuntime},
		{name: "other region", url: invocationURL(t, e.EndpointURL(), otherRegion, ""), token: token, wantStatus: 404, wantBody: notFound("DEFAULT", otherRegion), wantReason: ReasonUnknownRuntime},
		{name: "unknown qualifier", url: invocationURL(t, e.EndpointURL(), arn, "qualifier=PROD"), token: token, wantStatus: 404, wantBody: notFound("PROD", arn), wantReason: ReasonUnknownQualifier},
		{name: "unescaped ARN", url: e.EndpointURL() + "/runtimes/" + arn + "/invocations?qualifier=DEFAULT", token: token, wantStatus: 403, wantBody: missingAuth, wantReason: ReasonMissingAuthPath},
		{name: "path short of invocations", url: e.EndpointURL() + "/runtimes/" + escapeAll(arn), token: token, wantStatus: 403, wantBody: missingAuth, wantReason: ReasonMissingAuthPath},
		{name: "root path", url: e.EndpointURL() + "/", token: token, wantStatus: 403, wantBody: missingAuth, wantReason: ReasonMissingAuthPath},
		{name: "trailing slash", url: e.EndpointURL() + "/runtimes/" + escapeAll(arn) + "/invocations/", token: token, wantStatus: 403, wantBody: missingAuth, wantReason: ReasonMissingAuthPath},
		{name: "short runtime session id", url: good, token: token, header: http.Header{"X-Amzn-Bedrock-Agentcore-Runtime-Session-Id": {"too-short"}}, wantStatus: 400, wantBody: `{"message":"1 validation error detected: Value at 'runtimeSessionId' failed to satisfy constraint: Member must have length greater than or equal to 33"}`, wantReason: ReasonSessionIDTooShort},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := Authorizer{AllowedClients: []string{demoID}}
			if tc.authorizer != nil {
				a = *tc.authorizer
			}
			e.SetAuthorizer(a)
			before := e.Stats()
			method := tc.method
			if method == "" {
				method = http.MethodPost
			}
			resp := rawInvoke(t, e, method, tc.url, tc.token, tc.header)
			if resp.status != tc.wantStatus || resp.body != tc.wantBody {
				t.Errorf("%s %s = %d %s, want %d %s", method, tc.url, resp.status, resp.body, tc.wantStatus, tc.wantBody)
			}
			challenge := resp.header.Get("WWW-Authenticate")
			if want := `Bearer resource_metadata="` + e.EndpointURL() + "/runtimes/" + escapeAll(arn) + `/invocations/.well-known/oauth-protected-resource?qualifier=DEFAULT"`; tc.wantChallenge && challenge != want {
				t.Errorf("WWW-Authenticate = %q, want %q", challenge, want)
			} else if !tc.wantChallenge && challenge != "" {
				t.Errorf("WWW-Authenticate = %q, want none", challenge)
			}
			after := e.Stats()
			if after.Rejections[tc.wantReason] != before.Rejections[tc.wantReason]+1 || after.Invocations != before.Invocations {
				t.Errorf("Stats() = %+v after %+v, want one more %s rejection and no invocation", after, before, tc.wantReason)
			}
			invs := e.Invocations()
			last := invs[len(invs)-1]
			if last.Rejection != tc.wantReason || last.Method != method {
				t.Errorf("last Invocation = %+v, want rejection %q", last, tc.wantReason)
			}
			if tc.token != "" && strings.Contains(last.Header.Get("Authorization"), tc.token) {
				t.Errorf("Invocation.Header carries the token")
			}
		})
	}
}

func TestProtectedResourceMetadata(t *testing.T) {
	e := startEmulator(t, Config{Qualifiers: []string{"DEFAULT", "PROD"}})
	resp := rawInvoke(t, e, http.MethodPost, e.InvocationURL("PROD"), "", nil)
	challenge := resp.header.Get("WWW-Authenticate")
	metaURL, ok := strings.CutPrefix(challenge, `Bearer resource_metadata="`)
	if resp.status != http.StatusUnauthorized || !ok {
		t.Fatalf("unauthenticated invoke = %d, WWW-Authenticate %q; want 401 with resource_metadata", resp.status, challenge)
	}
	status, doc := getJSON(t, strings.TrimSuffix(metaURL, `"`))
	want := map[string]any{
		"resource":              e.InvocationURL("PROD"),
		"authorization_servers": []any{e.Issuer()},
	}
	if status != http.StatusOK || !jsonEqual(doc, want) {
		t.Errorf("GET %s = %d %v, want 200 %v", metaURL, status, doc, want)
	}
	if s := e.Stats(); s.Invocations != 0 || len(e.Invocations()) != 2 {
		t.Errorf("Stats().Invocations = %d, recorded %d; want 0 and 2", s.Invocations, len(e.Invocations()))
	}
}

func TestExpiredToken(t *testing.T) {
	e := startEmulator(t, Config{})
	e.SetTokenLifetime(time.Second)
	token := fetchToken(t, e)
	_, claims := decodeClaims(t, token)
	exp, _ := claims["exp"].(interface{ Int64() (int64, error) }).Int64()
	iat, _ := claims["iat"].(interface{ Int64() (int64, error) }).Int64()
	if exp-iat != 1 {
		t.Fatalf("exp-iat = %d, want 1", exp-iat)
	}

	// Poll until the emulator sees the token as expired; a 1 s token must expire well within 5 s.
	deadline := time.Now().Add(5 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var resp rawResponse
	for {
		resp = rawInvoke(t, e, http.MethodPost, e.InvocationURL(""), token, nil)
		if resp.status != http.StatusOK || time.Now().After(deadline) {
			break
		}
		<-tick.C
	}
	if want := `{"jsonrpc":"2.0","error":{"code":-32001,"message":"Token has expired"}}`; resp.status != 401 || resp.body != want {
		t.Fatalf("invoke with an expired token = %d %s, want 401 %s", resp.status, resp.body, want)
	}
	if resp.header.Get("WWW-Authenticate") == "" {
		t.Errorf("expired-token 401 has no WWW-Authenticate")
	}
	invs := e.Invocations()
	last := invs[len(invs)-1]
	if last.Rejection != ReasonExpiredToken || !last.TokenExpiry.Equal(time.Unix(exp, 0)) || !last.ReceivedAt.After(last.TokenExpiry.Add(-time.Millisecond)) {
		t.Errorf("last Invocation = %+v, want expired_token with TokenExpiry %v", last, time.Unix(exp, 0))
	}
	if e.Stats().Rejections[ReasonExpiredToken] != 1 {
		t.Errorf("Stats().Rejections = %v, want one expired_token", e.Stats().Rejections)
	}
}

func TestInvocationHeaders(t *testing.T) {
	e := startEmulator(t, Config{})
	token := fetchToken(t, e)
	u := invocationURL(t, e.EndpointURL(), e.RuntimeARN(), "qualifier=DEFAULT")
	if u != e.InvocationURL("DEFAULT") {
		t.Errorf("InvocationURL(DEFAULT) = %q, want %q", e.InvocationURL("DEFAULT"), u)
	}
	mcpSIDShape := regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9\-_]{0,99}$`)
	runtimeSID := strings.Repeat("r", 33)
	tests := []struct {
		name          string
		method        string
		header        http.Header
		wantStatus    int
		wantMcpSID    string // "" means minted
		wantRuntime   string // "" means minted
		wantTraceEcho bool
	}{
		{name: "initialize, ids minted", method: http.MethodPost, wantStatus: 200},
		{name: "ids echoed with tracing", method: http.MethodPost, wantStatus: 200, wantMcpSID: "client-session-1", wantRuntime: runtimeSID, wantTraceEcho: true,
			header: http.Header{"Mcp-Session-Id": {"client-session-1"}, "X-Amzn-Bedrock-Agentcore-Runtime-Session-Id": {runtimeSID},
				"X-Amzn-Trace-Id": {"Root=1-67891233-abcdef012345678912345678"}, "Traceparent": {"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}}},
		{name: "GET gets the stateless server's 405", method: http.MethodGet, wantStatus: 405},
		{name: "DELETE gets the stateless server's 405", method: http.MethodDelete, wantStatus: 405},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := len(e.Invocations())
			resp := rawInvoke(t, e, tc.method, u, token, tc.header)
			if resp.status != tc.wantStatus {
				t.Fatalf("%s = %d %s, want %d", tc.method, resp.status, resp.body, tc.wantStatus)
			}
			if tc.method == http.MethodPost && (!strings.Contains(resp.body, `"serverInfo":{"name":"agentcore-emulator"`) || resp.header.Get("Content-Type") != "text/event-stream") {
				t.Errorf("initialize reply = %q (%s), want an SSE InitializeResult", resp.body, resp.header.Get("Content-Type"))
			}
			mcpSID, rtSID := resp.header.Get("Mcp-Session-Id"), resp.header.Get("X-Amzn-Bedrock-AgentCore-Runtime-Session-Id")
			if tc.wantMcpSID != "" && mcpSID != tc.wantMcpSID || !mcpSIDShape.MatchString(mcpSID) {
				t.Errorf("Mcp-Session-Id = %q, want %q or a minted id", mcpSID, tc.wantMcpSID)
			}
			if tc.wantRuntime != "" && rtSID != tc.wantRuntime || len(rtSID) < 36 && tc.wantRuntime == "" {
				t.Errorf("runtime session id = %q, want %q or a minted 36-char id", rtSID, tc.wantRuntime)
			}
			for _, h := range []string{"X-Amzn-Trace-Id", "Traceparent"} {
				if got, want := resp.header.Get(h), tc.header.Get(h); tc.wantTraceEcho && got != want {
					t.Errorf("%s = %q, want %q", h, got, want)
				}
			}
			invs := e.Invocations()
			if len(invs) != n+1 {
				t.Fatalf("len(Invocations()) = %d, want %d", len(invs), n+1)
			}
			inv := invs[n]
			want := Invocation{Method: tc.method, RawPath: "/runtimes/" + escapeAll(e.RuntimeARN()) + "/invocations", RawQuery: "qualifier=DEFAULT"}
			if inv.Method != want.Method || inv.RawPath != want.RawPath || inv.RawQuery != want.RawQuery || inv.Rejection != "" {
				t.Errorf("Invocation = %+v, want %+v", inv, want)
			}
			if got := inv.Header.Get("Authorization"); got != "Bearer "+redact.Fingerprint(token) {
				t.Errorf("Invocation Authorization = %q, want the fingerprint", got)
			}
		})
	}
	if s := e.Stats(); s.Invocations != len(tests) || len(s.Rejections) != 0 {
		t.Errorf("Stats() = %+v, want %d invocations and no rejections", s, len(tests))
	}
}

func TestBareRuntimeIDWithAccount(t *testing.T) {
	e := startEmulator(t, Config{})
	token := fetchToken(t, e)
	tests := []struct {
		name       string
		query      string
		wantStatus int
	}{
		{name: "account matches", query: "qualifier=DEFAULT&accountId=123456789012", wantStatus: http.StatusOK},
		{name: "other account", query: "qualifier=DEFAULT&accountId=210987654321", wantStatus: http.StatusNotFound},
		{name: "no account", query: "qualifier=DEFAULT", wantStatus: http.StatusNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := e.EndpointURL() + "/runtimes/demo_mcp_server-EMUL8R0001/invocations?" + tc.query
			if resp := rawInvoke(t, e, http.MethodPost, u, token, nil); resp.status != tc.wantStatus {
				t.Errorf("POST %s = %d %s, want %d", u, resp.status, resp.body, tc.wantStatus)
			}
		})
	}
}

func TestStartStopsWhenContextDone(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	e, err := Start(ctx, Config{})
	if err != nil {
		t.Fatalf("Start() error = %v", err)
	}
	if status, _ := getJSON(t, e.DiscoveryURL()); status != http.StatusOK {
		t.Fatalf("GET discovery = %d, want 200", status)
	}
	cancel()
	if err := e.Close(); err != nil {
		t.Errorf("Close() after ctx done = %v, want nil", err)
	}
	for _, u := range []string{e.DiscoveryURL(), e.InvocationURL("")} {
		if resp, err := testHTTPClient().Get(u); err == nil {
			resp.Body.Close()
			t.Errorf("GET %s after shutdown succeeded with %d, want a connection error", u, resp.StatusCode)
		}
	}
}
