package emulator

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"time"
)

// Reason codes for the faults a test sets up.
const (
	ReasonSigV4Runtime  = "sigv4_runtime"
	ReasonSessionEnded  = "session_ended"
	ReasonInjectedFault = "injected_fault"
)

// Fault is a service error the runtime answers instead of invoking the MCP
// server, as AgentCore does with {"message": ...} and x-amzn-ErrorType.
type Fault struct {
	Status    int    // e.g. 429
	ErrorType string // e.g. ThrottlingException
	Message   string // e.g. Rate exceeded
	// Challenge, if set, is sent as WWW-Authenticate, e.g. an MCP server's
	// Bearer error="insufficient_scope", scope="...".
	Challenge string
}

// faults holds the levers; guarded by Emulator.mu.
type faults struct {
	skew     time.Duration
	sigv4    bool
	inject   []Fault
	sessions map[string]bool // MCP session id -> ended
}

// InjectFault makes the next n authorized invocations answer f.
func (e *Emulator) InjectFault(f Fault, n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for range n {
		e.faults.inject = append(e.faults.inject, f)
	}
}

// SetClockSkew moves the authorizer's clock by d: with d > 0 tokens expire
// early, as they do for a proxy whose clock runs behind.
func (e *Emulator) SetClockSkew(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.faults.skew = d
}

// SetSigV4 configures the runtime for IAM (SigV4) authorization: a bearer
// token gets 403 AccessDeniedException "Authorization method mismatch",
// without a WWW-Authenticate challenge.
func (e *Emulator) SetSigV4(on bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.faults.sigv4 = on
}

// EndSessions ends every MCP session seen so far, as when their microVMs
// idle out: requests that carry one of their ids get 404, and the client
// must initialize again (field behaviour). The body is the one the MCP Python
// SDK's streamable-HTTP server sends for an unknown session id.
func (e *Emulator) EndSessions() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for id := range e.faults.sessions {
		e.faults.sessions[id] = true
	}
}

// now is the authorizer's clock.
func (e *Emulator) now() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return time.Now().Add(e.faults.skew)
}

// afterAuthorizer applies ended sessions and injected faults to an
// authorized request, and remembers its session.
func (e *Emulator) afterAuthorizer(r *http.Request) *rejection {
	e.mu.Lock()
	defer e.mu.Unlock()
	if sid := r.Header.Get(headerMcpSessionID); sid != "" && e.faults.sessions[sid] {
		return &rejection{reason: ReasonSessionEnded, status: http.StatusNotFound, body: map[string]any{
			"jsonrpc": "2.0", "id": "server-error", "error": map[string]any{"code": -32600, "message": "Session not found"},
		}}
	}
	if len(e.faults.inject) > 0 {
		f := e.faults.inject[0]
		e.faults.inject = e.faults.inject[1:]
		rej := serviceError(ReasonInjectedFault, f.Status, f.ErrorType, f.Message)
		rej.wwwAuthenticate = f.Challenge
		return rej
	}
	return nil
}

// rememberSession records an MCP session id AgentCore returned.
func (e *Emulator) rememberSession(id string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.faults.sessions == nil {
		e.faults.sessions = map[string]bool{}
	}
	if _, ok := e.faults.sessions[id]; !ok {
		e.faults.sessions[id] = false
	}
}

// isInitialize reports whether r is a POST of a JSON-RPC initialize request,
// leaving its body readable again. Tests count initializes to see that a
// lost session was re-initialized exactly once.
func isInitialize(r *http.Request) bool {
	if r.Method != http.MethodPost || r.Body == nil {
		return false
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxInvocationBody+1))
	r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), r.Body))
	if err != nil {
		return false
	}
	var msg struct {
		Method string `json:"method"`
	}
	return json.Unmarshal(body, &msg) == nil && msg.Method == "initialize"
}
