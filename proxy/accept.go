package proxy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"strings"
)

// mcpAccept is what MCP requires on every POST (streamable HTTP transport).
const mcpAccept = "application/json, text/event-stream"

// acceptsMCP reports whether an Accept header names application/json and
// text/event-stream explicitly. Wildcards do not count: an MCP server asks
// for both by name, and a client that sends */* (curl, many HTTP libraries)
// rarely parses an event stream.
func acceptsMCP(values []string) (json, sse bool) {
	if len(values) == 1 && (values[0] == mcpAccept || values[0] == "text/event-stream, application/json") {
		return true, true // what MCP clients send, without parsing
	}
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil || params["q"] == "0" {
				continue
			}
			switch mt {
			case "application/json":
				json = true
			case "text/event-stream":
				sse = true
			}
		}
	}
	return json, sse
}

// looksLikeJSON reports whether body starts, after white space, like a JSON
// object or array.
func looksLikeJSON(body []byte) bool {
	body = bytes.TrimLeft(body, " \t\r\n")
	return len(body) > 0 && (body[0] == '{' || body[0] == '[')
}

// ErrNoResponseInStream means an SSE stream ended without the JSON-RPC
// response the proxy was to deliver as a JSON body.
var ErrNoResponseInStream = errors.New("proxy: the upstream's event stream ended without a JSON-RPC response")

// ErrEventTooLarge means one SSE event exceeded the conversion limit.
var ErrEventTooLarge = errors.New("proxy: an event in the upstream's stream is too large to convert to JSON")

// SSEToJSON reads a server-sent event stream and returns the data of the
// first JSON-RPC response in it (a message with an id and a result or an
// error, not a method), for a client that cannot read event streams.
// Notifications and server requests before it are dropped: such a client
// has no way to receive them. If id is not nil, only the response with that
// id counts. limit bounds the size of one event.
func SSEToJSON(r io.Reader, id json.RawMessage, limit int) ([]byte, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var data bytes.Buffer
	dispatch := func() ([]byte, bool) {
		defer data.Reset()
		if data.Len() == 0 {
			return nil, false
		}
		msg := bytes.TrimSpace(data.Bytes())
		if !isResponseTo(msg, id) {
			return nil, false
		}
		return bytes.Clone(msg), true
	}
	for {
		line, err := readLine(br, limit)
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		if errors.Is(err, io.EOF) && line == nil {
			if msg, ok := dispatch(); ok {
				return msg, nil
			}
			return nil, ErrNoResponseInStream
		}
		if len(line) == 0 { // a blank line ends an event
			if msg, ok := dispatch(); ok {
				return msg, nil
			}
			continue
		}
		field, value, _ := bytes.Cut(line, []byte(":"))
		if string(field) != "data" {
			continue // event, id, retry, comments: not needed here
		}
		value = bytes.TrimPrefix(value, []byte(" "))
		if data.Len()+len(value)+1 > limit {
			return nil, ErrEventTooLarge
		}
		if data.Len() > 0 {
			data.WriteByte('\n')
		}
		data.Write(value)
	}
}

// readLine reads one line without its CR, LF or CRLF ending; nil at the end
// of the input. A line longer than limit is an error.
func readLine(br *bufio.Reader, limit int) ([]byte, error) {
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > limit+2 {
			return nil, ErrEventTooLarge
		}
		switch {
		case err == nil:
			return bytes.TrimRight(line, "\r\n"), nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			if len(line) == 0 {
				return nil, io.EOF
			}
			return bytes.TrimRight(line, "\r\n"), io.EOF
		default:
			return nil, err
		}
	}
}

// isResponseTo reports whether msg is a JSON-RPC response, to id if id is
// not nil.
func isResponseTo(msg []byte, id json.RawMessage) bool {
	var m struct {
		ID     json.RawMessage `json:"id"`
		Method *string         `json:"method"`
		Result json.RawMessage `json:"result"`
		Error  json.RawMessage `json:"error"`
	}
	if json.Unmarshal(msg, &m) != nil || m.Method != nil || len(m.ID) == 0 || (m.Result == nil && m.Error == nil) {
		return false
	}
	return id == nil || sameJSON(m.ID, id)
}

// sameJSON compares two JSON values after compacting them.
func sameJSON(a, b json.RawMessage) bool {
	var ca, cb bytes.Buffer
	if json.Compact(&ca, a) != nil || json.Compact(&cb, b) != nil {
		return false
	}
	return bytes.Equal(ca.Bytes(), cb.Bytes())
}
