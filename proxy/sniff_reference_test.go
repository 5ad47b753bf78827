package proxy

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// sniffRequestDecoder is the encoding/json reference for sniffRequest: it reads the id, method and tool name of a JSON-RPC request
// from body, which may be only a prefix of the real body: it walks the top
// level token by token and stops at the first error, so a truncated body
// still yields the fields that came before the cut. The id is kept as raw
// JSON so that it echoes back exactly as sent.
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
			s.method = m
		case "params":
			s.tool = sniffToolNameDecoder(dec)
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
func sniffToolNameDecoder(dec *json.Decoder) string {
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
