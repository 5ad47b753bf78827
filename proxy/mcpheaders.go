package proxy

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"
)

// Request headers of MCP protocol 2026-07-28, which servers check against
// the body. The proxy passes them through unchanged, with any Mcp-Param-*
// header, after checking that they agree with the body.
const (
	HeaderMCPMethod = "Mcp-Method"
	HeaderMCPName   = "Mcp-Name"
)

// mismatch is an Mcp-Method or Mcp-Name header that disagrees with the
// request body.
type mismatch struct {
	Header string // HeaderMCPMethod or HeaderMCPName
	Got    string // the header's value
	Member string // the body member it mirrors: method, params.name or params.uri
	Body   string // the member's value; "" when the body has none
}

// message is the JSON-RPC error message for m: both values, and the fix.
func (m mismatch) message() string {
	body := fmt.Sprintf("the body's %s is %s", m.Member, quoteShort(m.Body))
	if m.Body == "" {
		body = fmt.Sprintf("the body has no %s string", m.Member)
	}
	fix := "send " + quoteShort(m.Body) + " or omit the header"
	if m.Body == "" {
		fix = "omit the header or add " + m.Member + " to the body"
	}
	return fmt.Sprintf("agentcore-proxy: header %s is %s but %s: MCP 2026-07-28 requires the header to repeat the body (%s)",
		m.Header, quoteShort(m.Got), body, fix)
}

// quoteShort quotes s, cut to 80 bytes: it comes from the client and goes
// into an error message and a log line.
func quoteShort(s string) string {
	const max = 80
	if len(s) <= max {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf("%q…", strings.ToValidUTF8(s[:max], ""))
}

// checkHeaders compares the Mcp-Method and Mcp-Name headers with the body,
// as an MCP 2026-07-28 server does, and returns the first disagreement.
// The proxy refuses such a request itself: its retry and session decisions
// read the body, and a server or gateway behind it might read the headers.
//
// A missing or empty header is not a mismatch (older clients send none).
// Mcp-Method is compared with the method of a request or notification;
// Mcp-Name with params.name for tools/call and prompts/get, and with
// params.uri for resources/read, resources/subscribe and
// resources/unsubscribe, as sent or wrapped in =?base64?...?= (SEP-2243),
// and not for other methods. A batch (which 2026-07-28 no longer has) is
// not compared: a header names one method. A body member that is cut off
// (a body past the replay limit) is not compared; one that is absent from
// a whole body is a mismatch, like a different value.
func (s *sniffed) checkHeaders(h http.Header) (mismatch, bool) {
	if s.method == "batch" && !s.hasMethod {
		return mismatch{}, false
	}
	for _, v := range h.Values(HeaderMCPMethod) {
		if v == "" {
			continue
		}
		if s.method != "" && v != s.method || s.method == "" && s.complete {
			return mismatch{Header: HeaderMCPMethod, Got: v, Member: "method", Body: s.method}, true
		}
	}
	var member string
	var raw []byte
	switch s.method {
	case "tools/call", "prompts/get":
		member, raw = "params.name", s.nameRaw
	case "resources/read", "resources/subscribe", "resources/unsubscribe":
		member, raw = "params.uri", s.uriRaw
	default:
		return mismatch{}, false
	}
	for _, v := range h.Values(HeaderMCPName) {
		if v == "" {
			continue
		}
		switch {
		case len(raw) > 0 && raw[0] == '"':
			body := raw[1 : len(raw)-1]
			if !equalsJSONString(body, v) && !equalsBase64Header(body, v) {
				return mismatch{Header: HeaderMCPName, Got: v, Member: member, Body: unquote(body)}, true
			}
		case raw != nil || s.complete:
			return mismatch{Header: HeaderMCPName, Got: v, Member: member}, true
		}
	}
	return mismatch{}, false
}

// equalsJSONString reports whether the raw content of a JSON string
// decodes to v, without allocating when it has no escapes.
func equalsJSONString(raw []byte, v string) bool {
	if bytes.IndexByte(raw, '\\') < 0 && utf8.Valid(raw) {
		return string(raw) == v
	}
	return unquote(raw) == v
}

// equalsBase64Header reports whether v is =?base64?...?=, the form
// SEP-2243 gives header values that are not plain ASCII, of the string
// whose raw JSON content is raw.
func equalsBase64Header(raw []byte, v string) bool {
	enc, ok := strings.CutPrefix(v, "=?base64?")
	if !ok {
		return false
	}
	if enc, ok = strings.CutSuffix(enc, "?="); !ok {
		return false
	}
	dec, err := base64.StdEncoding.DecodeString(enc)
	return err == nil && equalsJSONString(raw, string(dec))
}

// labels returns the method and tool name for metrics, logs and the status
// page: the body's, or the headers' where the body was cut off before them
// (a body larger than the replay limit). Nothing is decided on them.
func (s *sniffed) labels(h http.Header) (method, tool string) {
	method, tool = s.method, s.tool
	if method == "" && !s.hasMethod && !s.complete {
		method = h.Get(HeaderMCPMethod)
	}
	if tool == "" && s.nameRaw == nil && !s.complete && method == "tools/call" {
		tool = h.Get(HeaderMCPName)
	}
	return method, tool
}
