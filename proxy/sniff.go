package proxy

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// sniffRequest reads the id, method, params.name and params.uri of a
// JSON-RPC request from body, which may be only a prefix of the real body:
// it walks the top level member by member and stops at the first syntax
// error, so a truncated body still yields the fields that came before the
// cut. A member that appears twice counts as its last occurrence, as
// encoding/json, Python's json and JavaScript's JSON.parse read it: the
// proxy decides what the server will run. The id is the raw JSON of the
// body (a sub-slice, not a copy), so that it echoes back exactly as sent.
//
// It reads what encoding/json's Decoder.Token would (a test compares the
// two on every fuzz input that is valid JSON), without allocating on the
// common path: a known method name is interned, and only a tool name or an
// unusual method costs a string.
func sniffRequest(body []byte) sniffed {
	var s sniffed
	sc := scanner{b: body}
	sc.space()
	switch sc.peek() {
	case '[':
		s.method = "batch"
		return s
	case '{':
		sc.i++
	default:
		return s
	}
	sc.space()
	if sc.peek() == '}' {
		s.complete = true
		return s
	}
	for {
		key, ok := sc.str()
		if !ok || !sc.colon() {
			return s
		}
		switch {
		case sc.keyIs(key, "id"):
			start := sc.i
			if !sc.value(0) {
				return s
			}
			if raw := body[start:sc.i]; validID(raw) {
				s.id = raw
			}
		case sc.keyIs(key, "method"):
			m, ok := sc.stringOrNull()
			if !ok {
				return s
			}
			s.method, s.hasMethod = m, true
		case sc.keyIs(key, "params"):
			if !sc.params(&s) {
				return s
			}
		default:
			if !sc.value(0) {
				return s
			}
		}
		if !sc.next() {
			s.complete = sc.peek() == '}'
			return s
		}
	}
}

// scanner walks JSON text; i is the offset of the next byte to read.
type scanner struct {
	b []byte
	i int
}

// maxDepth is encoding/json's nesting limit.
const maxDepth = 10000

func (sc *scanner) peek() byte {
	if sc.i < len(sc.b) {
		return sc.b[sc.i]
	}
	return 0
}

func (sc *scanner) space() {
	for sc.i < len(sc.b) {
		switch sc.b[sc.i] {
		case ' ', '\t', '\r', '\n':
			sc.i++
		default:
			return
		}
	}
}

// colon reads the ':' after a key.
func (sc *scanner) colon() bool {
	sc.space()
	if sc.peek() != ':' {
		return false
	}
	sc.i++
	sc.space()
	return true
}

// next reads the ',' before another member; false at '}', the end of the
// input or an error.
func (sc *scanner) next() bool {
	sc.space()
	if sc.peek() != ',' {
		return false
	}
	sc.i++
	sc.space()
	return true
}

// str reads a string at i and returns its raw content, without quotes.
func (sc *scanner) str() ([]byte, bool) {
	if sc.peek() != '"' {
		return nil, false
	}
	start := sc.i + 1
	for i := start; i < len(sc.b); i++ {
		switch c := sc.b[i]; {
		case c == '"':
			sc.i = i + 1
			return sc.b[start:i], true
		case c < 0x20:
			return nil, false
		case c == '\\':
			i++
			if i >= len(sc.b) {
				return nil, false
			}
			switch sc.b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(sc.b) || !isHex(sc.b[i+1]) || !isHex(sc.b[i+2]) || !isHex(sc.b[i+3]) || !isHex(sc.b[i+4]) {
					return nil, false
				}
				i += 4
			default:
				return nil, false
			}
		}
	}
	return nil, false
}

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

// keyIs reports whether a raw key decodes to name; escaped keys (rare) are
// decoded properly.
func (sc *scanner) keyIs(raw []byte, name string) bool {
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw) == name
	}
	return unquote(raw) == name
}

// unquote decodes a raw string as encoding/json does (invalid UTF-8 becomes
// U+FFFD).
func unquote(raw []byte) string {
	if bytes.IndexByte(raw, '\\') < 0 && utf8.Valid(raw) {
		return string(raw)
	}
	q := make([]byte, 0, len(raw)+2)
	q = append(append(append(q, '"'), raw...), '"')
	var s string
	json.Unmarshal(q, &s)
	return s
}

// stringOrNull reads a string value (or null, which decodes to "" as
// encoding/json does into a string).
func (sc *scanner) stringOrNull() (string, bool) {
	if sc.lit("null") {
		return "", true
	}
	raw, ok := sc.str()
	if !ok {
		return "", false
	}
	if m, known := knownMethods[string(raw)]; known {
		return m, true
	}
	return unquote(raw), true
}

// knownMethods interns the methods clients send most, so that sniffing
// them allocates nothing.
var knownMethods = map[string]string{}

func init() {
	for _, m := range []string{"initialize", "ping", "tools/list", "tools/call", "resources/list", "resources/read",
		"resources/templates/list", "prompts/list", "prompts/get", "completion/complete", "logging/setLevel",
		"notifications/initialized", "notifications/cancelled", "notifications/progress", "server/discover"} {
		knownMethods[m] = m
	}
}

// params reads the params object at i and notes its name and uri members
// in s (a later params replaces an earlier one); false at a syntax error or
// the end of the input, with what was read so far noted.
func (sc *scanner) params(s *sniffed) bool {
	s.tool, s.nameRaw, s.uriRaw = "", nil, nil
	if sc.peek() != '{' {
		return sc.value(0)
	}
	sc.i++
	sc.space()
	if sc.peek() == '}' {
		sc.i++
		return true
	}
	for {
		key, ok := sc.str()
		if !ok || !sc.colon() {
			return false
		}
		start := sc.i
		if !sc.value(0) {
			return false
		}
		switch raw := sc.b[start:sc.i]; {
		case sc.keyIs(key, "name"):
			s.nameRaw, s.tool = raw, ""
			if raw[0] == '"' {
				s.tool = unquote(raw[1 : len(raw)-1])
			}
		case sc.keyIs(key, "uri"):
			s.uriRaw = raw
		}
		sc.space()
		switch sc.peek() {
		case ',':
			sc.i++
			sc.space()
		case '}':
			sc.i++
			return true
		default:
			return false
		}
	}
}

// lit reads the literal word at i.
func (sc *scanner) lit(word string) bool {
	if !bytes.HasPrefix(sc.b[sc.i:], []byte(word)) {
		return false
	}
	sc.i += len(word)
	return true
}

// value skips one complete value at i.
func (sc *scanner) value(depth int) bool {
	switch c := sc.peek(); {
	case c == '"':
		_, ok := sc.str()
		return ok
	case c == '{' || c == '[':
		if depth >= maxDepth {
			return false
		}
		end := byte('}')
		if c == '[' {
			end = ']'
		}
		sc.i++
		sc.space()
		if sc.peek() == end {
			sc.i++
			return true
		}
		for {
			if c == '{' {
				if _, ok := sc.str(); !ok || !sc.colon() {
					return false
				}
			}
			if !sc.value(depth + 1) {
				return false
			}
			sc.space()
			switch sc.peek() {
			case ',':
				sc.i++
				sc.space()
			case end:
				sc.i++
				return true
			default:
				return false
			}
		}
	case c == '-' || '0' <= c && c <= '9':
		return sc.number()
	case c == 't':
		return sc.lit("true")
	case c == 'f':
		return sc.lit("false")
	case c == 'n':
		return sc.lit("null")
	}
	return false
}

// number skips a JSON number: -?(0|[1-9]d*)(.d+)?([eE][+-]?d+)?
func (sc *scanner) number() bool {
	b, i := sc.b, sc.i
	digits := func() bool {
		start := i
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
		return i > start
	}
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case !digits():
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if !digits() {
			return false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if !digits() {
			return false
		}
	}
	sc.i = i
	return true
}

// validID reports whether raw is a JSON-RPC id: a string or a number.
func validID(raw []byte) bool {
	if len(raw) == 0 {
		return false
	}
	if raw[0] == '"' {
		sc := scanner{b: raw}
		_, ok := sc.str()
		return ok && sc.i == len(raw)
	}
	if len(raw) <= 15 && isDigits(raw) {
		return true
	}
	_, err := strconv.ParseFloat(string(raw), 64)
	return err == nil
}

func isDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
