package emulator

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/agentcore-proxy/agentcore-proxy/internal/redact"
)

// Header names of the AgentCore invocation contract.
const (
	headerMcpSessionID     = "Mcp-Session-Id"
	headerRuntimeSessionID = "X-Amzn-Bedrock-AgentCore-Runtime-Session-Id"
	headerTraceID          = "X-Amzn-Trace-Id"
	headerTraceparent      = "Traceparent"
	minRuntimeSessionIDLen = 33
	protectedResourcePath  = "/.well-known/oauth-protected-resource"
)

// rejection is a refused invocation: the reason code and the response AgentCore sends.
type rejection struct {
	reason string
	status int
	body   any
	// challenge adds WWW-Authenticate, as every 401 of the runtime's authorizer does.
	challenge bool
	// errorType names the AWS exception in x-amzn-ErrorType for {"message": ...} bodies.
	errorType string
	// wwwAuthenticate, if set, is sent as WWW-Authenticate (injected faults).
	wwwAuthenticate string
}

func serviceError(reason string, status int, errorType, msg string) *rejection {
	return &rejection{reason: reason, status: status, errorType: errorType, body: map[string]string{"message": msg}}
}

func jsonRPCUnauthorized(reason, msg string) *rejection {
	return &rejection{reason: reason, status: http.StatusUnauthorized, challenge: true, body: jsonRPCError{
		JSONRPC: "2.0",
		Error:   jsonRPCErrorBody{Code: -32001, Message: msg},
	}}
}

// jsonRPCError is the body of the authorizer's 401s, fields in AgentCore's order.
type jsonRPCError struct {
	JSONRPC string           `json:"jsonrpc"`
	Error   jsonRPCErrorBody `json:"error"`
}

type jsonRPCErrorBody struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func claimMismatch(reason, claim string) *rejection {
	return jsonRPCUnauthorized(reason, fmt.Sprintf("Claim '%s' value mismatch with configuration.", claim))
}

// target is what an AgentCore path names.
type target struct {
	escapedARN string // the ARN (or bare runtime id) segment, escaped canonically
	qualifier  string
	metadata   bool // the RFC 9728 protected resource metadata, not an invocation
}

func (e *Emulator) agentCoreHandler() http.Handler {
	return http.HandlerFunc(e.serveAgentCore)
}

func (e *Emulator) serveAgentCore(w http.ResponseWriter, r *http.Request) {
	inv := Invocation{
		Method:     r.Method,
		RawPath:    r.URL.EscapedPath(),
		RawQuery:   r.URL.RawQuery,
		Header:     r.Header.Clone(),
		ReceivedAt: time.Now(),
	}
	if a := inv.Header.Get("Authorization"); a != "" {
		inv.KeyID = tokenKeyID(bearerToken(a))
		inv.Header.Set("Authorization", "Bearer "+redact.Fingerprint(bearerToken(a)))
	}
	w.Header().Set("X-Amzn-Requestid", newUUID())

	tgt, rej := e.route(r)
	if rej == nil && tgt.metadata {
		e.record(inv, nil)
		writeJSON(w, http.StatusOK, map[string]any{
			"resource":              e.acURL + "/runtimes/" + tgt.escapedARN + "/invocations?qualifier=" + url.QueryEscape(tgt.qualifier),
			"authorization_servers": []string{e.authorizerIssuer()},
		})
		return
	}
	if rej == nil {
		rej = e.authenticate(r, &inv)
	}
	// Validation comes after the authorizer so that an unauthenticated caller learns nothing; AWS's
	// order here is unconfirmed.
	sid := r.Header.Get(headerRuntimeSessionID)
	if rej == nil && sid != "" && len(sid) < minRuntimeSessionIDLen {
		rej = serviceError(ReasonSessionIDTooShort, http.StatusBadRequest, "ValidationException",
			"1 validation error detected: Value at 'runtimeSessionId' failed to satisfy constraint: Member must have length greater than or equal to 33")
	}
	if rej == nil {
		rej = e.afterAuthorizer(r)
	}
	e.record(inv, rej)
	if rej != nil {
		e.log.Info("invocation rejected", "method", r.Method, "path", inv.RawPath, "reason", rej.reason,
			"status", rej.status, "authorization", inv.Header.Get("Authorization"))
		if rej.challenge {
			w.Header().Set("WWW-Authenticate", `Bearer resource_metadata="`+e.metadataURL(tgt)+`"`)
		}
		if rej.wwwAuthenticate != "" {
			w.Header().Set("WWW-Authenticate", rej.wwwAuthenticate)
		}
		if rej.errorType != "" {
			w.Header().Set("X-Amzn-Errortype", rej.errorType)
		}
		writeJSON(w, rej.status, rej.body)
		return
	}
	e.forward(w, r, sid)
}

// route parses /runtimes/{ESCAPED_ARN}/invocations[/.well-known/oauth-protected-resource]. It reads
// the escaped path: the ARN must arrive as one segment, so an unescaped ARN (whose "/" splits it) is
// a path AgentCore does not know, which API Gateway-style answers with "Missing Authentication Token".
func (e *Emulator) route(r *http.Request) (target, *rejection) {
	missing := serviceError(ReasonMissingAuthPath, http.StatusForbidden, "MissingAuthenticationTokenException", "Missing Authentication Token")
	segs := strings.Split(r.URL.EscapedPath(), "/")
	var tgt target
	switch {
	case len(segs) == 4 && segs[0] == "" && segs[1] == "runtimes" && segs[3] == "invocations" && segs[2] != "":
	case len(segs) == 6 && segs[0] == "" && segs[1] == "runtimes" && segs[3] == "invocations" && segs[2] != "" &&
		"/"+segs[4]+"/"+segs[5] == protectedResourcePath && r.Method == http.MethodGet:
		tgt.metadata = true
	default:
		return tgt, missing
	}
	q := r.URL.Query()
	tgt.qualifier = q.Get("qualifier")
	if tgt.qualifier == "" {
		tgt.qualifier = defaultQualifier
	}
	agent, err := url.PathUnescape(segs[2])
	if err != nil {
		return tgt, missing
	}
	tgt.escapedARN = EscapeSegment(agent) // canonical, for the URLs the emulator hands out
	notFound := func(reason string) *rejection {
		return serviceError(reason, http.StatusNotFound, "ResourceNotFoundException",
			fmt.Sprintf("No endpoint or agent found with qualifier '%s' for agent '%s'", tgt.qualifier, agent))
	}
	// The bare runtime id is accepted with the account in the query, as the service model allows.
	bareID := agent == e.cfg.RuntimeID && q.Get("accountId") == e.cfg.AccountID
	if agent != e.RuntimeARN() && !bareID {
		return tgt, notFound(ReasonUnknownRuntime)
	}
	if !slices.Contains(e.cfg.Qualifiers, tgt.qualifier) {
		return tgt, notFound(ReasonUnknownQualifier)
	}
	return tgt, nil
}

// metadataURL is the resource_metadata URL of the WWW-Authenticate challenge.
func (e *Emulator) metadataURL(tgt target) string {
	arn, q := tgt.escapedARN, tgt.qualifier
	if arn == "" {
		arn = EscapeSegment(e.RuntimeARN())
	}
	if q == "" {
		q = defaultQualifier
	}
	return e.acURL + "/runtimes/" + arn + "/invocations" + protectedResourcePath + "?qualifier=" + url.QueryEscape(q)
}

// record appends the invocation and updates the counters.
func (e *Emulator) record(inv Invocation, rej *rejection) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if rej != nil {
		inv.Rejection = rej.reason
		e.stats.Rejections[rej.reason]++
	}
	e.invocations = append(e.invocations, inv)
}

// forward hands an authorized request to the MCP server the way AgentCore hands it to the container:
// path /mcp, body unchanged, Authorization removed (AgentCore only passes it when allow-listed), and the
// session headers AgentCore always returns.
func (e *Emulator) forward(w http.ResponseWriter, r *http.Request, runtimeSID string) {
	initialize := isInitialize(r)
	e.mu.Lock()
	e.stats.Invocations++
	if initialize {
		e.stats.Initializes++
	}
	e.mu.Unlock()

	mcpSID := r.Header.Get(headerMcpSessionID)
	if mcpSID == "" && !e.stateful {
		mcpSID = newMcpSessionID()
	}
	if mcpSID != "" {
		e.rememberSession(mcpSID)
	}
	if runtimeSID == "" {
		runtimeSID = newUUID()
	}
	h := w.Header()
	if mcpSID != "" {
		h.Set(headerMcpSessionID, mcpSID)
	}
	h.Set(headerRuntimeSessionID, runtimeSID)
	for _, name := range []string{headerTraceID, headerTraceparent} {
		if v := r.Header.Get(name); v != "" {
			h.Set(name, v)
		}
	}

	out := r.Clone(r.Context())
	out.URL.Path, out.URL.RawPath, out.URL.RawQuery = "/mcp", "", ""
	out.RequestURI = "/mcp"
	out.Header.Del("Authorization")
	if mcpSID != "" {
		out.Header.Set(headerMcpSessionID, mcpSID)
	}
	out.Header.Set(headerRuntimeSessionID, runtimeSID)

	sw := &statusWriter{ResponseWriter: w}
	e.mcp.ServeHTTP(sw, out)
	if minted := h.Get(headerMcpSessionID); mcpSID == "" && minted != "" {
		// A stateful server minted the session on initialize.
		mcpSID = minted
		e.rememberSession(mcpSID)
	}
	e.log.Info("invocation served", "method", r.Method, "status", sw.status, "mcp_session", mcpSID,
		"token", redact.Fingerprint(bearerToken(r.Header.Get("Authorization"))))
}

// statusWriter remembers the status for the log. It implements Flush and Unwrap so that SSE events
// reach the client one by one and http.ResponseController sees the real writer.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

// Flush sends buffered data to the client.
func (w *statusWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap returns the wrapped writer for http.ResponseController.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// newMcpSessionID mints an id of the shape AgentCore returns: [a-zA-Z0-9][a-zA-Z0-9-_]*, at most 100.
func newMcpSessionID() string { return rand.Text() + rand.Text() }

// newUUID returns a random RFC 4122 version 4 UUID, the shape of AWS request and session ids.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// tokenKeyID returns the kid of a JWT's header, unverified, for the record.
func tokenKeyID(token string) string {
	head, _, ok := strings.Cut(token, ".")
	if !ok {
		return ""
	}
	raw, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		return ""
	}
	var h struct {
		Kid string `json:"kid"`
	}
	json.Unmarshal(raw, &h)
	return h.Kid
}
