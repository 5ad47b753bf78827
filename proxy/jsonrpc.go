package proxy

import (
	"bytes"
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
)

// sniffed is what the proxy reads from the start of a request body.
type sniffed struct {
	id     json.RawMessage // raw JSON id of a request, nil for a notification
	method string          // "" if not found; "batch" for a JSON array
	tool   string          // params.name of tools/call
}

// sniffRequest reads the id, method and tool name of a JSON-RPC request
// from body, which may be only a prefix of the real body: it walks the top
// level token by token and stops at the first error, so a truncated body
// still yields the fields that came before the cut. The id is kept as raw
// JSON so that it echoes back exactly as sent.
func sniffRequest(body []byte) sniffed {
	var s sniffed
	dec := json.NewDecoder(bytes.NewReader(body))
	tok, err := dec.Token()
	if err != nil {
		return s
	}
	if tok == json.Delim('[') {
		s.method = "batch"
		return s
	}
	if tok != json.Delim('{') {
		return s
	}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return s
		}
		switch key {
		case "id":
			var raw json.RawMessage
			if dec.Decode(&raw) != nil {
				return s
			}
			if validID(raw) {
				s.id = raw
			}
		case "method":
			var m string
			if dec.Decode(&m) != nil {
				return s
			}
			s.method = m
		case "params":
			s.tool = sniffToolName(dec)
			return s // params come last in practice and may be large
		default:
			var skip json.RawMessage
			if dec.Decode(&skip) != nil {
				return s
			}
		}
	}
	return s
}

// sniffToolName reads params.name from an object being decoded, skipping
// the other members (arguments may be large or cut off).
func sniffToolName(dec *json.Decoder) string {
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return ""
	}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return ""
		}
		if key == "name" {
			var name string
			if dec.Decode(&name) != nil {
				return ""
			}
			return name
		}
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			return ""
		}
	}
	return ""
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
