package proxy

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestSniffRequest(t *testing.T) {
	tests := []struct {
		name, body, wantID, wantMethod, wantTool string
	}{
		{name: "numeric id", body: `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{}}`, wantID: "7", wantMethod: "tools/call"},
		{name: "tool name", body: `{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"_meta":{"progressToken":1},"name":"add_numbers","arguments":{}}}`, wantID: "8", wantMethod: "tools/call", wantTool: "add_numbers"},
		{name: "truncated arguments", body: `{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"upload","arguments":{"data":"AAAA`, wantID: "9", wantMethod: "tools/call", wantTool: "upload"},
		{name: "cut inside method", body: `{"jsonrpc":"2.0","id":10,"method":"tools/ca`, wantID: "10"},
		{name: "string id", body: ` {"jsonrpc":"2.0","id":"a-1","method":"initialize"}`, wantID: `"a-1"`, wantMethod: "initialize"},
		{name: "notification", body: `{"jsonrpc":"2.0","method":"notifications/initialized"}`, wantMethod: "notifications/initialized"},
		{name: "object id is not an id", body: `{"jsonrpc":"2.0","id":{"x":1},"method":"ping"}`, wantMethod: "ping"},
		{name: "batch", body: `[{"jsonrpc":"2.0","id":1,"method":"ping"}]`, wantMethod: "batch"},
		{name: "garbage", body: `{"jsonrpc":`},
		{name: "empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := sniffRequest([]byte(tt.body))
			if string(got.id) != tt.wantID || got.method != tt.wantMethod || got.tool != tt.wantTool {
				t.Errorf("sniffRequest(%s) = %s, %q, %q; want %s, %q, %q", tt.body, got.id, got.method, got.tool, tt.wantID, tt.wantMethod, tt.wantTool)
			}
		})
	}
}

func TestErrorResponse(t *testing.T) {
	tests := []struct{ id, want string }{
		{id: `"&0"`, want: `{"jsonrpc":"2.0","id":"&0","error":{"code":-32000,"message":"a \u003cb\u003e"}}`},
		{id: `"\u00e9< >"`, want: `{"jsonrpc":"2.0","id":"\u00e9< >","error":{"code":-32000,"message":"a \u003cb\u003e"}}`},
		{id: `1.50`, want: `{"jsonrpc":"2.0","id":1.50,"error":{"code":-32000,"message":"a \u003cb\u003e"}}`},
		{id: ``, want: `{"jsonrpc":"2.0","id":null,"error":{"code":-32000,"message":"a \u003cb\u003e"}}`},
		{id: `{"x":1}`, want: `{"jsonrpc":"2.0","id":null,"error":{"code":-32000,"message":"a \u003cb\u003e"}}`},
		{id: `"unterminated`, want: `{"jsonrpc":"2.0","id":null,"error":{"code":-32000,"message":"a \u003cb\u003e"}}`},
	}
	for _, tt := range tests {
		var id json.RawMessage
		if tt.id != "" {
			id = json.RawMessage(tt.id)
		}
		if got := string(ErrorResponse(id, CodeUpstream, "a <b>")); got != tt.want {
			t.Errorf("ErrorResponse(%s) = %s, want %s", tt.id, got, tt.want)
		}
	}
}

func FuzzSniffRequest(f *testing.F) {
	f.Add([]byte(`{"jsonrpc":"2.0","id":7,"method":"tools/call"}`))
	f.Add([]byte(`[{"id":"x","method":"ping"},{}]`))
	f.Add([]byte(`{"id":1e400}`))
	f.Add([]byte(`{"id":01,"method":"ping"}`))
	f.Add([]byte(`{"method":"tools/call","params":{"arguments":{"a":[1,{"b":null}]},"name":"add\u005fnumbers"}}`))
	f.Add([]byte(`{"\u0069d":"\"x","method":null}`))
	f.Add([]byte(`{"\u0069d":"&0","method":"tools/call"}`))
	f.Add([]byte(`{"method":"ping","params":{"name":"a","uri":"file:///b"},"method":"tools/call","id":"<\u2028>"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		s := sniffRequest(body)
		// The allocation-free scanner reads what encoding/json reads, on
		// every input and on every prefix of it (bodies are sniffed cut off).
		for _, in := range [][]byte{body, body[:len(body)/2]} {
			got, want := sniffRequest(in), sniffRequestDecoder(in)
			if !sameSniffed(got, want) {
				t.Fatalf("sniffRequest(%q) = %+v, encoding/json reads %+v", in, got, want)
			}
		}
		id := s.id
		// The metrics label is always one of the bounded set.
		switch l := MethodLabel(s.method); l {
		case "initialize", "ping", "tools/list", "tools/call", "completion/complete", "logging/setLevel", "batch",
			"resources/*", "prompts/*", "notifications/*", "other":
		default:
			t.Fatalf("MethodLabel(%q) = %q, not a bounded label", s.method, l)
		}
		// Whatever the body, the error we would write is valid JSON-RPC
		// and echoes the id: the same JSON value, and the same bytes.
		rec := httptest.NewRecorder()
		WriteError(rec, 502, id, CodeUpstream, "x")
		var resp struct {
			JSONRPC string          `json:"jsonrpc"`
			ID      json.RawMessage `json:"id"`
			Error   *rpcError       `json:"error"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
			t.Fatalf("WriteError wrote invalid JSON %q for id %q: %v", rec.Body.Bytes(), id, err)
		}
		if resp.JSONRPC != "2.0" || resp.Error == nil {
			t.Fatalf("WriteError wrote %s", rec.Body.Bytes())
		}
		if len(id) > 0 {
			var got, want any
			if err := json.Unmarshal(resp.ID, &got); err != nil {
				t.Fatalf("WriteError wrote id %s: %v", resp.ID, err)
			}
			if err := json.Unmarshal(id, &want); err != nil {
				t.Fatalf("sniffRequest(%q) read id %s, not JSON: %v", body, id, err)
			}
			if got != want {
				t.Fatalf("WriteError wrote id %s (%#v), want %s (%#v)", resp.ID, got, id, want)
			}
			if string(resp.ID) != string(id) {
				t.Fatalf("WriteError wrote id %s, want it as sent: %s", resp.ID, id)
			}
		}
		// The header check never panics and refuses only what it can name.
		h := http.Header{HeaderMCPMethod: {"tools/call"}, HeaderMCPName: {"x"}}
		if m, bad := s.checkHeaders(h); bad && (m.Header == "" || m.Got == "") {
			t.Fatalf("checkHeaders(%q) = %+v without a header or value", body, m)
		}
	})
}

// sameSniffed compares two results of sniffing.
func sameSniffed(a, b sniffed) bool {
	return string(a.id) == string(b.id) && a.method == b.method && a.hasMethod == b.hasMethod && a.tool == b.tool &&
		string(a.nameRaw) == string(b.nameRaw) && (a.nameRaw == nil) == (b.nameRaw == nil) &&
		string(a.uriRaw) == string(b.uriRaw) && (a.uriRaw == nil) == (b.uriRaw == nil) && a.complete == b.complete
}
