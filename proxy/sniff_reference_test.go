package proxy

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// sniffRequestDecoder is the encoding/json reference for sniffRequest: it
// reads the id, method, params.name and params.uri of a JSON-RPC request
// from body, which may be only a prefix of the real body: it walks the top
// level token by token and stops at the first error, so a truncated body
// still yields the fields that came before the cut; a member that appears
// twice counts as its last occurrence. The id is kept as raw JSON so that
// it echoes back exactly as sent.
func sniffRequestDecoder(body []byte) sniffed {
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
			if validIDDecoder(raw) {
				s.id = raw
			}
		case "method":
			var m string
			if dec.Decode(&m) != nil {
				return s
			}
			s.method, s.hasMethod = m, true
		case "params":
			if !sniffParamsDecoder(dec, body, &s) {
				return s
			}
		default:
			var skip json.RawMessage
			if dec.Decode(&skip) != nil {
				return s
			}
		}
	}
	if tok, err := dec.Token(); err == nil && tok == json.Delim('}') {
		s.complete = true
	}
	return s
}

// sniffParamsDecoder reads the params value being decoded from body and
// notes its name and uri members in s.
func sniffParamsDecoder(dec *json.Decoder, body []byte, s *sniffed) bool {
	// A params cut off before its colon leaves the earlier one in place.
	next := bytes.TrimLeft(body[dec.InputOffset():], " \t\r\n")
	if len(next) == 0 || next[0] != ':' {
		return false
	}
	s.tool, s.nameRaw, s.uriRaw = "", nil, nil
	// Peek past the colon: an object is read member by member, for the
	// members before a cut; anything else is skipped whole.
	if next = bytes.TrimLeft(next[1:], " \t\r\n"); len(next) == 0 || next[0] != '{' {
		var raw json.RawMessage
		return dec.Decode(&raw) == nil
	}
	if _, err := dec.Token(); err != nil {
		return false
	}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return false
		}
		var v json.RawMessage
		if dec.Decode(&v) != nil {
			return false
		}
		switch key {
		case "name":
			s.nameRaw, s.tool = v, ""
			if v[0] == '"' {
				json.Unmarshal(v, &s.tool)
			}
		case "uri":
			s.uriRaw = v
		}
	}
	tok, err := dec.Token()
	return err == nil && tok == json.Delim('}')
}

// validIDDecoder is the reference for validID: it reports whether raw is a JSON-RPC id: a string or a number.
func validIDDecoder(raw json.RawMessage) bool {
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
