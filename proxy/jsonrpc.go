package proxy

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
)

// JSON-RPC error codes the proxy uses for its own failures. MCP clients show
// the message; the code tells a program what kind of failure it was.
const (
	// CodeInvalidRequest marks a request the proxy refused to forward.
	CodeInvalidRequest = -32600
	// CodeUpstream marks an upstream that could not be reached or answered badly.
	CodeUpstream = -32000
	// CodeAuth marks a failure to obtain or use credentials (the same code
	// AgentCore uses for its authorizer's rejections).
	CodeAuth = -32001
)

// rpcEnvelope is the part of a JSON-RPC message the proxy looks at.
type rpcEnvelope struct {
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"`
}

// sniffRequest returns the id and method of a JSON-RPC request in body, if
// body is one complete request. Notifications and responses have no id, a
// batch gives the first element's method, and anything else gives nothing.
// The id is returned as raw JSON so that it echoes back exactly as sent.
func sniffRequest(body []byte) (id json.RawMessage, method string) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, ""
	}
	if body[0] == '[' {
		var batch []rpcEnvelope
		if json.Unmarshal(body, &batch) != nil || len(batch) == 0 {
			return nil, ""
		}
		return nil, batch[0].Method
	}
	var env rpcEnvelope
	if json.Unmarshal(body, &env) != nil {
		return nil, ""
	}
	if !validID(env.ID) {
		env.ID = nil
	}
	return env.ID, env.Method
}

// validID reports whether raw is a JSON-RPC id: a string or a number.
func validID(raw json.RawMessage) bool {
	if len(raw) == 0 {
		return false
	}
	if raw[0] == '"' {
		var s string
		return json.Unmarshal(raw, &s) == nil
	}
	_, err := strconv.ParseFloat(string(raw), 64)
	return err == nil
}

type rpcError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

type rpcErrorResponse struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Error   rpcError        `json:"error"`
}

// WriteError writes a JSON-RPC error response with the given HTTP status.
// id is the request's raw JSON id, or nil for null.
func WriteError(w http.ResponseWriter, status int, id json.RawMessage, code int, message string) {
	if len(id) == 0 {
		id = json.RawMessage("null")
	}
	body, _ := json.Marshal(rpcErrorResponse{JSONRPC: "2.0", ID: id, Error: rpcError{Code: code, Message: message}})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)+1))
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(append(body, '\n'))
}
