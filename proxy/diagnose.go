package proxy

import (
	"cmp"

	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/agentcore-proxy/agentcore-proxy/agentcore"
	"github.com/agentcore-proxy/agentcore-proxy/discovery"
)

// Diagnosis explains an upstream error answer.
type Diagnosis struct {
	// Reason is a stable reason code from the agentcore catalogue.
	Reason string
	// Cause is one sentence: what went wrong, quoting what the upstream said.
	Cause string
	// Fix is one sentence: what the user should change.
	Fix string
}

// Limits that keep a diagnosis readable in an MCP client's error line.
const (
	maxDiagnoseBody = 64 << 10 // Diagnose looks at no more of the body
	maxQuote        = 200      // bytes of the upstream's message quoted in Cause
	maxField        = 120      // bytes of an UpstreamContext field or claim name
	maxMessage      = 600      // bytes of Message
)

// Message returns "Cause. Fix." on one line, for an MCP client to show after
// a prefix such as "agentcore-proxy: AgentCore answered 401: ". It is valid
// UTF-8 and at most 600 bytes whatever the Diagnosis holds.
func (d Diagnosis) Message() string {
	var parts []string
	for _, s := range []string{d.Cause, d.Fix} {
		if s = oneLine(s); s != "" {
			parts = append(parts, sentence(s))
		}
	}
	return clip(strings.Join(parts, " "), maxMessage)
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
	// SigV4 says the proxy signed the request with AWS credentials
	// instead of sending a bearer token.
	SigV4 bool
	// StepUpOff says step-up is turned off for the route: a 403
	// insufficient_scope is explained with how to turn it on.
	StepUpOff bool
	// WebIdentity says the bearer is an AWS STS web identity token (no
	// client id); ClientID is then empty.
	WebIdentity bool
	// Names renders the settings a Fix refers to in the user's words (a
	// flag, a YAML key); nil names them by their keys (agentcore.PlainNames).
	Names agentcore.Namer
	// Redact, if set, replaces the credentials the proxy sent (the bearer
	// token, a client secret) in the upstream's words before they are
	// quoted or cut short; Options.Redact sets it.
	Redact func(string) string
}

// redact applies uc.Redact, if set.
func (uc UpstreamContext) redact(s string) string {
	if uc.Redact == nil || s == "" {
		return s
	}
	return uc.Redact(s)
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
// agentcore.ReasonSessionNotFound: the caller must keep the 404 status,
// because MCP clients start a new session when they see it.
func Diagnose(status int, header http.Header, body []byte, uc UpstreamContext) (d Diagnosis, ok bool) {
	if status < 400 {
		return Diagnosis{}, false
	}
	if len(body) > maxDiagnoseBody {
		body = body[:maxDiagnoseBody]
	}
	if uc.Redact != nil {
		// Before anything is parsed, quoted or clipped: a clipped token
		// would no longer be recognised.
		body = []byte(uc.Redact(string(body)))
		h := make(http.Header, 2)
		for _, name := range []string{"X-Amzn-Errortype", "Www-Authenticate"} {
			if v := headerValues(header, name); v != "" {
				h.Set(name, uc.Redact(v))
			}
		}
		header = h
	}
	a := parseAnswer(status, header, body, uc)
	d = classify(a, cleanContext(uc))
	d.Cause = oneLine(d.Cause)
	d.Fix = oneLine(agentcore.Render(d.Fix, uc.Names))
	return d, true
}

// answer is what Diagnose reads from an upstream answer.
type answer struct {
	status    int
	errType   string // AWS exception name, e.g. ResourceNotFoundException
	message   string // the upstream's message, one clean line
	jsonRPC   bool   // the body was a JSON-RPC error
	challenge string // the WWW-Authenticate header, "" when absent
	// bearer is the Bearer challenge of WWW-Authenticate, if hasBearer.
	bearer    discovery.BearerChallenge
	hasBearer bool
	// hay is the lower-cased text that keywords are matched against: the
	// message, the error type, the raw body and the challenge's error
	// parameters, with the route's own ARN removed so that a runtime named
	// "expired-demo" does not look like an expiry.
	hay string
}

func (a *answer) has(keywords ...string) bool {
	for _, k := range keywords {
		if strings.Contains(a.hay, k) {
			return true
		}
	}
	return false
}

// typeIs reports whether the AWS error type is one of names (case-insensitive).
func (a *answer) typeIs(names ...string) bool {
	for _, n := range names {
		if strings.EqualFold(a.errType, n) {
			return true
		}
	}
	return false
}

// quote is the upstream's own words for a Cause: the error type and the
// message, or a note that there were none.
func (a *answer) quote() string {
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
	// claimRE finds the authorizer's "Claim 'X' value mismatch".
	claimRE = regexp.MustCompile(`(?i)claim\s*['"\x{2018}\x{2019}]?([^'"\x{2018}\x{2019}\s]{1,64})['"\x{2018}\x{2019}]?\s*value\s+mismatch`)
	// messageRE recovers a message from JSON cut off at the 64 KiB limit.
	messageRE = regexp.MustCompile(`(?i)"(?:message|errorMessage|error_description)"\s*:\s*("(?:[^"\\]|\\.)*")`)
	// titleRE finds an HTML page's title.
	titleRE = regexp.MustCompile(`(?is)<title[^>]*>(.*?)</title>`)
	// tagRE matches HTML tags, scripts and styles to strip.
	tagRE = regexp.MustCompile(`(?is)<(script|style)[^>]*>.*?</(script|style)>|<[^>]*>`)
)

func parseAnswer(status int, header http.Header, body []byte, uc UpstreamContext) answer {
	a := answer{status: status}
	msg, typ, rpc := bodyMessage(body)
	if t := headerValues(header, "X-Amzn-Errortype"); t != "" {
		typ = t
	}
	// Decoding JSON can undo an escape that hid a credential from the
	// redaction of the body.
	msg, typ = uc.redact(msg), uc.redact(typ)
	a.errType = clip(oneLine(awsTypeName(typ)), 64)
	a.message = clip(oneLine(msg), maxQuote)
	a.jsonRPC = rpc
	a.challenge = headerValues(header, "Www-Authenticate")
	a.bearer, a.hasBearer = discovery.ParseBearerChallenge(headerList(header, "Www-Authenticate"))

	var params []string
	for _, v := range []string{a.bearer.Error, a.bearer.ErrorDescription} {
		if v != "" {
			params = append(params, v)
		}
	}
	if a.message == "" && len(params) > 0 {
		a.message = clip(oneLine(strings.Join(params, ": ")), maxQuote)
	}
	hay := strings.ToLower(strings.Join([]string{msg, typ, string(body), strings.Join(params, " ")}, "\n"))
	for _, s := range []string{uc.ARN, agentcore.EscapeSegment(uc.ARN)} {
		if s != "" {
			hay = strings.ReplaceAll(hay, strings.ToLower(s), "<arn>")
		}
	}
	a.hay = hay
	return a
}

// headerValues returns the values of a header joined by ", ", finding it also
// when the map was built with a non-canonical key.
func headerValues(h http.Header, name string) string {
	return strings.Join(headerList(h, name), ", ")
}

// headerList returns the values of header name, also under a key that is
// not in canonical form.
func headerList(h http.Header, name string) []string {
	if v := h.Values(name); len(v) > 0 {
		return v
	}
	for k, v := range h {
		if strings.EqualFold(k, name) && len(v) > 0 {
			return v
		}
	}
	return nil
}

// awsTypeName reduces an AWS error type to the exception name:
// "ResourceNotFoundException:http://internal.amazon.com/coral/..." and
// "com.amazonaws.bedrockagentcore#ResourceNotFoundException" both give
// "ResourceNotFoundException".
func awsTypeName(t string) string {
	t, _, _ = strings.Cut(strings.TrimSpace(t), ":")
	if i := strings.LastIndexByte(t, '#'); i >= 0 {
		t = t[i+1:]
	}
	return strings.TrimSpace(t)
}

// bodyMessage extracts the message and error type of a body in any of
// the shapes upstreams use. rpc reports a JSON-RPC error.
func bodyMessage(body []byte) (msg, typ string, rpc bool) {
	b := bytes.TrimSpace(bytes.TrimPrefix(body, []byte("\xef\xbb\xbf")))
	if len(b) == 0 {
		return "", "", false
	}
	if msg, typ, rpc, ok := jsonMessage(b); ok {
		return msg, typ, rpc
	}
	// Server-sent events: the MCP server may answer an error as one event.
	if bytes.HasPrefix(b, []byte("event:")) || bytes.HasPrefix(b, []byte("data:")) || bytes.HasPrefix(b, []byte("id:")) {
		for _, line := range bytes.Split(b, []byte("\n")) {
			if data, ok := bytes.CutPrefix(bytes.TrimSpace(line), []byte("data:")); ok {
				if msg, typ, rpc, ok := jsonMessage(bytes.TrimSpace(data)); ok {
					return msg, typ, rpc
				}
			}
		}
	}
	if b[0] == '{' || b[0] == '[' {
		// JSON, but cut off or malformed: recover a message if one is there.
		if m := messageRE.FindSubmatch(b); m != nil {
			var s string
			if json.Unmarshal(m[1], &s) == nil {
				return s, "", false
			}
		}
		return string(b), "", false
	}
	if b[0] == '<' || bytes.Contains(bytes.ToLower(b[:min(len(b), 512)]), []byte("<html")) {
		if m := titleRE.FindSubmatch(b); m != nil && len(bytes.TrimSpace(m[1])) > 0 {
			return string(m[1]), "", false
		}
		return tagRE.ReplaceAllString(string(b), " "), "", false
	}
	return string(b), "", false
}

// jsonMessage reads a JSON error body: {"message": ...} in any case,
// {"__type": ...}, a JSON-RPC {"error": {"code", "message"}}, an OAuth
// {"error": "...", "error_description": ...}, or the first element of an array
// of those. ok is false when b is not a JSON object or array.
func jsonMessage(b []byte) (msg, typ string, rpc, ok bool) {
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
	msg = firstString(obj, "message", "errorMessage", "error_description", "detail")
	typ = firstString(obj, "__type", "code", "errorType")
	switch e := lookupFold(obj, "error").(type) {
	case map[string]any:
		_, hasCode := e["code"]
		rpc = hasCode || lookupFold(obj, "jsonrpc") != nil
		if m := firstString(e, "message", "Message"); m != "" {
			msg = m
		}
		if t := firstString(e, "__type", "type", "Code"); t != "" && typ == "" {
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

// lookupFold returns obj's value for key, matching the key case-insensitively
// as AWS's JSON protocols do ("message" and "Message").
func lookupFold(obj map[string]any, key string) any {
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

// firstString returns the first of keys whose value is a non-empty string.
func firstString(obj map[string]any, keys ...string) string {
	for _, k := range keys {
		if s, ok := lookupFold(obj, k).(string); ok && strings.TrimSpace(s) != "" {
			return s
		}
	}
	return ""
}

// cleanContext makes the route's values safe to print in one short line.
func cleanContext(uc UpstreamContext) UpstreamContext {
	for _, p := range []*string{&uc.ARN, &uc.Region, &uc.Qualifier, &uc.Endpoint, &uc.ClientID} {
		*p = clip(oneLine(*p), maxField)
	}
	if uc.Qualifier == "" {
		uc.Qualifier = "DEFAULT"
	}
	return uc
}

// classify chooses the reason and writes Cause and Fix. Keyword checks
// run on a.hay; the status decides first, because AgentCore's statuses are
// documented and its messages are not.
func classify(a answer, uc UpstreamContext) Diagnosis {
	q := a.quote()
	switch {
	case a.status == 401 || a.status == 403:
		if d, ok := explainAuth(a, uc, q); ok {
			return d
		}
	case a.status == 404:
		return explainNotFound(a, uc, q)
	case a.status == 424 && a.has("not acceptable"):
		return explainNotAcceptable(q)
	case a.status >= 400 && a.status < 500:
		// AWS JSON protocols sometimes send an exception with another 4xx
		// status than the documented one; the exception name is more precise.
		switch {
		case a.typeIs("ThrottlingException", "TooManyRequestsException"):
			return explainThrottled(uc, q)
		case a.typeIs("ServiceQuotaExceededException"):
			return explainQuota(uc, q)
		case a.typeIs("RetryableConflictException", "ConflictException"):
			return explainConflict(q)
		}
	}

	switch s := a.status; {
	case s == 400:
		if a.has("runtimesessionid", "runtime-session-id", "greater than or equal to 33") {
			return Diagnosis{agentcore.ReasonSessionIDInvalid,
				fmt.Sprintf("AgentCore rejected the runtime session id (%s)", q),
				"Send an " + agentcore.HeaderRuntimeSessionID + " of 33 to 256 characters, or none and AgentCore allocates one"}
		}
		return Diagnosis{agentcore.ReasonValidationError,
			fmt.Sprintf("AgentCore or the MCP server rejected the request as invalid (%s)", q),
			"Check the request the MCP client sent: a JSON-RPC body, and after initialize the Mcp-Session-Id and MCP-Protocol-Version headers"}
	case s == 402:
		return explainQuota(uc, q)
	case s == 406:
		return explainNotAcceptable(q)
	case s == 409:
		return explainConflict(q)
	case s == 415:
		return Diagnosis{agentcore.ReasonUnsupportedMediaType,
			fmt.Sprintf("The MCP server refused the request's Content-Type (%s)", q),
			"Send the request body as JSON with Content-Type: application/json"}
	case s == 424 && a.has("initialization time exceeded", "initialization timeout", "init timeout"):
		return Diagnosis{agentcore.ReasonRuntimeInitTimeout,
			fmt.Sprintf("The runtime's container did not start in time (%s)", q),
			"Make the container start faster and listen on 0.0.0.0:8000 at /mcp; " + whereLogs(uc)}
	case s == 424:
		return Diagnosis{agentcore.ReasonRuntimeClientError,
			fmt.Sprintf("The runtime's container failed to answer (%s)", q),
			"Check that the container serves MCP on 0.0.0.0:8000 at /mcp; " + whereLogs(uc)}
	case s == 429:
		return explainThrottled(uc, q)
	case s >= 500 && s <= 599:
		who := "AgentCore or the runtime's container"
		if uc.ARN == "" {
			who = "The upstream MCP server"
		}
		return Diagnosis{agentcore.ReasonUpstreamError,
			fmt.Sprintf("%s failed (%s)", who, q),
			"Retry; if it persists, " + whereLogs(uc)}
	}
	return Diagnosis{agentcore.ReasonUpstreamOther,
		fmt.Sprintf("The upstream answered with an unexpected error status (%s)", q),
		"Check the upstream URL and the MCP server's logs"}
}

// explainAuth explains a 401 or a 403. ok is false for a 403 that fits no rule
// of the authorizer, which the caller reports as access_denied.
func explainAuth(a answer, uc UpstreamContext, q string) (Diagnosis, bool) {
	if uc.SigV4 {
		return explainSigV4(a, uc, q)
	}
	if uc.WebIdentity {
		if d, ok := explainWebIdentity(a, uc, q); ok {
			return d, true
		}
		// Otherwise as for any bearer: one was sent.
		uc.ClientID, uc.WebIdentity = "(STS web identity)", false
	}
	client := "{client_id}"
	if uc.ClientID != "" {
		client = `"` + uc.ClientID + `"`
	}
	if m := claimRE.FindStringSubmatch(a.message); m != nil || claimRE.MatchString(a.hay) {
		if m == nil {
			m = claimRE.FindStringSubmatch(a.hay)
		}
		return explainClaim(clip(oneLine(m[1]), 64), client, q), true
	}
	if a.has("failed to parse token") {
		return Diagnosis{agentcore.ReasonUnparseableToken,
			fmt.Sprintf("AgentCore could not parse the bearer token as a JWT (%s)", q),
			fmt.Sprintf("Make {discovery_url} (or {token_url}) point at the user pool that issues JWT access tokens to %s", client)}, true
	}
	if a.status == 403 && a.bearer.Error == "insufficient_scope" {
		if d, ok := explainStepUp(a, uc, client, q); ok {
			return d, true
		}
		return explainClaim("scope", client, q), true
	}

	if a.status == 401 {
		switch {
		case a.has("missing authentication token") || uc.ClientID == "":
			if uc.ClientID != "" {
				return Diagnosis{agentcore.ReasonMissingToken,
					fmt.Sprintf("The runtime's OAuth authorizer received no bearer token although the proxy sent one (%s)", q),
					"Something between the proxy and AgentCore dropped the Authorization header: check {endpoint_url} and any HTTP proxy on the way"}, true
			}
			return Diagnosis{agentcore.ReasonMissingToken,
				fmt.Sprintf("The runtime's OAuth authorizer received no bearer token (%s)", q),
				"The runtime uses an OAuth authorizer: start the proxy with {client_id}, {client_secret} and {discovery_url} of the runtime's user pool"}, true
		case a.has("expired"):
			return Diagnosis{agentcore.ReasonExpiredToken,
				fmt.Sprintf("The runtime's authorizer says the bearer token has expired (%s)", q),
				fmt.Sprintf("The proxy refreshes tokens before they expire, so check this machine's clock and the access-token lifetime of app client %s", client)}, true
		}
		return Diagnosis{agentcore.ReasonInvalidToken,
			fmt.Sprintf("The runtime's authorizer rejected the bearer token (%s)", q),
			"Check that {discovery_url} is exactly the runtime's customJWTAuthorizer discoveryUrl, whose jwks_uri holds the keys that sign the token"}, true
	}

	// 403.
	if a.has("authorization method mismatch") ||
		(uc.ClientID != "" && a.challenge == "" && !a.has("missing authentication token") &&
			(a.has("access_denied") || a.typeIs("AccessDeniedException") || a.has("accessdeniedexception"))) {
		return Diagnosis{agentcore.ReasonSigV4Runtime,
			fmt.Sprintf("The runtime is configured for IAM (SigV4) authorization and refuses bearer tokens (%s)", q),
			fmt.Sprintf("Sign the requests with {auth} sigv4, or reconfigure the runtime's inbound authorizer as customJWTAuthorizer with the pool's discoveryUrl and allowedClients %s", client)}, true
	}
	if a.has("missing authentication token") {
		if a.jsonRPC {
			// The authorizer's own form: the runtime got no token.
			a.status = 401
			return explainAuth(a, uc, q)
		}
		endpoint := "https://bedrock-agentcore.REGION.amazonaws.com"
		if uc.Endpoint != "" && !strings.Contains(uc.Endpoint, "://") {
			endpoint = "https://" + uc.Endpoint
		} else if uc.Endpoint != "" {
			endpoint = uc.Endpoint
		}
		return Diagnosis{agentcore.ReasonMissingAuthPath,
			fmt.Sprintf("The request did not reach a runtime invocation endpoint; AWS answers unknown paths this way (%s)", q),
			fmt.Sprintf("Let the proxy build the URL from {runtime_arn}, which escapes the ARN as one path segment, and give {endpoint_url} with no path, such as %s", endpoint)}, true
	}
	if uc.ARN == "" && a.has("origin") {
		return Diagnosis{agentcore.ReasonAccessDenied,
			fmt.Sprintf("The MCP server refused the request (%s)", q),
			"Check the MCP server's allowed origins and hosts for requests from the proxy"}, true
	}
	if uc.ClientID == "" {
		return Diagnosis{agentcore.ReasonAccessDenied,
			fmt.Sprintf("AgentCore denied access to a request without a bearer token (%s)", q),
			"If the runtime uses an OAuth authorizer, start the proxy with {client_id}, {client_secret} and {discovery_url}; if it uses IAM (SigV4), call it with SigV4 instead"}, true
	}
	return Diagnosis{agentcore.ReasonAccessDenied,
		fmt.Sprintf("AgentCore denied access (%s)", q),
		fmt.Sprintf("Check the runtime's authorizer (allowedClients, allowedScopes, customClaims) against the token of client %s", client)}, true
}

// explainClaim explains an authorizer's "Claim 'name' value mismatch".
func explainClaim(name, client, q string) Diagnosis {
	switch strings.ToLower(name) {
	case "client_id":
		return Diagnosis{agentcore.ReasonClaimClientID,
			fmt.Sprintf("The runtime's authorizer rejected the token's client_id claim (%s)", q),
			fmt.Sprintf("Send an access token, not an ID token (ID tokens have no client_id), and add client %s to the runtime's allowedClients", client)}
	case "aud":
		return Diagnosis{agentcore.ReasonClaimAud,
			fmt.Sprintf("The runtime requires an audience the token does not carry (%s)", q),
			fmt.Sprintf("Cognito access tokens carry no aud: configure the runtime's allowedClients with %s instead of allowedAudience, or add aud with a V3 pre-token-generation Lambda", client)}
	case "iss":
		return Diagnosis{agentcore.ReasonClaimIss,
			fmt.Sprintf("The token's issuer is not the issuer of the runtime's discoveryUrl (%s)", q),
			"The runtime's discoveryUrl names another user pool or region than {discovery_url}: make them the same"}
	case "scope", "scp":
		return Diagnosis{agentcore.ReasonClaimScope,
			fmt.Sprintf("The token carries none of the runtime's allowedScopes (%s)", q),
			fmt.Sprintf("Request an allowed scope with {scope} (RESOURCE_SERVER/SCOPE), or add a scope of client %s to the runtime's allowedScopes", client)}
	}
	return Diagnosis{agentcore.ReasonClaimCustom,
		fmt.Sprintf("The token's '%s' claim does not satisfy the runtime's customClaims rule (%s)", name, q),
		fmt.Sprintf("Make the runtime's customClaims rule for '%s' match what the token carries, or add the claim with a pre-token-generation Lambda", name)}
}

// explainNotFound explains a 404: an unknown runtime, or an MCP session that ended.
func explainNotFound(a answer, uc UpstreamContext, q string) Diagnosis {
	notFound := a.typeIs("ResourceNotFoundException") || a.has("resourcenotfoundexception", "no endpoint or agent found")
	if !notFound && uc.HadSession {
		return Diagnosis{agentcore.ReasonSessionNotFound,
			fmt.Sprintf("The MCP session is gone, as its microVM ends after 15 idle minutes or 8 hours (%s)", q),
			"The MCP client must send initialize again to start a new session; most clients do so on their own after a 404"}
	}
	if !notFound && uc.ARN == "" {
		return Diagnosis{agentcore.ReasonUpstreamOther,
			fmt.Sprintf("The upstream has no MCP endpoint at this URL (%s)", q),
			"Check {upstream_url}: an MCP server in an AgentCore container serves /mcp on port 8000"}
	}
	if uc.ARN == "" {
		return Diagnosis{agentcore.ReasonRuntimeNotFound,
			fmt.Sprintf("The upstream found no runtime for this URL (%s)", q),
			"Check {upstream_url}, or give {runtime_arn} and let the proxy build the invocation URL"}
	}
	fix := fmt.Sprintf(`Check that {runtime_arn} names an existing runtime, that "%s" is one of its endpoints ({qualifier}), and that the endpoint %s is in the ARN's region %s`,
		uc.Qualifier, cmp.Or(uc.Endpoint, "host"), cmp.Or(uc.Region, "(see the ARN)"))
	if uc.Region != "" && strings.Contains(uc.Endpoint, "amazonaws.") && !strings.Contains(uc.Endpoint, "."+uc.Region+".") {
		fix = fmt.Sprintf("The endpoint %s is not in the ARN's region %s: drop {endpoint_url} or use bedrock-agentcore.%s.amazonaws.com", uc.Endpoint, uc.Region, uc.Region)
	}
	return Diagnosis{agentcore.ReasonRuntimeNotFound,
		fmt.Sprintf("AgentCore found no runtime endpoint for this ARN and qualifier (%s)", q), fix}
}

func explainNotAcceptable(q string) Diagnosis {
	return Diagnosis{agentcore.ReasonNotAcceptable,
		fmt.Sprintf("The MCP server refused the Accept header although the proxy sends application/json and text/event-stream (%s)", q),
		"Report this as an agentcore-proxy bug, with this message and the MCP server's name and version"}
}

func explainConflict(q string) Diagnosis {
	return Diagnosis{agentcore.ReasonSessionConflict,
		fmt.Sprintf("Another operation on the same runtime session is still in progress (%s)", q),
		"Retry in a few seconds; if it persists, send fewer concurrent requests on one session"}
}

func explainQuota(uc UpstreamContext, q string) Diagnosis {
	return Diagnosis{agentcore.ReasonQuotaExceeded,
		fmt.Sprintf("An AgentCore service quota is exhausted (%s)", q),
		fmt.Sprintf("Wait for sessions to end, or request an increase in Service Quotas for Amazon Bedrock AgentCore in %s", cmp.Or(uc.Region, "the runtime's region"))}
}

func explainThrottled(uc UpstreamContext, q string) Diagnosis {
	return Diagnosis{agentcore.ReasonThrottled,
		fmt.Sprintf("AgentCore throttled the request (%s)", q),
		fmt.Sprintf("Send requests more slowly and retry with backoff, or request a quota increase in Service Quotas in %s", cmp.Or(uc.Region, "the runtime's region"))}
}

// whereLogs tells where the runtime's container logs are: AgentCore writes
// them to the log group /aws/bedrock-agentcore/runtimes/{runtimeId}-{qualifier}.
func whereLogs(uc UpstreamContext) string {
	if uc.ARN == "" {
		return "check the MCP server's logs"
	}
	id := uc.ARN
	if i := strings.LastIndex(id, "runtime/"); i >= 0 {
		id = id[i+len("runtime/"):]
	}
	return fmt.Sprintf("check the container's logs in CloudWatch log group /aws/bedrock-agentcore/runtimes/%s-%s", id, uc.Qualifier)
}
