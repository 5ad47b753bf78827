package proxy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Reason codes of Diagnose. They are stable: the proxy sends them in a
// response header, uses them as a metric label, and the README lists them.
const (
	// ReasonMissingToken means the runtime's OAuth authorizer got no bearer token.
	ReasonMissingToken = "missing_token"
	// ReasonClaimClientID means the token's client_id is not in allowedClients
	// (classically, an ID token was sent instead of an access token).
	ReasonClaimClientID = "claim_client_id"
	// ReasonClaimAud means the token's aud is not in allowedAudience (Cognito
	// access tokens carry no aud).
	ReasonClaimAud = "claim_aud"
	// ReasonClaimIss means the token's issuer is not the runtime's discoveryUrl issuer.
	ReasonClaimIss = "claim_iss"
	// ReasonClaimScope means the token has none of the runtime's allowedScopes.
	ReasonClaimScope = "claim_scope"
	// ReasonClaimOther means a customClaims rule rejected the token.
	ReasonClaimOther = "claim_other"
	// ReasonUnparseableToken means the bearer token is not a JWT AgentCore can parse.
	ReasonUnparseableToken = "unparseable_token"
	// ReasonExpiredToken means the bearer token has expired.
	ReasonExpiredToken = "expired_token"
	// ReasonInvalidToken means the authorizer rejected the token for another reason.
	ReasonInvalidToken = "invalid_token"
	// ReasonSigV4Runtime means the runtime authorizes with IAM (SigV4), not OAuth.
	ReasonSigV4Runtime = "sigv4_runtime"
	// ReasonMissingAuthPath means AWS answered "Missing Authentication Token" to a
	// path that is not an invocation endpoint.
	ReasonMissingAuthPath = "missing_auth_path"
	// ReasonAccessDenied covers any other 403.
	ReasonAccessDenied = "access_denied"
	// ReasonRuntimeNotFound means the ARN, qualifier or region names no runtime endpoint.
	ReasonRuntimeNotFound = "runtime_not_found"
	// ReasonSessionNotFound means the MCP session's microVM is gone. The proxy must
	// keep the 404 status: MCP clients initialize again on a 404.
	ReasonSessionNotFound = "session_not_found"
	// ReasonSessionIDInvalid means the runtime session id is outside 33 to 256 characters.
	ReasonSessionIDInvalid = "session_id_invalid"
	// ReasonValidationError covers any other 400.
	ReasonValidationError = "validation_error"
	// ReasonQuotaExceeded means an AgentCore service quota is exhausted (402).
	ReasonQuotaExceeded = "quota_exceeded"
	// ReasonNotAcceptable means the MCP server refused the Accept header (406).
	ReasonNotAcceptable = "not_acceptable"
	// ReasonSessionConflict means another operation on the session is in progress (409).
	ReasonSessionConflict = "session_conflict"
	// ReasonUnsupportedMediaType means the MCP server refused the Content-Type (415).
	ReasonUnsupportedMediaType = "unsupported_media_type"
	// ReasonRuntimeInitTimeout means the runtime's container did not start in time (424).
	ReasonRuntimeInitTimeout = "runtime_init_timeout"
	// ReasonRuntimeClientError means the runtime's container failed (other 424s).
	ReasonRuntimeClientError = "runtime_client_error"
	// ReasonThrottled means AgentCore throttled the request (429).
	ReasonThrottled = "throttled"
	// ReasonUpstreamError means AgentCore or the container failed (5xx).
	ReasonUpstreamError = "upstream_error"
	// ReasonUpstreamOther covers any other error status.
	ReasonUpstreamOther = "upstream_other"
)

// Reasons returns every reason code Diagnose can return, in a fixed order,
// so that a caller can pre-register metric labels or document them.
func Reasons() []string {
	return []string{
		ReasonMissingToken, ReasonClaimClientID, ReasonClaimAud, ReasonClaimIss, ReasonClaimScope,
		ReasonClaimOther, ReasonUnparseableToken, ReasonExpiredToken, ReasonInvalidToken,
		ReasonSigV4Runtime, ReasonMissingAuthPath, ReasonAccessDenied, ReasonRuntimeNotFound,
		ReasonSessionNotFound, ReasonSessionIDInvalid, ReasonValidationError, ReasonQuotaExceeded,
		ReasonNotAcceptable, ReasonSessionConflict, ReasonUnsupportedMediaType,
		ReasonRuntimeInitTimeout, ReasonRuntimeClientError, ReasonThrottled, ReasonUpstreamError,
		ReasonUpstreamOther,
	}
}

// Diagnosis explains an upstream error answer.
type Diagnosis struct {
	// Reason is a stable reason code, one of the Reason constants.
	Reason string
	// Cause is one sentence: what went wrong, quoting what the upstream said.
	Cause string
	// Fix is one sentence: what the user should change.
	Fix string
}

// Limits that keep a diagnosis readable in an MCP client's error line.
const (
	diagMaxBody    = 64 << 10 // Diagnose looks at no more of the body
	diagMaxQuote   = 200      // bytes of the upstream's message quoted in Cause
	diagMaxField   = 120      // bytes of an UpstreamContext field or claim name
	diagMaxMessage = 600      // bytes of Message
)

// Message returns "Cause. Fix." on one line, for an MCP client to show after
// a prefix such as "agentcore-proxy: AgentCore answered 401: ". It is valid
// UTF-8 and at most 600 bytes whatever the Diagnosis holds.
func (d Diagnosis) Message() string {
	var parts []string
	for _, s := range []string{d.Cause, d.Fix} {
		if s = diagOneLine(s); s != "" {
			parts = append(parts, diagSentence(s))
		}
	}
	return diagClip(strings.Join(parts, " "), diagMaxMessage)
}

// UpstreamContext is what the proxy knows about the route, so that a Fix can
// name the values to change.
type UpstreamContext struct {
	ARN        string // runtime ARN, "" for a plain upstream URL
	Region     string // the ARN's region
	Qualifier  string // the runtime endpoint name, "" for DEFAULT
	Endpoint   string // host of the upstream, e.g. bedrock-agentcore.us-west-2.amazonaws.com
	ClientID   string // the M2M client id the proxy uses, "" without auth
	HadSession bool   // the request carried an Mcp-Session-Id
}

// Diagnose maps an upstream error answer to a Diagnosis whose Cause quotes
// the upstream's message and whose Fix names what to change. ok is false
// exactly when status < 400.
//
// body is the start of the response body (only the first 64 KiB is read); it
// may be an AWS error ({"message": ...}), a JSON-RPC error, server-sent
// events, plain text, HTML, empty or garbage. The AWS error type is taken
// from the X-Amzn-Errortype header or a JSON __type field.
//
// A 404 to a request that carried an Mcp-Session-Id gives
// ReasonSessionNotFound means the caller must keep the 404 status, because MCP
// clients start a new session when they see it.
func Diagnose(status int, header http.Header, body []byte, uc UpstreamContext) (d Diagnosis, ok bool) {
	if status < 400 {
		return Diagnosis{}, false
	}
	if len(body) > diagMaxBody {
		body = body[:diagMaxBody]
	}
	a := diagParse(status, header, body, uc)
	d = diagClassify(a, diagCleanContext(uc))
	d.Cause = diagOneLine(d.Cause)
	d.Fix = diagOneLine(d.Fix)
	return d, true
}

// diagAnswer is what Diagnose reads from an upstream answer.
type diagAnswer struct {
	status    int
	errType   string // AWS exception name, e.g. ResourceNotFoundException
	message   string // the upstream's message, one clean line
	jsonRPC   bool   // the body was a JSON-RPC error
	challenge string // the WWW-Authenticate header, "" when absent
	// hay is the lower-cased text that keywords are matched against: the
	// message, the error type, the raw body and the challenge's error
	// parameters, with the route's own ARN removed so that a runtime named
	// "expired-demo" does not look like an expiry.
	hay string
}

func (a *diagAnswer) has(keywords ...string) bool {
	for _, k := range keywords {
		if strings.Contains(a.hay, k) {
			return true
		}
	}
	return false
}

// typeIs reports whether the AWS error type is one of names (case-insensitive).
func (a *diagAnswer) typeIs(names ...string) bool {
	for _, n := range names {
		if strings.EqualFold(a.errType, n) {
			return true
		}
	}
	return false
}

// quote is the upstream's own words for a Cause: the error type and the
// message, or a note that there were none.
func (a *diagAnswer) quote() string {
	switch {
	case a.errType != "" && a.message != "":
		return a.errType + `: "` + a.message + `"`
	case a.message != "":
		return `"` + a.message + `"`
	case a.errType != "":
		return a.errType
	default:
		return "empty body"
	}
}

var (
	// diagClaimRE finds the authorizer's "Claim 'X' value mismatch".
	diagClaimRE = regexp.MustCompile(`(?i)claim\s*['"\x{2018}\x{2019}]?([^'"\x{2018}\x{2019}\s]{1,64})['"\x{2018}\x{2019}]?\s*value\s+mismatch`)
	// diagMessageRE recovers a message from JSON cut off at the 64 KiB limit.
	diagMessageRE = regexp.MustCompile(`(?i)"(?:message|errorMessage|error_description)"\s*:\s*("(?:[^"\\]|\\.)*")`)
	// diagParamRE reads auth-param pairs of a WWW-Authenticate challenge.
	diagParamRE = regexp.MustCompile(`(?i)\b(error|error_description)\s*=\s*"([^"]*)"`)
	// diagTitleRE finds an HTML page's title.
	diagTitleRE = regexp.MustCompile(`(?is)<title[^>]*>(.*?)</title>`)
	// diagTagRE matches HTML tags, scripts and styles to strip.
	diagTagRE = regexp.MustCompile(`(?is)<(script|style)[^>]*>.*?</(script|style)>|<[^>]*>`)
)

func diagParse(status int, header http.Header, body []byte, uc UpstreamContext) diagAnswer {
	a := diagAnswer{status: status}
	msg, typ, rpc := diagBodyMessage(body)
	if t := diagHeader(header, "X-Amzn-Errortype"); t != "" {
		typ = t
	}
	a.errType = diagClip(diagOneLine(diagTypeName(typ)), 64)
	a.message = diagClip(diagOneLine(msg), diagMaxQuote)
	a.jsonRPC = rpc
	a.challenge = diagHeader(header, "Www-Authenticate")

	var params []string
	for _, m := range diagParamRE.FindAllStringSubmatch(a.challenge, -1) {
		params = append(params, m[2])
	}
	if a.message == "" && len(params) > 0 {
		a.message = diagClip(diagOneLine(strings.Join(params, ": ")), diagMaxQuote)
	}
	hay := strings.ToLower(strings.Join([]string{msg, typ, string(body), strings.Join(params, " ")}, "\n"))
	for _, s := range []string{uc.ARN, EscapeSegment(uc.ARN)} {
		if s != "" {
			hay = strings.ReplaceAll(hay, strings.ToLower(s), "<arn>")
		}
	}
	a.hay = hay
	return a
}

// diagHeader returns the values of a header joined by ", ", finding it also
// when the map was built with a non-canonical key.
func diagHeader(h http.Header, name string) string {
	if v := h.Values(name); len(v) > 0 {
		return strings.Join(v, ", ")
	}
	for k, v := range h {
		if strings.EqualFold(k, name) && len(v) > 0 {
			return strings.Join(v, ", ")
		}
	}
	return ""
}

// diagTypeName reduces an AWS error type to the exception name:
// "ResourceNotFoundException:http://internal.amazon.com/coral/..." and
// "com.amazonaws.bedrockagentcore#ResourceNotFoundException" both give
// "ResourceNotFoundException".
func diagTypeName(t string) string {
	t, _, _ = strings.Cut(strings.TrimSpace(t), ":")
	if i := strings.LastIndexByte(t, '#'); i >= 0 {
		t = t[i+1:]
	}
	return strings.TrimSpace(t)
}

// diagBodyMessage extracts the message and error type of a body in any of
// the shapes upstreams use. rpc reports a JSON-RPC error.
func diagBodyMessage(body []byte) (msg, typ string, rpc bool) {
	b := bytes.TrimSpace(bytes.TrimPrefix(body, []byte("\xef\xbb\xbf")))
	if len(b) == 0 {
		return "", "", false
	}
	if msg, typ, rpc, ok := diagJSONMessage(b); ok {
		return msg, typ, rpc
	}
	// Server-sent events: the MCP server may answer an error as one event.
	if bytes.HasPrefix(b, []byte("event:")) || bytes.HasPrefix(b, []byte("data:")) || bytes.HasPrefix(b, []byte("id:")) {
		for _, line := range bytes.Split(b, []byte("\n")) {
			if data, ok := bytes.CutPrefix(bytes.TrimSpace(line), []byte("data:")); ok {
				if msg, typ, rpc, ok := diagJSONMessage(bytes.TrimSpace(data)); ok {
					return msg, typ, rpc
				}
			}
		}
	}
	if b[0] == '{' || b[0] == '[' {
		// JSON, but cut off or malformed: recover a message if one is there.
		if m := diagMessageRE.FindSubmatch(b); m != nil {
			var s string
			if json.Unmarshal(m[1], &s) == nil {
				return s, "", false
			}
		}
		return string(b), "", false
	}
	if b[0] == '<' || bytes.Contains(bytes.ToLower(b[:min(len(b), 512)]), []byte("<html")) {
		if m := diagTitleRE.FindSubmatch(b); m != nil && len(bytes.TrimSpace(m[1])) > 0 {
			return string(m[1]), "", false
		}
		return diagTagRE.ReplaceAllString(string(b), " "), "", false
	}
	return string(b), "", false
}

// diagJSONMessage reads a JSON error body: {"message": ...} in any case,
// {"__type": ...}, a JSON-RPC {"error": {"code", "message"}}, an OAuth
// {"error": "...", "error_description": ...}, or the first element of an array
// of those. ok is false when b is not a JSON object or array.
func diagJSONMessage(b []byte) (msg, typ string, rpc, ok bool) {
	var v any
	if json.Unmarshal(b, &v) != nil {
		return "", "", false, false
	}
	if arr, isArr := v.([]any); isArr && len(arr) > 0 {
		v = arr[0]
	}
	obj, isObj := v.(map[string]any)
	if !isObj {
		return "", "", false, false
	}
	msg = diagField(obj, "message", "errorMessage", "error_description", "detail")
	typ = diagField(obj, "__type", "code", "errorType")
	switch e := diagLookup(obj, "error").(type) {
	case map[string]any:
		_, hasCode := e["code"]
		rpc = hasCode || diagLookup(obj, "jsonrpc") != nil
		if m := diagField(e, "message", "Message"); m != "" {
			msg = m
		}
		if t := diagField(e, "__type", "type", "Code"); t != "" && typ == "" {
			typ = t
		}
	case string:
		// OAuth errors: {"error":"invalid_token","error_description":"..."}.
		if msg == "" {
			msg = e
		} else {
			msg = e + ": " + msg
		}
	}
	return msg, typ, rpc, true
}

// diagLookup returns obj's value for key, matching the key case-insensitively
// as AWS's JSON protocols do ("message" and "Message").
func diagLookup(obj map[string]any, key string) any {
	if v, ok := obj[key]; ok {
		return v
	}
	for k, v := range obj {
		if strings.EqualFold(k, key) {
			return v
		}
	}
	return nil
}

// diagField returns the first of keys whose value is a non-empty string.
func diagField(obj map[string]any, keys ...string) string {
	for _, k := range keys {
		if s, ok := diagLookup(obj, k).(string); ok && strings.TrimSpace(s) != "" {
			return s
		}
	}
	return ""
}

// diagCleanContext makes the route's values safe to print in one short line.
func diagCleanContext(uc UpstreamContext) UpstreamContext {
	for _, p := range []*string{&uc.ARN, &uc.Region, &uc.Qualifier, &uc.Endpoint, &uc.ClientID} {
		*p = diagClip(diagOneLine(*p), diagMaxField)
	}
	if uc.Qualifier == "" {
		uc.Qualifier = "DEFAULT"
	}
	return uc
}

// diagClassify chooses the reason and writes Cause and Fix. Keyword checks
// run on a.hay; the status decides first, because AgentCore's statuses are
// documented and its messages are not.
func diagClassify(a diagAnswer, uc UpstreamContext) Diagnosis {
	q := a.quote()
	switch {
	case a.status == 401 || a.status == 403:
		if d, ok := diagAuth(a, uc, q); ok {
			return d
		}
	case a.status == 404:
		return diagNotFound(a, uc, q)
	case a.status == 424 && a.has("not acceptable"):
		return diagNotAcceptable(q)
	case a.status >= 400 && a.status < 500:
		// AWS JSON protocols sometimes send an exception with another 4xx
		// status than the documented one; the exception name is more precise.
		switch {
		case a.typeIs("ThrottlingException", "TooManyRequestsException"):
			return diagThrottled(uc, q)
		case a.typeIs("ServiceQuotaExceededException"):
			return diagQuota(uc, q)
		case a.typeIs("RetryableConflictException", "ConflictException"):
			return diagConflict(q)
		}
	}

	switch s := a.status; {
	case s == 400:
		if a.has("runtimesessionid", "runtime-session-id", "greater than or equal to 33") {
			return Diagnosis{ReasonSessionIDInvalid,
				fmt.Sprintf("AgentCore rejected the runtime session id (%s)", q),
				"Send an " + HeaderRuntimeSessionID + " of 33 to 256 characters, or none and AgentCore allocates one"}
		}
		return Diagnosis{ReasonValidationError,
			fmt.Sprintf("AgentCore or the MCP server rejected the request as invalid (%s)", q),
			"Check the request the MCP client sent: a JSON-RPC body, and after initialize the Mcp-Session-Id and MCP-Protocol-Version headers"}
	case s == 402:
		return diagQuota(uc, q)
	case s == 406:
		return diagNotAcceptable(q)
	case s == 409:
		return diagConflict(q)
	case s == 415:
		return Diagnosis{ReasonUnsupportedMediaType,
			fmt.Sprintf("The MCP server refused the request's Content-Type (%s)", q),
			"Send the request body as JSON with Content-Type: application/json"}
	case s == 424 && a.has("initialization time exceeded", "initialization timeout", "init timeout"):
		return Diagnosis{ReasonRuntimeInitTimeout,
			fmt.Sprintf("The runtime's container did not start in time (%s)", q),
			"Make the container start faster and listen on 0.0.0.0:8000 at /mcp; " + diagLogs(uc)}
	case s == 424:
		return Diagnosis{ReasonRuntimeClientError,
			fmt.Sprintf("The runtime's container failed to answer (%s)", q),
			"Check that the container serves MCP on 0.0.0.0:8000 at /mcp; " + diagLogs(uc)}
	case s == 429:
		return diagThrottled(uc, q)
	case s >= 500 && s <= 599:
		who := "AgentCore or the runtime's container"
		if uc.ARN == "" {
			who = "The upstream MCP server"
		}
		return Diagnosis{ReasonUpstreamError,
			fmt.Sprintf("%s failed (%s)", who, q),
			"Retry; if it persists, " + diagLogs(uc)}
	}
	return Diagnosis{ReasonUpstreamOther,
		fmt.Sprintf("The upstream answered with an unexpected error status (%s)", q),
		"Check the upstream URL and the MCP server's logs"}
}

// diagAuth explains a 401 or a 403. ok is false for a 403 that fits no rule
// of the authorizer, which the caller reports as access_denied.
func diagAuth(a diagAnswer, uc UpstreamContext, q string) (Diagnosis, bool) {
	client := "--client-id"
	if uc.ClientID != "" {
		client = `"` + uc.ClientID + `"`
	}
	if m := diagClaimRE.FindStringSubmatch(a.message); m != nil || diagClaimRE.MatchString(a.hay) {
		if m == nil {
			m = diagClaimRE.FindStringSubmatch(a.hay)
		}
		return diagClaim(diagClip(diagOneLine(m[1]), 64), client, q), true
	}
	if a.has("failed to parse token") {
		return Diagnosis{ReasonUnparseableToken,
			fmt.Sprintf("AgentCore could not parse the bearer token as a JWT (%s)", q),
			fmt.Sprintf("Make --discovery-url (or --token-url) point at the user pool that issues JWT access tokens to %s", client)}, true
	}
	if a.status == 403 && strings.Contains(strings.ToLower(a.challenge), "insufficient_scope") {
		return diagClaim("scope", client, q), true
	}

	if a.status == 401 {
		switch {
		case a.has("missing authentication token") || uc.ClientID == "":
			if uc.ClientID != "" {
				return Diagnosis{ReasonMissingToken,
					fmt.Sprintf("The runtime's OAuth authorizer received no bearer token although the proxy sent one (%s)", q),
					"Something between the proxy and AgentCore dropped the Authorization header: check --endpoint-url and any HTTP proxy on the way"}, true
			}
			return Diagnosis{ReasonMissingToken,
				fmt.Sprintf("The runtime's OAuth authorizer received no bearer token (%s)", q),
				"The runtime uses an OAuth authorizer: start the proxy with --client-id, --client-secret-file and --discovery-url of the runtime's user pool"}, true
		case a.has("expired"):
			return Diagnosis{ReasonExpiredToken,
				fmt.Sprintf("The runtime's authorizer says the bearer token has expired (%s)", q),
				fmt.Sprintf("The proxy refreshes tokens before they expire, so check this machine's clock and the access-token lifetime of app client %s", client)}, true
		}
		return Diagnosis{ReasonInvalidToken,
			fmt.Sprintf("The runtime's authorizer rejected the bearer token (%s)", q),
			"Check that --discovery-url is exactly the runtime's customJWTAuthorizer discoveryUrl, whose jwks_uri holds the keys that sign the token"}, true
	}

	// 403.
	if a.has("authorization method mismatch") ||
		(uc.ClientID != "" && a.challenge == "" && !a.has("missing authentication token") &&
			(a.has("access_denied") || a.typeIs("AccessDeniedException") || a.has("accessdeniedexception"))) {
		return Diagnosis{ReasonSigV4Runtime,
			fmt.Sprintf("The runtime is configured for IAM (SigV4) authorization and refuses bearer tokens (%s)", q),
			fmt.Sprintf("Reconfigure the runtime's inbound authorizer as customJWTAuthorizer with the pool's discoveryUrl and allowedClients %s, or call it with SigV4 instead", client)}, true
	}
	if a.has("missing authentication token") {
		if a.jsonRPC {
			// The authorizer's own form: the runtime got no token.
			a.status = 401
			return diagAuth(a, uc, q)
		}
		endpoint := "https://bedrock-agentcore.REGION.amazonaws.com"
		if uc.Endpoint != "" && !strings.Contains(uc.Endpoint, "://") {
			endpoint = "https://" + uc.Endpoint
		} else if uc.Endpoint != "" {
			endpoint = uc.Endpoint
		}
		return Diagnosis{ReasonMissingAuthPath,
			fmt.Sprintf("The request did not reach a runtime invocation endpoint; AWS answers unknown paths this way (%s)", q),
			fmt.Sprintf("Let the proxy build the URL from --runtime-arn, which escapes the ARN as one path segment, and give --endpoint-url with no path, such as %s", endpoint)}, true
	}
	if uc.ARN == "" && a.has("origin") {
		return Diagnosis{ReasonAccessDenied,
			fmt.Sprintf("The MCP server refused the request (%s)", q),
			"Check the MCP server's allowed origins and hosts for requests from the proxy"}, true
	}
	if uc.ClientID == "" {
		return Diagnosis{ReasonAccessDenied,
			fmt.Sprintf("AgentCore denied access to a request without a bearer token (%s)", q),
			"If the runtime uses an OAuth authorizer, start the proxy with --client-id, --client-secret-file and --discovery-url; if it uses IAM (SigV4), call it with SigV4 instead"}, true
	}
	return Diagnosis{ReasonAccessDenied,
		fmt.Sprintf("AgentCore denied access (%s)", q),
		fmt.Sprintf("Check the runtime's authorizer (allowedClients, allowedScopes, customClaims) against the token of client %s", client)}, true
}

// diagClaim explains an authorizer's "Claim 'name' value mismatch".
func diagClaim(name, client, q string) Diagnosis {
	switch strings.ToLower(name) {
	case "client_id":
		return Diagnosis{ReasonClaimClientID,
			fmt.Sprintf("The runtime's authorizer rejected the token's client_id claim (%s)", q),
			fmt.Sprintf("Send an access token, not an ID token (ID tokens have no client_id), and add client %s to the runtime's allowedClients", client)}
	case "aud":
		return Diagnosis{ReasonClaimAud,
			fmt.Sprintf("The runtime requires an audience the token does not carry (%s)", q),
			fmt.Sprintf("Cognito access tokens carry no aud: configure the runtime's allowedClients with %s instead of allowedAudience, or add aud with a V3 pre-token-generation Lambda", client)}
	case "iss":
		return Diagnosis{ReasonClaimIss,
			fmt.Sprintf("The token's issuer is not the issuer of the runtime's discoveryUrl (%s)", q),
			"The runtime's discoveryUrl names another user pool or region than --discovery-url: make them the same"}
	case "scope", "scp":
		return Diagnosis{ReasonClaimScope,
			fmt.Sprintf("The token carries none of the runtime's allowedScopes (%s)", q),
			fmt.Sprintf("Request an allowed scope with --scope (RESOURCE_SERVER/SCOPE), or add a scope of client %s to the runtime's allowedScopes", client)}
	}
	return Diagnosis{ReasonClaimOther,
		fmt.Sprintf("The token's '%s' claim does not satisfy the runtime's customClaims rule (%s)", name, q),
		fmt.Sprintf("Make the runtime's customClaims rule for '%s' match what the token carries, or add the claim with a pre-token-generation Lambda", name)}
}

// diagNotFound explains a 404: an unknown runtime, or an MCP session that ended.
func diagNotFound(a diagAnswer, uc UpstreamContext, q string) Diagnosis {
	notFound := a.typeIs("ResourceNotFoundException") || a.has("resourcenotfoundexception", "no endpoint or agent found")
	if !notFound && uc.HadSession {
		return Diagnosis{ReasonSessionNotFound,
			fmt.Sprintf("The MCP session is gone, as its microVM ends after 15 idle minutes or 8 hours (%s)", q),
			"The MCP client must send initialize again to start a new session; most clients do so on their own after a 404"}
	}
	if !notFound && uc.ARN == "" {
		return Diagnosis{ReasonUpstreamOther,
			fmt.Sprintf("The upstream has no MCP endpoint at this URL (%s)", q),
			"Check --upstream-url: an MCP server in an AgentCore container serves /mcp on port 8000"}
	}
	if uc.ARN == "" {
		return Diagnosis{ReasonRuntimeNotFound,
			fmt.Sprintf("The upstream found no runtime for this URL (%s)", q),
			"Check --upstream-url, or give --runtime-arn and let the proxy build the invocation URL"}
	}
	fix := fmt.Sprintf(`Check that --runtime-arn names an existing runtime, that "%s" is one of its endpoints (--qualifier), and that the endpoint %s is in the ARN's region %s`,
		uc.Qualifier, diagOr(uc.Endpoint, "host"), diagOr(uc.Region, "(see the ARN)"))
	if uc.Region != "" && strings.Contains(uc.Endpoint, "amazonaws.") && !strings.Contains(uc.Endpoint, "."+uc.Region+".") {
		fix = fmt.Sprintf("The endpoint %s is not in the ARN's region %s: drop --endpoint-url or use bedrock-agentcore.%s.amazonaws.com", uc.Endpoint, uc.Region, uc.Region)
	}
	return Diagnosis{ReasonRuntimeNotFound,
		fmt.Sprintf("AgentCore found no runtime endpoint for this ARN and qualifier (%s)", q), fix}
}

func diagNotAcceptable(q string) Diagnosis {
	return Diagnosis{ReasonNotAcceptable,
		fmt.Sprintf("The MCP server refused the Accept header although the proxy sends application/json and text/event-stream (%s)", q),
		"Report this as an agentcore-proxy bug, with this message and the MCP server's name and version"}
}

func diagConflict(q string) Diagnosis {
	return Diagnosis{ReasonSessionConflict,
		fmt.Sprintf("Another operation on the same runtime session is still in progress (%s)", q),
		"Retry in a few seconds; if it persists, send fewer concurrent requests on one session"}
}

func diagQuota(uc UpstreamContext, q string) Diagnosis {
	return Diagnosis{ReasonQuotaExceeded,
		fmt.Sprintf("An AgentCore service quota is exhausted (%s)", q),
		fmt.Sprintf("Wait for sessions to end, or request an increase in Service Quotas for Amazon Bedrock AgentCore in %s", diagOr(uc.Region, "the runtime's region"))}
}

func diagThrottled(uc UpstreamContext, q string) Diagnosis {
	return Diagnosis{ReasonThrottled,
		fmt.Sprintf("AgentCore throttled the request (%s)", q),
		fmt.Sprintf("Send requests more slowly and retry with backoff, or request a quota increase in Service Quotas in %s", diagOr(uc.Region, "the runtime's region"))}
}

// diagLogs tells where the runtime's container logs are: AgentCore writes
// them to the log group /aws/bedrock-agentcore/runtimes/{runtimeId}-{qualifier}.
func diagLogs(uc UpstreamContext) string {
	if uc.ARN == "" {
		return "check the MCP server's logs"
	}
	id := uc.ARN
	if i := strings.LastIndex(id, "runtime/"); i >= 0 {
		id = id[i+len("runtime/"):]
	}
	return fmt.Sprintf("check the container's logs in CloudWatch log group /aws/bedrock-agentcore/runtimes/%s-%s", id, uc.Qualifier)
}

func diagOr(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}

// diagOneLine makes s one line of printable, valid UTF-8: invalid bytes
// become U+FFFD, control characters and line separators become spaces,
// invisible format characters (such as bidi overrides) are dropped, and runs
// of spaces collapse.
func diagOneLine(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		switch {
		case unicode.IsControl(r), unicode.In(r, unicode.Zl, unicode.Zp):
			return ' '
		case unicode.Is(unicode.Cf, r):
			return -1
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}

// diagClip shortens s to at most n bytes without splitting a character,
// ending it with "…" when it was cut.
func diagClip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const ellipsis = "…"
	cut := n - len(ellipsis)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strings.TrimRight(s[:cut], " ") + ellipsis
}

// diagSentence ends s with a period unless it already ends a sentence.
func diagSentence(s string) string {
	if strings.HasSuffix(s, ".") || strings.HasSuffix(s, "!") || strings.HasSuffix(s, "?") {
		return s
	}
	return s + "."
}
