package proxy

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/agentcore-proxy/agentcore-proxy/agentcore"
	"github.com/agentcore-proxy/agentcore-proxy/internal/redact"
)

const (
	diagTestARN     = "arn:aws:bedrock-agentcore:us-west-2:123456789012:runtime/my_mcp_server-xyz123"
	diagTestEscaped = "arn%3Aaws%3Abedrock-agentcore%3Aus-west-2%3A123456789012%3Aruntime%2Fmy_mcp_server-xyz123"
)

// Routes as the proxy describes them: an OAuth runtime, the same runtime
// without auth configured in the proxy, and a plain MCP URL.
var (
	diagOAuth = UpstreamContext{ARN: diagTestARN, Region: "us-west-2", Qualifier: "DEFAULT",
		Endpoint: "bedrock-agentcore.us-west-2.amazonaws.com", ClientID: "3n4ab5cd6ef7gh", Names: flagNames}
	diagStepUpOff = UpstreamContext{ARN: diagTestARN, Region: "us-west-2", Qualifier: "DEFAULT",
		Endpoint: "bedrock-agentcore.us-west-2.amazonaws.com", ClientID: "3n4ab5cd6ef7gh", Names: flagNames, StepUpOff: true}
	diagNoAuth = UpstreamContext{ARN: diagTestARN, Region: "us-west-2", Qualifier: "DEFAULT",
		Endpoint: "bedrock-agentcore.us-west-2.amazonaws.com", Names: flagNames}
	diagPlain = UpstreamContext{Endpoint: "127.0.0.1:8000", Names: flagNames}
)

// flagNames names settings as agentcore-proxy's flags do, so that fixes read
// as a command-line user sees them.
func flagNames(s agentcore.Setting) string {
	if s == agentcore.SettingClientSecret {
		return "--client-secret-file"
	}
	return "--" + strings.ReplaceAll(string(s), "_", "-")
}

// diagChallenge is the runtime authorizer's WWW-Authenticate header on every 401.
func diagChallenge() http.Header {
	return http.Header{"Www-Authenticate": {`Bearer resource_metadata="https://bedrock-agentcore.us-west-2.amazonaws.com/runtimes/` +
		diagTestEscaped + `/invocations/.well-known/oauth-protected-resource?qualifier=DEFAULT"`}}
}

func diagErrType(t string) http.Header { return http.Header{"X-Amzn-Errortype": {t}} }

// diagRPC is the authorizer's JSON-RPC error body.
func diagRPC(msg string) string {
	return `{"jsonrpc":"2.0","error":{"code":-32001,"message":"` + msg + `"}}`
}

func withSession(uc UpstreamContext) UpstreamContext { uc.HadSession = true; return uc }

func TestDiagnose(t *testing.T) {
	tests := []struct {
		name        string
		status      int
		header      http.Header
		body        string
		uc          UpstreamContext
		wantReason  string
		wantInCause string
		wantInFix   string
	}{
		{name: "no bearer", status: 401, header: diagChallenge(), body: diagRPC("Missing Authentication Token"), uc: diagNoAuth,
			wantReason: agentcore.ReasonMissingToken, wantInCause: `"Missing Authentication Token"`, wantInFix: "--client-id"},
		{name: "bearer dropped on the way", status: 401, header: diagChallenge(), body: diagRPC("Missing Authentication Token"), uc: diagOAuth,
			wantReason: agentcore.ReasonMissingToken, wantInCause: "although the proxy sent one", wantInFix: "Authorization header"},
		{name: "401 without auth configured", status: 401, header: diagChallenge(), uc: diagNoAuth,
			wantReason: agentcore.ReasonMissingToken, wantInCause: "empty body", wantInFix: "--discovery-url"},
		{name: "client_id mismatch", status: 401, header: diagChallenge(), body: diagRPC("Claim 'client_id' value mismatch with configuration."), uc: diagOAuth,
			wantReason: agentcore.ReasonClaimClientID, wantInCause: `"Claim 'client_id' value mismatch with configuration."`, wantInFix: `not an ID token (ID tokens have no client_id), and add client "3n4ab5cd6ef7gh" to the runtime's allowedClients`},
		{name: "aud mismatch", status: 401, header: diagChallenge(), body: diagRPC("Claim 'aud' value mismatch with configuration."), uc: diagOAuth,
			wantReason: agentcore.ReasonClaimAud, wantInCause: "Claim 'aud' value mismatch", wantInFix: "V3 pre-token-generation Lambda"},
		{name: "aud mismatch at Gateway is 403", status: 403, body: `{"message":"Claim 'aud' value mismatch with configuration."}`, uc: diagOAuth,
			wantReason: agentcore.ReasonClaimAud, wantInCause: "Claim 'aud' value mismatch", wantInFix: `allowedClients with "3n4ab5cd6ef7gh" instead of allowedAudience`},
		{name: "iss mismatch", status: 401, header: diagChallenge(), body: diagRPC("Claim 'iss' value mismatch with configuration."), uc: diagOAuth,
			wantReason: agentcore.ReasonClaimIss, wantInCause: "Claim 'iss' value mismatch", wantInFix: "another user pool or region than --discovery-url"},
		{name: "scope mismatch", status: 401, header: diagChallenge(), body: diagRPC("Claim 'scope' value mismatch with configuration."), uc: diagOAuth,
			wantReason: agentcore.ReasonClaimScope, wantInCause: "Claim 'scope' value mismatch", wantInFix: "--scope"},
		{name: "insufficient scope challenge", status: 403, uc: diagOAuth,
			header:     http.Header{"Www-Authenticate": {`Bearer error="insufficient_scope", error_description="scope mcp/write required"`}},
			wantReason: agentcore.ReasonClaimScope, wantInCause: "scope mcp/write required", wantInFix: "allowedScopes"},
		{name: "insufficient scope naming the scope", status: 403, uc: diagOAuth,
			header:     http.Header{"Www-Authenticate": {`Bearer error="insufficient_scope", scope="mcp:write files:read"`}},
			wantReason: agentcore.ReasonInsufficientScope, wantInCause: `needs scope "mcp:write files:read"`, wantInFix: `Add "mcp:write files:read" to --scope`},
		{name: "insufficient scope with step-up off", status: 403, uc: diagStepUpOff,
			header:     http.Header{"Www-Authenticate": {`Bearer error="insufficient_scope", scope="mcp:write"`}},
			wantReason: agentcore.ReasonInsufficientScope, wantInCause: "step-up is off for this route", wantInFix: `set --step-up to true, the default) so the proxy can request it, or add "mcp:write" to --scope`},
		{name: "insufficient scope behind a malformed challenge", status: 403, uc: diagOAuth,
			header:     http.Header{"Www-Authenticate": {"Gateway realm=\"edge\x01\"", `Bearer error="insufficient_scope", scope="mcp:write"`}},
			wantReason: agentcore.ReasonInsufficientScope, wantInCause: `needs scope "mcp:write"`, wantInFix: `Add "mcp:write" to --scope`},
		{name: "insufficient_scope in a description only", status: 403, uc: diagOAuth,
			header:     http.Header{"Www-Authenticate": {`Bearer error="invalid_token", error_description="not insufficient_scope"`}},
			wantReason: agentcore.ReasonAccessDenied, wantInCause: "invalid_token: not insufficient_scope"},
		{name: "custom claim", status: 401, header: diagChallenge(), body: diagRPC("Claim 'department' value mismatch with configuration."), uc: diagOAuth,
			wantReason: agentcore.ReasonClaimCustom, wantInCause: "'department' claim", wantInFix: "customClaims rule for 'department'"},
		{name: "claim in SSE", status: 401, header: diagChallenge(), uc: diagOAuth,
			body:       "event: message\ndata: " + diagRPC("Claim 'iss' value mismatch with configuration.") + "\n\n",
			wantReason: agentcore.ReasonClaimIss, wantInCause: "Claim 'iss'", wantInFix: "--discovery-url"},
		{name: "unparseable token", status: 403, header: diagErrType("AccessDeniedException"), body: `{"message":"OAuth authorization failed: Failed to parse token"}`, uc: diagOAuth,
			wantReason: agentcore.ReasonUnparseableToken, wantInCause: `AccessDeniedException: "OAuth authorization failed: Failed to parse token"`, wantInFix: "--discovery-url"},
		{name: "expired token", status: 401, header: diagChallenge(), body: diagRPC("Token has expired"), uc: diagOAuth,
			wantReason: agentcore.ReasonExpiredToken, wantInCause: `"Token has expired"`, wantInFix: "clock"},
		{name: "expired in challenge", status: 401, uc: diagOAuth,
			header:     http.Header{"Www-Authenticate": {`Bearer error="invalid_token", error_description="The access token expired"`}},
			wantReason: agentcore.ReasonExpiredToken, wantInCause: "invalid_token: The access token expired", wantInFix: `"3n4ab5cd6ef7gh"`},
		{name: "bad signature", status: 401, header: diagChallenge(), body: diagRPC("Invalid token signature"), uc: diagOAuth,
			wantReason: agentcore.ReasonInvalidToken, wantInCause: `"Invalid token signature"`, wantInFix: "--discovery-url is exactly the runtime's customJWTAuthorizer discoveryUrl"},
		{name: "unknown 401", status: 401, body: "Unauthorized", uc: diagOAuth,
			wantReason: agentcore.ReasonInvalidToken, wantInCause: `"Unauthorized"`, wantInFix: "--discovery-url"},
		{name: "runtime named expired", status: 401, uc: UpstreamContext{ARN: "arn:aws:bedrock-agentcore:us-west-2:123456789012:runtime/expired_demo-ab12", ClientID: "c"},
			body:       `{"message":"Unauthorized call to arn:aws:bedrock-agentcore:us-west-2:123456789012:runtime/expired_demo-ab12"}`,
			wantReason: agentcore.ReasonInvalidToken, wantInCause: "Unauthorized call", wantInFix: "Check that discovery_url is exactly"},
		{name: "SigV4 runtime, method mismatch", status: 403, header: diagErrType("AccessDeniedException"), body: `{"message":"Authorization method mismatch"}`, uc: diagOAuth,
			wantReason: agentcore.ReasonSigV4Runtime, wantInCause: "IAM (SigV4)", wantInFix: "customJWTAuthorizer"},
		{name: "SigV4 runtime, ACCESS_DENIED", status: 403, body: `{"message":"ACCESS_DENIED"}`, uc: diagOAuth,
			wantReason: agentcore.ReasonSigV4Runtime, wantInCause: `"ACCESS_DENIED"`, wantInFix: `allowedClients "3n4ab5cd6ef7gh"`},
		// Answers to SigV4-signed requests, in the order AWS checks them.
		{name: "SigV4 to an OAuth runtime", status: 403, header: diagErrType("AccessDeniedException"), body: `{"message":"Authorization method mismatch. The agent is configured for a different authorization method than what was used in your request."}`, uc: diagSigV4,
			wantReason: agentcore.ReasonOAuthRuntimeSigV4, wantInCause: "OAuth (JWT) authorizer", wantInFix: "--auth oauth with --client-id"},
		{name: "SigV4 expired credentials", status: 403, header: diagErrType("ExpiredTokenException"), body: `{"message":"The security token included in the request is expired"}`, uc: diagSigV4,
			wantReason: agentcore.ReasonSigV4ExpiredCreds, wantInCause: "have expired", wantInFix: "aws sso login"},
		{name: "SigV4 unknown key", status: 403, header: diagErrType("UnrecognizedClientException"), body: `{"message":"The security token included in the request is invalid."}`, uc: diagSigV4,
			wantReason: agentcore.ReasonSigV4UnknownKey, wantInCause: "does not know the signing access key", wantInFix: "AWS_SESSION_TOKEN"},
		{name: "SigV4 clock skew", status: 403, header: diagErrType("InvalidSignatureException"), body: `{"message":"Signature expired: 20260101T000000Z is now earlier than 20260101T000600Z (20260101T001100Z - 5 min.)"}`, uc: diagSigV4,
			wantReason: agentcore.ReasonSigV4ClockSkew, wantInCause: "more than 5 minutes off", wantInFix: "NTP"},
		{name: "SigV4 signature mismatch", status: 403, header: diagErrType("InvalidSignatureException"), body: `{"message":"The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method."}`, uc: diagSigV4,
			wantReason: agentcore.ReasonSigV4SignatureMismatch, wantInCause: "another SigV4 signature", wantInFix: "--endpoint-url"},
		{name: "SigV4 wrong region scope", status: 403, body: `{"message":"Credential should be scoped to a valid region. (wanted 'us-west-2', got 'us-east-1')"}`, uc: diagSigV4,
			wantReason: agentcore.ReasonSigV4SignatureMismatch, wantInCause: "scoped to a valid region", wantInFix: "secret access key"},
		{name: "SigV4 missing permission", status: 403, header: diagErrType("AccessDeniedException"),
			body: `{"message":"User: arn:aws:sts::123456789012:assumed-role/agentcore-proxy/task is not authorized to perform: bedrock-agentcore:InvokeAgentRuntime on resource: ` + diagTestARN + ` because no identity-based policy allows the bedrock-agentcore:InvokeAgentRuntime action"}`, uc: diagSigV4,
			wantReason: agentcore.ReasonSigV4AccessDenied, wantInCause: "identity arn:aws:sts::123456789012:assumed-role/agentcore-proxy/task lacks bedrock-agentcore:InvokeAgentRuntime", wantInFix: "on " + diagTestARN + " and its endpoints"},
		{name: "SigV4, another 403", status: 403, body: `{"message":"Forbidden"}`, uc: diagSigV4,
			wantReason: agentcore.ReasonAccessDenied, wantInCause: "SigV4-signed", wantInFix: "IAM policies"},
		{name: "missing token is a path problem", status: 403, header: diagErrType("MissingAuthenticationTokenException"), body: `{"message":"Missing Authentication Token"}`, uc: diagOAuth,
			wantReason: agentcore.ReasonMissingAuthPath, wantInCause: `MissingAuthenticationTokenException: "Missing Authentication Token"`, wantInFix: "--runtime-arn"},
		{name: "missing token, lower-case Message", status: 403, body: `{"Message":"missing authentication token"}`, uc: diagNoAuth,
			wantReason: agentcore.ReasonMissingAuthPath, wantInCause: `"missing authentication token"`, wantInFix: "with no path, such as https://bedrock-agentcore.us-west-2.amazonaws.com"},
		{name: "missing token in JSON-RPC form at 403", status: 403, body: diagRPC("Missing Authentication Token"), uc: diagNoAuth,
			wantReason: agentcore.ReasonMissingToken, wantInCause: "no bearer token", wantInFix: "--client-id"},
		{name: "access denied without a bearer", status: 403, header: diagErrType("AccessDeniedException"), body: `{"message":"ACCESS_DENIED"}`, uc: diagNoAuth,
			wantReason: agentcore.ReasonAccessDenied, wantInCause: `AccessDeniedException: "ACCESS_DENIED"`, wantInFix: "--client-id"},
		{name: "access denied with a challenge", status: 403, header: diagChallenge(), body: `{"message":"Forbidden"}`, uc: diagOAuth,
			wantReason: agentcore.ReasonAccessDenied, wantInCause: `"Forbidden"`, wantInFix: `client "3n4ab5cd6ef7gh"`},
		{name: "runtime not found", status: 404, uc: diagOAuth,
			header:      diagErrType("ResourceNotFoundException:http://internal.amazon.com/coral/com.amazon.bedrock.agentcore/"),
			body:        `{"message":"No endpoint or agent found with qualifier 'DEFAULT' for agent '` + diagTestARN + `'"}`,
			wantReason:  agentcore.ReasonRuntimeNotFound,
			wantInCause: `ResourceNotFoundException: "No endpoint or agent found with qualifier 'DEFAULT' for agent`,
			wantInFix:   `that "DEFAULT" is one of its endpoints (--qualifier), and that the endpoint bedrock-agentcore.us-west-2.amazonaws.com is in the ARN's region us-west-2`},
		{name: "runtime not found, endpoint in another region", status: 404,
			uc:          UpstreamContext{ARN: diagTestARN, Region: "us-west-2", Qualifier: "prod", Endpoint: "bedrock-agentcore.us-east-1.amazonaws.com", HadSession: true},
			body:        `{"message":"No endpoint or agent found with qualifier 'prod' for agent '` + diagTestARN + `'"}`,
			wantReason:  agentcore.ReasonRuntimeNotFound,
			wantInCause: "No endpoint or agent found with qualifier 'prod'",
			wantInFix:   "bedrock-agentcore.us-east-1.amazonaws.com is not in the ARN's region us-west-2"},
		{name: "runtime not found by __type", status: 404, body: `{"__type":"com.amazonaws.bedrockagentcore#ResourceNotFoundException","Message":"Runtime not found"}`, uc: withSession(diagOAuth),
			wantReason: agentcore.ReasonRuntimeNotFound, wantInCause: `ResourceNotFoundException: "Runtime not found"`, wantInFix: "--runtime-arn"},
		{name: "session gone", status: 404, uc: withSession(diagOAuth),
			body:       `{"jsonrpc":"2.0","id":"server-error","error":{"code":-32600,"message":"Session not found"}}`,
			wantReason: agentcore.ReasonSessionNotFound, wantInCause: `"Session not found"`, wantInFix: "initialize again"},
		{name: "session gone, plain upstream", status: 404, body: "Not Found", uc: withSession(diagPlain),
			wantReason: agentcore.ReasonSessionNotFound, wantInCause: "15 idle minutes or 8 hours", wantInFix: "after a 404"},
		{name: "plain upstream, wrong path", status: 404, body: "404 page not found\n", uc: diagPlain,
			wantReason: agentcore.ReasonUpstreamOther, wantInCause: `"404 page not found"`, wantInFix: "--upstream-url"},
		{name: "runtime session id too short", status: 400, header: diagErrType("ValidationException"), uc: diagOAuth,
			body:        `{"message":"1 validation error detected: Value at 'runtimeSessionId' failed to satisfy constraint: Member must have length greater than or equal to 33"}`,
			wantReason:  agentcore.ReasonSessionIDInvalid,
			wantInCause: `ValidationException: "1 validation error detected: Value at 'runtimeSessionId'`,
			wantInFix:   "X-Amzn-Bedrock-AgentCore-Runtime-Session-Id of 33 to 256 characters"},
		{name: "runtime session id, body cut off", status: 400, uc: diagOAuth,
			body:       `{"message":"1 validation error detected: Value at 'runtimeSessionId' failed to satisfy constraint","pad":"` + strings.Repeat("x", 100),
			wantReason: agentcore.ReasonSessionIDInvalid, wantInCause: `"1 validation error detected`, wantInFix: "33 to 256"},
		{name: "other validation error", status: 400, uc: diagOAuth,
			body:       `{"jsonrpc":"2.0","id":"server-error","error":{"code":-32600,"message":"Bad Request: No valid session ID provided"}}`,
			wantReason: agentcore.ReasonValidationError, wantInCause: `"Bad Request: No valid session ID provided"`, wantInFix: "Mcp-Session-Id"},
		{name: "quota", status: 402, header: diagErrType("ServiceQuotaExceededException"), body: `{"message":"Concurrent session quota exceeded"}`, uc: diagOAuth,
			wantReason: agentcore.ReasonQuotaExceeded, wantInCause: `ServiceQuotaExceededException: "Concurrent session quota exceeded"`, wantInFix: "Service Quotas for Amazon Bedrock AgentCore in us-west-2"},
		{name: "not acceptable", status: 406, uc: diagOAuth,
			body:        `{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"Not Acceptable: Client must accept both application/json and text/event-stream"}}`,
			wantReason:  agentcore.ReasonNotAcceptable,
			wantInCause: `"Not Acceptable: Client must accept both application/json and text/event-stream"`,
			wantInFix:   "agentcore-proxy bug"},
		{name: "not acceptable seen as 424", status: 424, uc: diagOAuth,
			body:       `{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"Not Acceptable: Client must accept both application/json and text/event-stream"}}`,
			wantReason: agentcore.ReasonNotAcceptable, wantInCause: "although the proxy sends", wantInFix: "bug"},
		{name: "session conflict", status: 409, header: diagErrType("RetryableConflictException"), body: `{"message":"Session operation in progress, please retry"}`, uc: diagOAuth,
			wantReason: agentcore.ReasonSessionConflict, wantInCause: `RetryableConflictException: "Session operation in progress, please retry"`, wantInFix: "Retry in a few seconds"},
		{name: "unsupported media type", status: 415, uc: diagOAuth,
			body:       `{"jsonrpc":"2.0","id":"server-error","error":{"code":-32700,"message":"Unsupported Media Type: Content-Type must be application/json"}}`,
			wantReason: agentcore.ReasonUnsupportedMediaType, wantInCause: `"Unsupported Media Type: Content-Type must be application/json"`, wantInFix: "Content-Type: application/json"},
		{name: "init timeout", status: 424, header: diagErrType("RuntimeClientError"), body: `{"message":"Runtime initialization time exceeded"}`, uc: diagOAuth,
			wantReason: agentcore.ReasonRuntimeInitTimeout, wantInCause: `RuntimeClientError: "Runtime initialization time exceeded"`,
			wantInFix: "log group /aws/bedrock-agentcore/runtimes/my_mcp_server-xyz123-DEFAULT"},
		{name: "container failed", status: 424, header: diagErrType("RuntimeClientError"), body: `{"message":"Received error from runtime"}`, uc: diagOAuth,
			wantReason: agentcore.ReasonRuntimeClientError, wantInCause: `"Received error from runtime"`, wantInFix: "0.0.0.0:8000"},
		{name: "throttled", status: 429, header: diagErrType("ThrottlingException"), body: `{"message":"Rate exceeded"}`, uc: diagOAuth,
			wantReason: agentcore.ReasonThrottled, wantInCause: `ThrottlingException: "Rate exceeded"`, wantInFix: "backoff"},
		{name: "throttled with a 400", status: 400, header: http.Header{"x-amzn-ErrorType": {" ThrottlingException "}}, body: `{"message":"Rate exceeded"}`, uc: diagOAuth,
			wantReason: agentcore.ReasonThrottled, wantInCause: "Rate exceeded", wantInFix: "quota increase"},
		{name: "internal server error", status: 500, header: diagErrType("InternalServerException"), body: `{"message":"Internal server error"}`, uc: diagOAuth,
			wantReason: agentcore.ReasonUpstreamError, wantInCause: `InternalServerException: "Internal server error"`, wantInFix: "Retry; if it persists, check the container's logs in CloudWatch"},
		{name: "bad gateway HTML", status: 502, uc: diagOAuth,
			body:       "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body><center><h1>502 Bad Gateway</h1></center></body>\r\n</html>",
			wantReason: agentcore.ReasonUpstreamError, wantInCause: `"502 Bad Gateway"`, wantInFix: "Retry"},
		{name: "unavailable, empty body", status: 503, uc: diagOAuth,
			wantReason: agentcore.ReasonUpstreamError, wantInCause: "(empty body)", wantInFix: "Retry"},
		{name: "plain upstream crashed", status: 500, body: "Traceback (most recent call last):\n  File \"server.py\"\x1b[31m\n", uc: diagPlain,
			wantReason: agentcore.ReasonUpstreamError, wantInCause: `The upstream MCP server failed ("Traceback (most recent call last): File "server.py" [31m")`, wantInFix: "MCP server's logs"},
		{name: "teapot", status: 418, body: "I'm a teapot", uc: diagOAuth,
			wantReason: agentcore.ReasonUpstreamOther, wantInCause: `"I'm a teapot"`, wantInFix: "logs"},
		{name: "status beyond 599", status: 999, body: "?", uc: diagOAuth,
			wantReason: agentcore.ReasonUpstreamOther, wantInCause: `"?"`, wantInFix: "upstream URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, ok := Diagnose(tt.status, tt.header, []byte(tt.body), tt.uc)
			if !ok || d.Reason != tt.wantReason {
				t.Fatalf("Diagnose(%d, %q) = %q, %v; want %q, true (cause %q)", tt.status, tt.body, d.Reason, ok, tt.wantReason, d.Cause)
			}
			if !strings.Contains(d.Cause, tt.wantInCause) {
				t.Errorf("Diagnose(%d, %q).Cause = %q, want it to contain %q", tt.status, tt.body, d.Cause, tt.wantInCause)
			}
			if !strings.Contains(d.Fix, tt.wantInFix) {
				t.Errorf("Diagnose(%d, %q).Fix = %q, want it to contain %q", tt.status, tt.body, d.Fix, tt.wantInFix)
			}
			checkDiagnosis(t, d)
		})
	}

	// Every reason is explained by at least one row above.
	covered := map[string]bool{}
	for _, tt := range tests {
		covered[tt.wantReason] = true
	}
	for _, r := range agentcore.Catalogue() {
		if r.Upstream && !covered[r.Code] {
			t.Errorf("no test row for reason %q", r.Code)
		}
	}
}

func TestDiagnoseNoError(t *testing.T) {
	for _, status := range []int{-1, 0, 100, 200, 202, 304, 307, 399} {
		if d, ok := Diagnose(status, diagErrType("ThrottlingException"), []byte(`{"message":"Rate exceeded"}`), diagOAuth); ok || d != (Diagnosis{}) {
			t.Errorf("Diagnose(%d, ...) = %+v, %v; want zero, false", status, d, ok)
		}
	}
}

func TestDiagnoseQuotesBriefly(t *testing.T) {
	long := strings.Repeat("é", 400) // 800 bytes: the cut must not split a character
	d, ok := Diagnose(500, nil, []byte(`{"message":"`+long+`"}`), diagOAuth)
	if !ok {
		t.Fatal("Diagnose(500, long message) = _, false; want true")
	}
	quoted := strings.TrimSuffix(strings.TrimPrefix(d.Cause, `AgentCore or the runtime's container failed ("`), `")`)
	if len(quoted) > maxQuote || !strings.HasSuffix(quoted, "…") || !utf8.ValidString(quoted) {
		t.Errorf("Diagnose(500, long message).Cause quotes %d bytes %q, want at most %d valid bytes ending in …", len(quoted), quoted, maxQuote)
	}
	checkDiagnosis(t, d)

	// Long route values do not push the message past its limit either.
	uc := UpstreamContext{ARN: "arn:aws:bedrock-agentcore:us-west-2:123456789012:runtime/" + strings.Repeat("r", 300),
		Region: "us-west-2", Qualifier: strings.Repeat("q", 300), Endpoint: strings.Repeat("h", 300), ClientID: strings.Repeat("c", 300)}
	for _, status := range []int{401, 403, 404, 424, 500} {
		d, _ := Diagnose(status, nil, []byte(`{"message":"`+long+`"}`), uc)
		checkDiagnosis(t, d)
	}
}

func TestDiagnosisMessage(t *testing.T) {
	tests := []struct {
		name string
		d    Diagnosis
		want string
	}{
		{name: "adds periods", d: Diagnosis{Cause: `The runtime's authorizer rejected the bearer token ("Invalid token signature")`, Fix: "Check --discovery-url"},
			want: `The runtime's authorizer rejected the bearer token ("Invalid token signature"). Check --discovery-url.`},
		{name: "keeps a final period", d: Diagnosis{Cause: "It failed.", Fix: "Retry!"}, want: "It failed. Retry!"},
		{name: "one line", d: Diagnosis{Cause: "a\r\nb\u2028c", Fix: "d\te"}, want: "a b c. d e."},
		{name: "no fix", d: Diagnosis{Cause: "It failed"}, want: "It failed."},
		{name: "empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.d.Message(); got != tt.want {
				t.Errorf("%+v.Message() = %q, want %q", tt.d, got, tt.want)
			}
		})
	}
	long := Diagnosis{Cause: strings.Repeat("x", 1000), Fix: "y"}
	if got := long.Message(); len(got) > maxMessage {
		t.Errorf("Message() of a 1000-byte cause has %d bytes, want at most %d", len(got), maxMessage)
	}
}

func TestDiagTypeName(t *testing.T) {
	tests := []struct{ in, want string }{
		{in: "ResourceNotFoundException:http://internal.amazon.com/coral/com.amazon.bedrock.agentcore/", want: "ResourceNotFoundException"},
		{in: "com.amazonaws.bedrockagentcore#ThrottlingException", want: "ThrottlingException"},
		{in: " ValidationException ", want: "ValidationException"},
		{in: "", want: ""},
	}
	for _, tt := range tests {
		if got := awsTypeName(tt.in); got != tt.want {
			t.Errorf("awsTypeName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// checkDiagnosis asserts what every Diagnosis promises: a known reason, a
// cause and a fix, and a message that is one short line of valid UTF-8.
func checkDiagnosis(t *testing.T, d Diagnosis) {
	t.Helper()
	if r, ok := agentcore.Lookup(d.Reason); !ok || !r.Upstream {
		t.Errorf("Reason = %q, want an upstream reason of the agentcore catalogue", d.Reason)
	}
	if d.Cause == "" || d.Fix == "" {
		t.Errorf("Cause = %q, Fix = %q; want both non-empty", d.Cause, d.Fix)
	}
	for _, s := range []string{d.Cause, d.Fix, d.Message()} {
		if strings.ContainsAny(s, "\r\n") || !utf8.ValidString(s) {
			t.Errorf("%q is not one line of valid UTF-8", s)
		}
	}
	if m := d.Message(); len(m) > maxMessage {
		t.Errorf("Message() has %d bytes, want at most %d: %q", len(m), maxMessage, m)
	}
}

// diagParseHeader reads "Name: value" lines, as the fuzzer's header string.
func diagParseHeader(s string) http.Header {
	h := http.Header{}
	for _, line := range strings.Split(s, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			h.Add(strings.TrimSpace(k), strings.TrimSpace(v))
		}
	}
	return h
}

func FuzzDiagnose(f *testing.F) {
	challenge := "Www-Authenticate: " + diagChallenge().Get("Www-Authenticate")
	f.Add(401, challenge, []byte(diagRPC("Missing Authentication Token")))
	f.Add(401, challenge, []byte(diagRPC("Claim 'client_id' value mismatch with configuration.")))
	f.Add(403, "X-Amzn-Errortype: AccessDeniedException", []byte(`{"message":"OAuth authorization failed: Failed to parse token"}`))
	f.Add(403, "", []byte(`{"message":"Missing Authentication Token"}`))
	f.Add(404, "X-Amzn-Errortype: ResourceNotFoundException:http://internal.amazon.com/coral/x/", []byte(`{"message":"No endpoint or agent found with qualifier 'DEFAULT' for agent '`+diagTestARN+`'"}`))
	f.Add(409, "", []byte(`{"message":"Session operation in progress, please retry"}`))
	f.Add(502, "Content-Type: text/html", []byte("<html><title>502 Bad Gateway</title></html>"))
	f.Add(500, "", []byte("event: message\ndata: {\"error\":{\"code\":1,\"message\":\"x\\u2028y\"}}\n\n"))
	f.Add(400, "", []byte(`{"message":"\u202Eevil`))
	f.Add(200, "", []byte(nil))
	f.Add(-7, "\x00:\xff", []byte{0xff, 0xfe, '{'})
	f.Add(401, "X-Amzn-Errortype: $TOK", []byte(`{"message":"bad token: Bearer $TOK"}`))
	f.Add(500, "", []byte("event: message\ndata: {\"error\":{\"code\":1,\"message\":\"$TOK\"}}\n\n"))

	// With Redact, a token the body or headers quote ($TOK) never shows in
	// the diagnosis, not even cut short.
	token := "eyJhbGciOiJSUzI1NiJ9." + strings.Repeat("dG9rZW4", 60) + ".c2ln"
	red := redact.New()
	red.NewSet(0).AddToken(token)
	redacted := diagOAuth
	redacted.Redact = red.Redact

	ucs := []UpstreamContext{diagOAuth, diagNoAuth, withSession(diagPlain)}
	f.Fuzz(func(t *testing.T, status int, header string, body []byte) {
		status = (status%500+500)%500 + 100 // 100..599
		h := diagParseHeader(header)
		for _, uc := range ucs {
			d, ok := Diagnose(status, h, body, uc)
			if ok != (status >= 400) {
				t.Fatalf("Diagnose(%d, %q, %q) ok = %v, want %v", status, header, body, ok, status >= 400)
			}
			if !ok {
				continue
			}
			checkDiagnosis(t, d)
		}
		if status < 400 {
			return
		}
		tb := bytes.ReplaceAll(body, []byte("$TOK"), []byte(token))
		th := diagParseHeader(strings.ReplaceAll(header, "$TOK", token))
		d, _ := Diagnose(status, th, tb, redacted)
		for _, s := range []string{d.Cause, d.Fix, d.Message()} {
			for i := 0; i+16 <= len(token); i += 8 {
				if strings.Contains(s, token[i:i+16]) {
					t.Fatalf("Diagnose(%d, %q, %q) quotes a piece of the token: %q", status, th, tb, s)
				}
			}
		}
	})
}
