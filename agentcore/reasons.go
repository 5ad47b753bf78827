package agentcore

// Reason codes. They are stable: agentcore-proxy sends them in the
// X-Agentcore-Proxy-Diagnosis header, uses them as a metric label, and the
// README lists them with the catalogue's cause and fix.
const (
	ReasonMissingToken         = "missing_token"
	ReasonClaimClientID        = "claim_client_id"
	ReasonClaimAud             = "claim_aud"
	ReasonClaimIss             = "claim_iss"
	ReasonClaimScope           = "claim_scope"
	ReasonClaimCustom          = "claim_custom"
	ReasonInsufficientScope    = "insufficient_scope"
	ReasonExpiredToken         = "expired_token"
	ReasonInvalidToken         = "invalid_token"
	ReasonUnparseableToken     = "unparseable_token"
	ReasonSigV4Runtime         = "sigv4_runtime"
	ReasonMissingAuthPath      = "missing_auth_path"
	ReasonAccessDenied         = "access_denied"
	ReasonRuntimeNotFound      = "runtime_not_found"
	ReasonSessionNotFound      = "session_not_found"
	ReasonSessionIDInvalid     = "session_id_invalid"
	ReasonValidationError      = "validation_error"
	ReasonQuotaExceeded        = "quota_exceeded"
	ReasonNotAcceptable        = "not_acceptable"
	ReasonSessionConflict      = "session_conflict"
	ReasonUnsupportedMediaType = "unsupported_media_type"
	ReasonRuntimeInitTimeout   = "runtime_init_timeout"
	ReasonRuntimeClientError   = "runtime_client_error"
	ReasonThrottled            = "throttled"
	ReasonUpstreamError        = "upstream_error"
	ReasonUpstreamOther        = "upstream_other"

	ReasonIDToken              = "id_token"
	ReasonTokenNotYetValid     = "token_not_yet_valid"
	ReasonJWKSUnavailable      = "jwks_unavailable"
	ReasonTokenInvalidClient   = "token_invalid_client"
	ReasonTokenInvalidScope    = "token_invalid_scope"
	ReasonTokenUnauthorized    = "token_unauthorized_client"
	ReasonTokenUnsupportedFlow = "token_unsupported_grant_type"
	ReasonTokenEndpoint        = "token_endpoint_error"
)

// Reason codes of a route whose bearer is an AWS STS web identity token
// (secretless: IAM outbound identity federation).
const (
	ReasonAWSJWTFederationDisabled = "aws_jwt_federation_disabled"
	ReasonAWSJWTAccessDenied       = "aws_jwt_access_denied"
	ReasonAWSJWTNoCredentials      = "aws_jwt_no_credentials"
)

// Reason codes of AWS's answers to requests the proxy signed with SigV4.
const (
	ReasonSigV4SignatureMismatch = "sigv4_signature_mismatch"
	ReasonSigV4AccessDenied      = "sigv4_access_denied"
	ReasonSigV4ExpiredCreds      = "sigv4_expired_credentials"
	ReasonSigV4ClockSkew         = "sigv4_clock_skew"
	ReasonSigV4UnknownKey        = "sigv4_unknown_key"
	ReasonOAuthRuntimeSigV4      = "oauth_runtime_sigv4"
)

// Reason is one entry of the catalogue: a failure agentcore-proxy explains.
type Reason struct {
	// Code is the stable reason code.
	Code string
	// Status is the HTTP status the client sees: "401", "5xx", "other".
	Status string
	// Upstream says the reason explains an answer of AgentCore or the MCP
	// server (the status is kept).
	Upstream bool
	// Local says the proxy also uses the reason for a token it would not
	// send, or could not obtain; the client gets 503 and nothing is sent.
	Local bool
	// Cause says, in one line, what went wrong.
	Cause string
	// Fix says what to change; "{setting}" placeholders name settings (see
	// Render).
	Fix string
}

// catalogue is the one list of reasons: Codes, the metric labels, the
// diagnosis and the README's tables all come from it.
var catalogue = []Reason{
	{ReasonMissingToken, "401", true, false,
		`the runtime got no bearer token ("Missing Authentication Token", JSON-RPC form)`,
		"give {client_id}, {client_secret} and {discovery_url}; if the proxy sent one, something in between dropped `Authorization`"},
	{ReasonClaimClientID, "401", true, true,
		`"Claim 'client_id' value mismatch": an ID token instead of an access token, or a client the runtime does not allow`,
		"use the client_credentials access token (the proxy does), and add the client id to the runtime's `allowedClients`"},
	{ReasonClaimAud, "401", true, true,
		"the runtime has `allowedAudience`, and Cognito access tokens carry no `aud`",
		"with Cognito, whose access tokens never carry `aud`, configure `allowedClients` instead, or add `aud` with a V3 pre-token-generation Lambda"},
	{ReasonClaimIss, "401", true, true,
		"the token's issuer is not the runtime's `discoveryUrl` issuer",
		"make {discovery_url} the runtime's `discoveryUrl` (same user pool and region)"},
	{ReasonClaimScope, "401", true, true,
		"the token has none of `allowedScopes`",
		"request an allowed scope with {scope}, or add the scope to `allowedScopes`"},
	{ReasonInsufficientScope, "403", true, false,
		"the MCP server asks for scopes the token lacks (`insufficient_scope` challenge) and the route may not request them",
		"add the scopes to {scope} (or give no {scope} list) so the proxy steps up, and grant them to the client at the identity provider"},
	{ReasonClaimCustom, "401", true, true,
		"a `customClaims` rule failed (the claim is named)",
		"align the rule (the runtime's, and the route's `custom_claims`) with the token, or add the claim with a pre-token-generation Lambda"},
	{ReasonExpiredToken, "401", true, true,
		"the token expired (the proxy refreshes ahead, so usually a clock)",
		"check this machine's clock (NTP) and the app client's token lifetime"},
	{ReasonInvalidToken, "401", true, true,
		"the runtime rejected the token (e.g. its signature)",
		"make {discovery_url} exactly the runtime's `discoveryUrl`; the proxy retries once with a fresh token"},
	{ReasonUnparseableToken, "403", true, true,
		`"OAuth authorization failed: Failed to parse token"`,
		"point {discovery_url}/{token_url} at the pool that issues JWT access tokens to this client"},
	{ReasonSigV4Runtime, "403", true, false,
		`the runtime is configured for IAM (SigV4), not OAuth ("Authorization method mismatch")`,
		"sign with {auth} sigv4, or reconfigure its inbound authorizer as `customJWTAuthorizer`"},
	{ReasonOAuthRuntimeSigV4, "403", true, false,
		`the proxy signed with SigV4 but the runtime has an OAuth (JWT) authorizer ("Authorization method mismatch")`,
		"use {auth} oauth with {client_id}, {client_secret} and {discovery_url}, or reconfigure the runtime for IAM"},
	{ReasonSigV4SignatureMismatch, "403", true, false,
		"`InvalidSignatureException`: AWS computed another signature (a secret key not of this access key, or a request changed on the way)",
		"check the credentials the chain found (doctor shows who signs) and {endpoint_url}; no HTTP proxy in between may rewrite the request"},
	{ReasonSigV4AccessDenied, "403", true, false,
		"the signing identity lacks `bedrock-agentcore:InvokeAgentRuntime` on the runtime",
		"grant it on the runtime ARN and its endpoints (deploy/iam/agentcore-proxy-policy.json)"},
	{ReasonSigV4ExpiredCreds, "403", true, false,
		"`ExpiredTokenException`: the signing credentials expired (the proxy already retried once with fresh ones)",
		"renew them at their source (`aws sso login`, a new session); ECS, EKS and EC2 roles renew by themselves"},
	{ReasonSigV4ClockSkew, "403", true, false,
		"\"Signature expired\": this machine's clock is more than 5 minutes off",
		"synchronize the clock (NTP)"},
	{ReasonSigV4UnknownKey, "403", true, false,
		"`UnrecognizedClientException`: AWS does not know the access key or its session token",
		"check the credentials the chain found: a deleted key, another partition, or `AWS_SESSION_TOKEN` missing"},
	{ReasonMissingAuthPath, "403", true, false,
		`"Missing Authentication Token" as ` + "`{\"message\":...}`" + `: the path did not reach an invocation endpoint (unescaped ARN, wrong path)`,
		"let the proxy build the URL from {runtime_arn}; give {endpoint_url} without a path"},
	{ReasonAccessDenied, "403", true, false,
		"another 403",
		"check the authorizer rules against the token's claims"},
	{ReasonRuntimeNotFound, "404", true, false,
		`"No endpoint or agent found with qualifier ...": wrong ARN, qualifier, or an endpoint in another region`,
		"check {runtime_arn}, {qualifier}, and that the endpoint is in the ARN's region"},
	{ReasonSessionNotFound, "404", true, false,
		"the MCP session's microVM is gone (15 minutes idle, 8 hours at most)",
		"nothing: the 404 is passed on and clients initialize again"},
	{ReasonSessionIDInvalid, "400", true, false,
		"the runtime session id is not 33-256 characters",
		"send an `X-Amzn-Bedrock-AgentCore-Runtime-Session-Id` of 33-256 characters, or none (the proxy refuses a bad one before sending)"},
	{ReasonValidationError, "400", true, false,
		"another `ValidationException`",
		"check the JSON-RPC body and the session headers"},
	{ReasonQuotaExceeded, "402", true, false,
		"`ServiceQuotaExceededException`",
		"wait for sessions to end, or request a quota increase"},
	{ReasonNotAcceptable, "406", true, false,
		"the MCP server refused `Accept` although the proxy sends both types",
		"report it: it is a bug of the proxy"},
	{ReasonSessionConflict, "409", true, false,
		`"Session operation in progress, please retry"`,
		"retry after a moment; send fewer concurrent requests on one session"},
	{ReasonUnsupportedMediaType, "415", true, false,
		"the server refused the `Content-Type`",
		"send JSON as `application/json`"},
	{ReasonRuntimeInitTimeout, "424", true, false,
		`"Runtime initialization time exceeded"`,
		"make the container start faster (listen on 0.0.0.0:8000 `/mcp`); check its CloudWatch logs"},
	{ReasonRuntimeClientError, "424", true, false,
		"the container failed to answer",
		"check that it serves MCP on 0.0.0.0:8000 `/mcp`, and its CloudWatch logs"},
	{ReasonThrottled, "429", true, false,
		"`ThrottlingException`",
		"back off; request a quota increase"},
	{ReasonUpstreamError, "5xx", true, false,
		"AgentCore or the container failed",
		"retry; check the container's CloudWatch logs"},
	{ReasonUpstreamOther, "other", true, false,
		"any other error status",
		"check the upstream URL and the server's logs"},

	{ReasonIDToken, "503", false, true,
		"the token endpoint returned an ID token (`token_use=id`, `aud`, no `client_id`)",
		"use an access token from the client_credentials grant"},
	{ReasonTokenNotYetValid, "503", false, true,
		"`nbf` is in the future",
		"check this machine's clock"},
	{ReasonJWKSUnavailable, "503", false, true,
		"the key set at `jwks_uri` has not loaded",
		"check network access to the user pool's `jwks_uri`, and {discovery_url}"},
	{ReasonTokenInvalidClient, "503", false, true,
		"the token endpoint answered `invalid_client`",
		"check {client_id} and {client_secret}"},
	{ReasonTokenInvalidScope, "503", false, true,
		"`invalid_scope`",
		"each {scope} must be `resourceServer/scope` allowed for this app client"},
	{ReasonTokenUnauthorized, "503", false, true,
		"`unauthorized_client`",
		"enable the client_credentials flow for this app client"},
	{ReasonTokenUnsupportedFlow, "503", false, true,
		"`unsupported_grant_type`",
		"check {token_url}; enable client_credentials"},
	{ReasonTokenEndpoint, "503", false, true,
		"any other failure to get a token (unreachable, 5xx, bad answer)",
		"check the token endpoint and the network; the proxy retries with backoff"},
	{ReasonAWSJWTFederationDisabled, "503", false, true,
		"STS answered `OutboundWebIdentityFederationDisabledException`: outbound identity federation is not enabled for this account",
		"enable it once per account: `aws iam enable-outbound-web-identity-federation`; `aws iam get-outbound-web-identity-federation-info` then names the issuer"},
	{ReasonAWSJWTAccessDenied, "503", false, true,
		"STS refused `sts:GetWebIdentityToken` to the proxy's AWS identity",
		"allow `sts:GetWebIdentityToken` to the proxy's role"},
	{ReasonAWSJWTNoCredentials, "503", false, true,
		"no AWS credentials to call STS `GetWebIdentityToken` with",
		"give the proxy an IAM role (task role, IRSA, Pod Identity, instance profile) or AWS credentials (AWS_PROFILE, AWS_ACCESS_KEY_ID)"},
}

// Catalogue returns every reason, in a fixed order: upstream answers first.
func Catalogue() []Reason { return append([]Reason(nil), catalogue...) }

// Codes returns every reason code, in the catalogue's order, e.g. to
// pre-register metric labels.
func Codes() []string {
	out := make([]string, len(catalogue))
	for i, r := range catalogue {
		out[i] = r.Code
	}
	return out
}

// Lookup returns the catalogue entry for code.
func Lookup(code string) (Reason, bool) {
	for _, r := range catalogue {
		if r.Code == code {
			return r, true
		}
	}
	return Reason{}, false
}
