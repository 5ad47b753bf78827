package proxy

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
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
	// CodeHeaderMismatch marks a request whose Mcp-Method or Mcp-Name
	// header disagrees with its body (HeaderMismatch in MCP 2026-07-28).
	CodeHeaderMismatch = -32020
)

// sniffed is what the proxy reads from a request body (or its start). The
// proxy's decisions (retries, session recovery) read only these, never the
// Mcp-Method and Mcp-Name headers, which a client could set to anything.
type sniffed struct {
	id     json.RawMessage // raw JSON id of a request, nil for a notification
	method string          // "" if not found or null; "batch" for a JSON array
	tool   string          // params.name when it is a string (a tool or prompt name)
	// nameRaw and uriRaw are the raw JSON values of params.name and
	// params.uri, nil when not found.
	nameRaw, uriRaw []byte
	// hasMethod says a method member was read (a string or null).
	hasMethod bool
	// complete says the body's object was read to its end: a member not
	// found is absent, not cut off.
	complete bool
}

// MethodLabel maps a JSON-RPC method to a bounded label for metrics:
// initialize, ping, tools/list, tools/call, completion/complete,
// logging/setLevel, resources/*, prompts/*, notifications/*, batch, or
// other.
func MethodLabel(method string) string {
	switch method {
	case "initialize", "ping", "tools/list", "tools/call", "completion/complete", "logging/setLevel", "batch":
		return method
	}
	for _, prefix := range []string{"resources/", "prompts/", "notifications/"} {
		if strings.HasPrefix(method, prefix) {
			return prefix + "*"
		}
	}
	return "other"
}

type rpcError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// WriteError writes a JSON-RPC error response with the given HTTP status.
// id is the request's raw JSON id, echoed byte for byte (see ErrorResponse).
func WriteError(w http.ResponseWriter, status int, id json.RawMessage, code int, message string) {
	body := append(ErrorResponse(id, code, message), '\n')
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(body)
}

// ErrorResponse returns a JSON-RPC error response to the request whose raw
// JSON id is id. The id is echoed exactly as the client sent it (a client
// may compare it byte for byte; encoding/json would rewrite "&" as
// "\u0026"); nil, or anything but a JSON string or number, gives null.
func ErrorResponse(id json.RawMessage, code int, message string) []byte {
	msg, _ := json.Marshal(message) // a string always marshals
	b := make([]byte, 0, len(`{"jsonrpc":"2.0","id":,"error":{"code":,"message":}}`)+len(id)+len(msg)+11)
	b = append(b, `{"jsonrpc":"2.0","id":`...)
	if validID(id) {
		b = append(b, id...)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"error":{"code":`...)
	b = strconv.AppendInt(b, int64(code), 10)
	b = append(b, `,"message":`...)
	b = append(b, msg...)
	return append(b, "}}"...)
}
