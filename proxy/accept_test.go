package proxy

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestAcceptsMCP(t *testing.T) {
	tests := []struct {
		name     string
		values   []string
		json, ok bool
	}{
		{name: "both", values: []string{"application/json, text/event-stream"}, json: true, ok: true},
		{name: "both in two headers", values: []string{"application/json", "text/event-stream"}, json: true, ok: true},
		{name: "with parameters", values: []string{"application/json;q=0.9, text/event-stream;q=0.8"}, json: true, ok: true},
		{name: "json only", values: []string{"application/json"}, json: true},
		{name: "wildcard is not enough", values: []string{"*/*"}},
		{name: "refused with q=0", values: []string{"application/json, text/event-stream;q=0"}, json: true},
		{name: "missing"},
		{name: "garbage", values: []string{";;;,"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j, s := acceptsMCP(tt.values)
			if j != tt.json || s != tt.ok {
				t.Errorf("acceptsMCP(%q) = %v, %v; want %v, %v", tt.values, j, s, tt.json, tt.ok)
			}
		})
	}
}

func TestSSEToJSON(t *testing.T) {
	const progress = "event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{\"progress\":1}}\n\n"
	tests := []struct {
		name    string
		stream  string
		id      string
		want    string
		wantErr error
	}{
		{name: "response after a notification", stream: progress + "event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n\n",
			id: "1", want: `{"jsonrpc":"2.0","id":1,"result":{}}`},
		{name: "CRLF and no space after colon", stream: "data:{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"error\":{\"code\":1,\"message\":\"x\"}}\r\n\r\n",
			id: `"a"`, want: `{"jsonrpc":"2.0","id":"a","error":{"code":1,"message":"x"}}`},
		{name: "data split over lines", stream: "data: {\"jsonrpc\":\"2.0\",\ndata: \"id\":2,\"result\":1}\n\n",
			id: "2", want: "{\"jsonrpc\":\"2.0\",\n\"id\":2,\"result\":1}"},
		{name: "last event without blank line", stream: "data: {\"id\":3,\"result\":true}", id: "3", want: `{"id":3,"result":true}`},
		{name: "other id skipped", stream: "data: {\"id\":9,\"result\":0}\n\ndata: {\"id\":4,\"result\":1}\n\n", id: "4", want: `{"id":4,"result":1}`},
		{name: "server request is not a response", stream: "data: {\"id\":5,\"method\":\"sampling/createMessage\"}\n\n", id: "", wantErr: ErrNoResponseInStream},
		{name: "empty", stream: "", wantErr: ErrNoResponseInStream},
		{name: "too large", stream: "data: " + strings.Repeat("x", 2000) + "\n\n", wantErr: ErrEventTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var id json.RawMessage
			if tt.id != "" {
				id = json.RawMessage(tt.id)
			}
			got, err := SSEToJSON(strings.NewReader(tt.stream), id, 1024)
			if !errors.Is(err, tt.wantErr) || string(got) != tt.want {
				t.Errorf("SSEToJSON(%q) = %s, %v; want %s, %v", tt.stream, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func FuzzSSEToJSON(f *testing.F) {
	f.Add([]byte("event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n\n"), []byte("1"))
	f.Add([]byte("data: {\"id\":\"x\",\"error\":{}}\r\n\r\ndata: {\"id\":2,\"result\":[]}\n"), []byte(`"x"`))
	f.Add([]byte(":comment\nretry: 10\n\ndata:\n\n"), []byte(""))
	f.Fuzz(func(t *testing.T, stream, id []byte) {
		var want json.RawMessage
		if len(id) > 0 {
			want = id
		}
		got, err := SSEToJSON(strings.NewReader(string(stream)), want, 4096)
		if err != nil {
			if got != nil {
				t.Fatalf("SSEToJSON returned %q with error %v", got, err)
			}
			return
		}
		// Whatever it returns is one JSON-RPC response, to the id asked for.
		var m struct {
			ID     json.RawMessage `json:"id"`
			Method *string         `json:"method"`
			Result json.RawMessage `json:"result"`
			Error  json.RawMessage `json:"error"`
		}
		if err := json.Unmarshal(got, &m); err != nil || m.Method != nil || len(m.ID) == 0 || m.Result == nil && m.Error == nil {
			t.Fatalf("SSEToJSON returned %q, which is not a JSON-RPC response (%v)", got, err)
		}
		if want != nil && !sameJSON(m.ID, want) {
			t.Fatalf("SSEToJSON returned id %s, want %s", m.ID, want)
		}
		if len(got) > 4096 {
			t.Fatalf("SSEToJSON returned %d bytes, over the limit", len(got))
		}
	})
}
