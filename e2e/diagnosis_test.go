package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentcore-proxy/agentcore-proxy/agentcore"
	"github.com/agentcore-proxy/agentcore-proxy/internal/emulator"
	"github.com/agentcore-proxy/agentcore-proxy/proxy"
)

// metricValue reads one sample from the proxy's /metrics.
func metricValue(t *testing.T, p *runningProxy, name, reason string) float64 {
	t.Helper()
	body := scrape(t, p.BaseURL+"/metrics")
	re := regexp.MustCompile(`(?m)^` + name + `\{reason="` + regexp.QuoteMeta(reason) + `",route="default"\} (\S+)$`)
	m := re.FindStringSubmatch(body)
	if m == nil {
		return 0
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return v
}

// opaqueTokenServer is a token endpoint that issues what tokens(n) returns
// for the n-th request: a way to send AgentCore tokens Cognito never would.
func opaqueTokenServer(t *testing.T, tokens func(n int64) string) string {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":%q,"token_type":"Bearer","expires_in":3600}`, tokens(n.Add(1)))
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/oauth2/token"
}

func TestEveryReasonExplained(t *testing.T) {
	tests := []struct {
		name       string
		setup      func(t *testing.T, emu *emulator.Emulator) setup
		wantStatus int
		wantReason string
		wantMsg    []string // substrings of the JSON-RPC error message
		upFront    bool     // the token was never sent: AgentCore sees nothing
		wantCalls  int      // requests AgentCore sees (ignored when upFront)
	}{
		// Tokens the proxy would not send.
		{name: "aud rule, Cognito token has no aud", upFront: true, wantStatus: 503, wantReason: "claim_aud",
			wantMsg: []string{"never carry `aud`", "allowedClients"},
			setup: func(_ *testing.T, emu *emulator.Emulator) setup {
				return setup{flags: proxyFlags(emu, "--allowed-audience", "my-api")}
			}},
		{name: "scope rule", upFront: true, wantStatus: 503, wantReason: "claim_scope", wantMsg: []string{"--scope"},
			setup: func(_ *testing.T, emu *emulator.Emulator) setup {
				return setup{flags: proxyFlags(emu, "--allowed-scope", "other-server/write")}
			}},
		{name: "client rule", upFront: true, wantStatus: 503, wantReason: "claim_client_id", wantMsg: []string{"allowedClients"},
			setup: func(_ *testing.T, emu *emulator.Emulator) setup {
				return setup{flags: proxyFlags(emu, "--allowed-client", "someone-else")}
			}},
		{name: "ID token instead of access token", upFront: true, wantStatus: 503, wantReason: "id_token", wantMsg: []string{"ID token", "client_credentials"},
			setup: func(t *testing.T, emu *emulator.Emulator) setup {
				url := opaqueTokenServer(t, func(int64) string {
					tok, err := emu.SignClaims(map[string]any{"iss": emu.Issuer(), "aud": testClientID, "token_use": "id", "sub": "user-1",
						"exp": time.Now().Add(time.Hour).Unix(), "iat": time.Now().Unix()})
					if err != nil {
						t.Error(err)
					}
					return tok
				})
				return setup{flags: proxyFlags(emu, "--token-url", url)}
			}},
		// Answers from AgentCore.
		{name: "runtime allows another client", wantStatus: 401, wantReason: "claim_client_id", wantCalls: 1,
			wantMsg: []string{"Claim 'client_id' value mismatch", `add client "demo-client-id"`},
			setup: func(_ *testing.T, emu *emulator.Emulator) setup {
				emu.SetAuthorizer(emulator.Authorizer{AllowedClients: []string{"another-client"}})
				return setup{}
			}},
		{name: "runtime requires aud", wantStatus: 401, wantReason: "claim_aud", wantCalls: 1, wantMsg: []string{"Claim 'aud'", "pre-token-generation"},
			setup: func(_ *testing.T, emu *emulator.Emulator) setup {
				emu.SetAuthorizer(emulator.Authorizer{AllowedAudience: []string{"my-api"}})
				return setup{}
			}},
		{name: "runtime requires another scope", wantStatus: 401, wantReason: "claim_scope", wantCalls: 1, wantMsg: []string{"Claim 'scope'", "--scope"},
			setup: func(_ *testing.T, emu *emulator.Emulator) setup {
				emu.SetAuthorizer(emulator.Authorizer{AllowedScopes: []string{"other-server/write"}})
				return setup{}
			}},
		{name: "issuer mismatch", wantStatus: 401, wantReason: "claim_iss", wantCalls: 1, wantMsg: []string{"--discovery-url"},
			setup: func(_ *testing.T, emu *emulator.Emulator) setup {
				emu.InjectFault(emulator.Fault{Status: 401, Message: "Claim 'iss' value mismatch with configuration."}, 1)
				return setup{}
			}},
		{name: "custom claim mismatch", wantStatus: 401, wantReason: "claim_custom", wantCalls: 1, wantMsg: []string{"department"},
			setup: func(_ *testing.T, emu *emulator.Emulator) setup {
				emu.InjectFault(emulator.Fault{Status: 401, Message: "Claim 'department' value mismatch with configuration."}, 1)
				return setup{}
			}},
		{name: "expired token (clock behind)", wantStatus: 401, wantReason: "expired_token", wantCalls: 2, wantMsg: []string{"clock"},
			setup: func(_ *testing.T, emu *emulator.Emulator) setup {
				emu.SetClockSkew(2 * time.Hour)
				return setup{}
			}},
		{name: "token from another pool", wantStatus: 401, wantReason: "invalid_token", wantCalls: 2, wantMsg: []string{"--discovery-url"},
			setup: func(t *testing.T, emu *emulator.Emulator) setup {
				other := startEmulator(t, emulator.Config{PoolID: "us-west-2_OTHERPOOL"})
				// Only a token URL: no discovery, so no up-front check.
				flags := []string{"serve", "--listen", "127.0.0.1:0", "--log-format", "json", "--runtime-arn", emu.RuntimeARN(),
					"--endpoint-url", emu.EndpointURL(), "--token-url", other.TokenURL(), "--client-id", testClientID}
				return setup{flags: flags}
			}},
		{name: "unparseable token", wantStatus: 403, wantReason: "unparseable_token", wantCalls: 1, wantMsg: []string{"Failed to parse token"},
			setup: func(t *testing.T, emu *emulator.Emulator) setup {
				url := opaqueTokenServer(t, func(n int64) string { return fmt.Sprintf("opaque-%d", n) })
				return setup{flags: []string{"serve", "--listen", "127.0.0.1:0", "--log-format", "json", "--runtime-arn", emu.RuntimeARN(),
					"--endpoint-url", emu.EndpointURL(), "--token-url", url, "--client-id", testClientID}}
			}},
		{name: "SigV4 runtime", wantStatus: 403, wantReason: "sigv4_runtime", wantCalls: 1, wantMsg: []string{"SigV4"},
			setup: func(_ *testing.T, emu *emulator.Emulator) setup {
				emu.SetSigV4(true)
				return setup{}
			}},
		// Answers to requests the proxy signed with SigV4 (--auth sigv4).
		{name: "SigV4 to an OAuth runtime", wantStatus: 403, wantReason: "oauth_runtime_sigv4", wantCalls: 1, wantMsg: []string{"OAuth (JWT) authorizer", "--auth oauth"},
			setup: sigv4Row(nil, nil)},
		{name: "SigV4 signature mismatch", wantStatus: 403, wantReason: "sigv4_signature_mismatch", wantCalls: 1, wantMsg: []string{"does not match", "secret access key"},
			setup: sigv4Row(map[string]string{"AWS_SECRET_ACCESS_KEY": "not-the-secret-access-key"}, func(*emulator.Emulator) {})},
		{name: "SigV4 missing permission", wantStatus: 403, wantReason: "sigv4_access_denied", wantCalls: 1, wantMsg: []string{"bedrock-agentcore:InvokeAgentRuntime", "agentcore-proxy-policy.json"},
			setup: sigv4Row(nil, func(emu *emulator.Emulator) {
				emu.DenyAWSActions(emulator.DefaultAWSCredential.AccessKeyID, "bedrock-agentcore:InvokeAgentRuntime")
			})},
		{name: "SigV4 expired credentials", wantStatus: 403, wantReason: "sigv4_expired_credentials", wantCalls: 1, wantMsg: []string{"expired", "aws sso login"},
			setup: sigv4Row(nil, func(emu *emulator.Emulator) { emu.ExpireAWSCredential(emulator.DefaultAWSCredential.AccessKeyID) })},
		{name: "SigV4 clock skew", wantStatus: 403, wantReason: "sigv4_clock_skew", wantCalls: 1, wantMsg: []string{"Signature expired", "NTP"},
			setup: sigv4Row(nil, func(emu *emulator.Emulator) { emu.SetClockSkew(10 * time.Minute) })},
		{name: "SigV4 unknown key", wantStatus: 403, wantReason: "sigv4_unknown_key", wantCalls: 1, wantMsg: []string{"security token included in the request is invalid"},
			setup: sigv4Row(map[string]string{"AWS_ACCESS_KEY_ID": "AKIAUNKNOWNEXAMPLE12"}, func(*emulator.Emulator) {})},
		{name: "no token at all", wantStatus: 401, wantReason: "missing_token", wantCalls: 1, wantMsg: []string{"--client-id"},
			setup: func(_ *testing.T, emu *emulator.Emulator) setup {
				return setup{env: map[string]string{}, flags: []string{"serve", "--listen", "127.0.0.1:0", "--log-format", "json", "--upstream-url", emu.InvocationURL("DEFAULT")}}
			}},
		{name: "path short of invocations", wantStatus: 403, wantReason: "missing_auth_path", wantCalls: 1, wantMsg: []string{"--runtime-arn"},
			setup: func(_ *testing.T, emu *emulator.Emulator) setup {
				return setup{env: map[string]string{}, flags: []string{"serve", "--listen", "127.0.0.1:0", "--log-format", "json", "--upstream-url", emu.EndpointURL() + "/runtimes/demo/invoke"}}
			}},
		{name: "unknown runtime", wantStatus: 404, wantReason: "runtime_not_found", wantCalls: 1, wantMsg: []string{"No endpoint or agent found", "--runtime-arn"},
			setup: func(_ *testing.T, emu *emulator.Emulator) setup {
				return setup{flags: proxyFlags(emu, "--runtime-arn", strings.Replace(emu.RuntimeARN(), "EMUL8R0001", "NOSUCH0001", 1))}
			}},
		{name: "unknown qualifier", wantStatus: 404, wantReason: "runtime_not_found", wantCalls: 1, wantMsg: []string{"qualifier 'prod'"},
			setup: func(_ *testing.T, emu *emulator.Emulator) setup {
				return setup{flags: proxyFlags(emu, "--qualifier", "prod")}
			}},
		{name: "session gone", wantStatus: 404, wantReason: "session_not_found", wantCalls: 1, wantMsg: []string{"initialize again"},
			setup: func(_ *testing.T, emu *emulator.Emulator) setup {
				return setup{prepare: func(t *testing.T, emu *emulator.Emulator, p *runningProxy) http.Header {
					resp, _ := postRPC(t, p.MCPURL(), addCall(1), nil)
					sid := resp.Header.Get("Mcp-Session-Id")
					emu.EndSessions()
					return http.Header{"Mcp-Session-Id": {sid}}
				}}
			}},
		{name: "session busy", wantStatus: 409, wantReason: "session_conflict", wantCalls: 1, wantMsg: []string{"retry"},
			setup: injected(emulator.Fault{Status: 409, ErrorType: "RetryableConflictException", Message: "Session operation in progress, please retry"})},
		{name: "runtime init timeout", wantStatus: 424, wantReason: "runtime_init_timeout", wantCalls: 1, wantMsg: []string{"CloudWatch"},
			setup: injected(emulator.Fault{Status: 424, ErrorType: "RuntimeClientError", Message: "Runtime initialization time exceeded. Please make sure that initialization completes in 120s."})},
		{name: "container error", wantStatus: 424, wantReason: "runtime_client_error", wantCalls: 1, wantMsg: []string{"0.0.0.0:8000"},
			setup: injected(emulator.Fault{Status: 424, ErrorType: "RuntimeClientError", Message: "Received error (500) from runtime."})},
		{name: "throttled", wantStatus: 429, wantReason: "throttled", wantCalls: 1, wantMsg: []string{"Rate exceeded"},
			setup: injected(emulator.Fault{Status: 429, ErrorType: "ThrottlingException", Message: "Rate exceeded"})},
		{name: "quota", wantStatus: 402, wantReason: "quota_exceeded", wantCalls: 1, wantMsg: []string{"Service Quotas"},
			setup: injected(emulator.Fault{Status: 402, ErrorType: "ServiceQuotaExceededException", Message: "Maximum number of active sessions reached"})},
		{name: "service error", wantStatus: 500, wantReason: "upstream_error", wantCalls: 1, wantMsg: []string{"Retry"},
			setup: injected(emulator.Fault{Status: 500, ErrorType: "InternalServerException", Message: "Internal server error"})},
		{name: "session id rejected", wantStatus: 400, wantReason: "session_id_invalid", wantCalls: 1, wantMsg: []string{"33"},
			setup: injected(emulator.Fault{Status: 400, ErrorType: "ValidationException", Message: "1 validation error detected: Value at 'runtimeSessionId' failed to satisfy constraint: Member must have length greater than or equal to 33"})},
		{name: "other validation error", wantStatus: 400, wantReason: "validation_error", wantCalls: 1, wantMsg: []string{"ValidationException"},
			setup: injected(emulator.Fault{Status: 400, ErrorType: "ValidationException", Message: "Payload is malformed"})},
		{name: "not acceptable", wantStatus: 406, wantReason: "not_acceptable", wantCalls: 1, wantMsg: []string{"Accept"},
			setup: injected(emulator.Fault{Status: 406, Message: "Not Acceptable: Client must accept both application/json and text/event-stream"})},
		{name: "access denied", wantStatus: 403, wantReason: "access_denied", wantCalls: 1, wantMsg: []string{"denied"},
			setup: injected(emulator.Fault{Status: 403, Message: "User is not authorized to perform this action"})},
		{name: "insufficient scope outside --scope", wantStatus: 403, wantReason: "insufficient_scope", wantCalls: 1, wantMsg: []string{`"mcp:admin"`, "--scope"},
			setup: func(_ *testing.T, emu *emulator.Emulator) setup {
				emu.InjectFault(emulator.Fault{Status: 403, Message: "insufficient scope", Challenge: `Bearer error="insufficient_scope", scope="mcp:admin"`}, 1)
				return setup{flags: proxyFlags(emu, "--scope", "default-m2m-resource-server/read")}
			}},
		{name: "other status", wantStatus: 410, wantReason: "upstream_other", wantCalls: 1,
			setup: injected(emulator.Fault{Status: 410, Message: "Gone"})},
		{name: "wrong content type", wantStatus: 415, wantReason: "unsupported_media_type", wantCalls: 1, wantMsg: []string{"application/json"},
			setup: func(_ *testing.T, emu *emulator.Emulator) setup {
				return setup{header: http.Header{"Content-Type": {"text/plain"}}}
			}},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			emu := startEmulator(t, emulator.Config{})
			s := tt.setup(t, emu)
			if s.flags == nil {
				s.flags = proxyFlags(emu)
			}
			if s.env == nil {
				s.env = secretEnv
			}
			p := startProxy(t, s.env, s.flags...)
			header := s.header
			if s.prepare != nil {
				header = s.prepare(t, emu, p)
			}
			before := len(emu.Invocations())
			resp, reply := postRPC(t, p.MCPURL(), addCall(42), header)
			calls := len(emu.Invocations()) - before

			if resp.StatusCode != tt.wantStatus || resp.Header.Get(proxy.HeaderDiagnosis) != tt.wantReason {
				t.Errorf("status %d, %s: %q; want %d, %q", resp.StatusCode, proxy.HeaderDiagnosis, resp.Header.Get(proxy.HeaderDiagnosis), tt.wantStatus, tt.wantReason)
			}
			if reply.Error == nil || string(reply.ID) != "42" {
				t.Fatalf("reply = %+v, want a JSON-RPC error with id 42", reply)
			}
			for _, w := range tt.wantMsg {
				if !strings.Contains(reply.Error.Message, w) {
					t.Errorf("message %q\nwant it to contain %q", reply.Error.Message, w)
				}
			}
			if resp.Header.Get("WWW-Authenticate") != "" {
				t.Errorf("WWW-Authenticate passed to the client; MCP clients would start their own OAuth flow")
			}
			metric := "agentcore_proxy_upstream_errors_total"
			if tt.upFront {
				metric = "agentcore_proxy_token_rejections_total"
				if len(emu.Invocations()) != 0 {
					t.Errorf("AgentCore saw %d requests, want 0 (the token must never be sent)", len(emu.Invocations()))
				}
				if status, body := httpGet(t, p.BaseURL+"/readyz"); status != http.StatusServiceUnavailable || !strings.Contains(body, "would be rejected") {
					t.Errorf("/readyz = %d %s; want 503 with the reason", status, body)
				}
			} else if calls != tt.wantCalls {
				t.Errorf("AgentCore saw %d requests, want %d", calls, tt.wantCalls)
			}
			if got := metricValue(t, p, metric, tt.wantReason); got != 1 {
				t.Errorf("%s{reason=%q} = %v, want 1", metric, tt.wantReason, got)
			}
			seen[tt.wantReason] = true
		})
	}
	for _, r := range agentcore.Catalogue() {
		if r.Upstream && !seen[r.Code] {
			t.Errorf("reason %s is produced by no row", r.Code)
		}
	}
}

// setup is how a row of TestEveryReasonExplained runs the proxy.
type setup struct {
	flags  []string          // serve flags; nil: the usual ones for the emulator
	header http.Header       // extra request headers
	env    map[string]string // nil: the usual secret
	// prepare runs once the proxy listens and returns the request headers.
	prepare func(t *testing.T, emu *emulator.Emulator, p *runningProxy) http.Header
}

// injected makes the runtime answer f once.
func injected(f emulator.Fault) func(*testing.T, *emulator.Emulator) setup {
	return func(_ *testing.T, emu *emulator.Emulator) setup {
		emu.InjectFault(f, 1)
		return setup{}
	}
}
