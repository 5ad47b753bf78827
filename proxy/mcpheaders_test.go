package proxy

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
)

func TestCheckHeaders(t *testing.T) {
	const call = `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add","arguments":{"a":1}}}`
	tests := []struct {
		name, body string
		header     http.Header
		want       mismatch // zero: no mismatch
	}{
		{name: "no headers", body: call},
		{name: "matching", body: call, header: http.Header{"Mcp-Method": {"tools/call"}, "Mcp-Name": {"add"}}},
		{name: "empty headers are missing ones", body: call, header: http.Header{"Mcp-Method": {""}, "Mcp-Name": {""}}},
		{name: "method differs", body: call, header: http.Header{"Mcp-Method": {"ping"}},
			want: mismatch{Header: "Mcp-Method", Got: "ping", Member: "method", Body: "tools/call"}},
		{name: "second method value differs", body: call, header: http.Header{"Mcp-Method": {"tools/call", "ping"}},
			want: mismatch{Header: "Mcp-Method", Got: "ping", Member: "method", Body: "tools/call"}},
		{name: "case matters", body: call, header: http.Header{"Mcp-Method": {"Tools/Call"}},
			want: mismatch{Header: "Mcp-Method", Got: "Tools/Call", Member: "method", Body: "tools/call"}},
		{name: "name differs", body: call, header: http.Header{"Mcp-Method": {"tools/call"}, "Mcp-Name": {"delete_all"}},
			want: mismatch{Header: "Mcp-Name", Got: "delete_all", Member: "params.name", Body: "add"}},
		{name: "name without method header", body: call, header: http.Header{"Mcp-Name": {"delete_all"}},
			want: mismatch{Header: "Mcp-Name", Got: "delete_all", Member: "params.name", Body: "add"}},
		{name: "escaped body name", body: `{"method":"tools/call","params":{"name":"a\u0064d"}}`, header: http.Header{"Mcp-Name": {"add"}}},
		{name: "base64 header", body: `{"method":"tools/call","params":{"name":"grüße"}}`,
			header: http.Header{"Mcp-Name": {"=?base64?Z3LDvMOfZQ==?="}}},
		{name: "raw non-ASCII header", body: `{"method":"tools/call","params":{"name":"grüße"}}`, header: http.Header{"Mcp-Name": {"grüße"}}},
		{name: "bad base64 header", body: `{"method":"tools/call","params":{"name":""}}`, header: http.Header{"Mcp-Name": {"=?base64?!!?="}},
			want: mismatch{Header: "Mcp-Name", Got: "=?base64?!!?=", Member: "params.name"}},
		{name: "body has no name", body: `{"method":"tools/call","params":{}}`, header: http.Header{"Mcp-Name": {"add"}},
			want: mismatch{Header: "Mcp-Name", Got: "add", Member: "params.name"}},
		{name: "body name not a string", body: `{"method":"tools/call","params":{"name":7}}`, header: http.Header{"Mcp-Name": {"7"}},
			want: mismatch{Header: "Mcp-Name", Got: "7", Member: "params.name"}},
		{name: "body name cut off", body: `{"method":"tools/call","params":{"arguments":{"a":"xxxx`, header: http.Header{"Mcp-Name": {"add"}}},
		{name: "prompt name", body: `{"method":"prompts/get","params":{"name":"greet"}}`, header: http.Header{"Mcp-Name": {"other"}},
			want: mismatch{Header: "Mcp-Name", Got: "other", Member: "params.name", Body: "greet"}},
		{name: "resource uri", body: `{"method":"resources/read","params":{"uri":"file:///a","name":"x"}}`, header: http.Header{"Mcp-Name": {"x"}},
			want: mismatch{Header: "Mcp-Name", Got: "x", Member: "params.uri", Body: "file:///a"}},
		{name: "resource uri matches", body: `{"method":"resources/read","params":{"uri":"file:///a"}}`, header: http.Header{"Mcp-Name": {"file:///a"}}},
		{name: "subscribe uri", body: `{"method":"resources/subscribe","params":{"uri":"file:///a"}}`, header: http.Header{"Mcp-Name": {"file:///b"}},
			want: mismatch{Header: "Mcp-Name", Got: "file:///b", Member: "params.uri", Body: "file:///a"}},
		{name: "name not compared for ping", body: `{"method":"ping"}`, header: http.Header{"Mcp-Method": {"ping"}, "Mcp-Name": {"x"}}},
		{name: "notification", body: `{"method":"notifications/initialized"}`, header: http.Header{"Mcp-Method": {"notifications/cancelled"}},
			want: mismatch{Header: "Mcp-Method", Got: "notifications/cancelled", Member: "method", Body: "notifications/initialized"}},
		{name: "body has no method", body: `{"jsonrpc":"2.0","id":1,"result":{}}`, header: http.Header{"Mcp-Method": {"ping"}},
			want: mismatch{Header: "Mcp-Method", Got: "ping", Member: "method"}},
		{name: "null method", body: `{"method":null}`, header: http.Header{"Mcp-Method": {"ping"}},
			want: mismatch{Header: "Mcp-Method", Got: "ping", Member: "method"}},
		{name: "method cut off", body: `{"jsonrpc":"2.0","params":{"name":"add","arguments":{"a":"xxxx`, header: http.Header{"Mcp-Method": {"ping"}}},
		{name: "last method counts", body: `{"method":"ping","params":{},"method":"tools/call"}`, header: http.Header{"Mcp-Method": {"ping"}},
			want: mismatch{Header: "Mcp-Method", Got: "ping", Member: "method", Body: "tools/call"}},
		{name: "method after params", body: `{"params":{"name":"add"},"method":"tools/call"}`, header: http.Header{"Mcp-Method": {"tools/call"}, "Mcp-Name": {"add"}}},
		{name: "last params counts", body: `{"method":"tools/call","params":{"name":"add"},"params":{"name":"rm"}}`, header: http.Header{"Mcp-Name": {"add"}},
			want: mismatch{Header: "Mcp-Name", Got: "add", Member: "params.name", Body: "rm"}},
		{name: "batch", body: `[{"method":"tools/call","params":{"name":"add"}}]`, header: http.Header{"Mcp-Method": {"ping"}, "Mcp-Name": {"x"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := sniffRequest([]byte(tt.body))
			got, bad := s.checkHeaders(tt.header)
			if got != tt.want || bad != (tt.want != mismatch{}) {
				t.Errorf("checkHeaders(%s, %v) = %+v, %v; want %+v", tt.body, tt.header, got, bad, tt.want)
			}
		})
	}
}

func TestMismatchMessage(t *testing.T) {
	tests := []struct {
		m    mismatch
		want string
	}{
		{m: mismatch{Header: "Mcp-Method", Got: "ping", Member: "method", Body: "tools/call"},
			want: `agentcore-proxy: header Mcp-Method is "ping" but the body's method is "tools/call": MCP 2026-07-28 requires the header to repeat the body (send "tools/call" or omit the header)`},
		{m: mismatch{Header: "Mcp-Name", Got: "x\n", Member: "params.name"},
			want: `agentcore-proxy: header Mcp-Name is "x\n" but the body has no params.name string: MCP 2026-07-28 requires the header to repeat the body (omit the header or add params.name to the body)`},
		{m: mismatch{Header: "Mcp-Name", Got: strings.Repeat("a", 100), Member: "params.name", Body: "b"},
			want: `agentcore-proxy: header Mcp-Name is "` + strings.Repeat("a", 80) + `"… but the body's params.name is "b": MCP 2026-07-28 requires the header to repeat the body (send "b" or omit the header)`},
	}
	for _, tt := range tests {
		if got := tt.m.message(); got != tt.want {
			t.Errorf("%+v.message() =\n%s\nwant\n%s", tt.m, got, tt.want)
		}
	}
}

func TestLabels(t *testing.T) {
	tests := []struct {
		name, body           string
		header               http.Header
		wantMethod, wantTool string
	}{
		{name: "body only", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a"}}`,
			wantMethod: "tools/call", wantTool: "a"},
		{name: "the body wins", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a"}}`,
			header:     http.Header{"Mcp-Method": {"ping"}, "Mcp-Name": {"b"}},
			wantMethod: "tools/call", wantTool: "a"},
		{name: "headers fill in a cut body", body: `{"jsonrpc":"2.0","id":1,"params":{"arguments":{"x":1`,
			header:     http.Header{"Mcp-Method": {"tools/call"}, "Mcp-Name": {"greet_user"}},
			wantMethod: "tools/call", wantTool: "greet_user"},
		{name: "not a whole body without method", body: `{"jsonrpc":"2.0","id":1,"result":{}}`,
			header: http.Header{"Mcp-Method": {"tools/call"}}},
		{name: "batch", body: `[{"method":"ping"}]`, header: http.Header{"Mcp-Method": {"ping"}}, wantMethod: "batch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := sniffRequest([]byte(tt.body))
			method, tool := s.labels(tt.header)
			if method != tt.wantMethod || tool != tt.wantTool {
				t.Errorf("labels() = %q, %q; want %q, %q", method, tool, tt.wantMethod, tt.wantTool)
			}
		})
	}
}

// recordingUpstream is an httptest upstream that answers every request with
// status and keeps the bodies it received.
type recordingUpstream struct {
	mu     sync.Mutex
	bodies []string
}

func (u *recordingUpstream) received() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.bodies...)
}

func startRecording(t *testing.T, status int, opts Options) (*recordingUpstream, string) {
	t.Helper()
	u := &recordingUpstream{}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.bodies = append(u.bodies, string(b))
		u.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if status != http.StatusOK {
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(status)
			io.WriteString(w, `{"message":"Session operation in progress, please retry"}`)
			return
		}
		io.WriteString(w, `{"jsonrpc":"2.0","id":1,"result":{}}`)
	}))
	t.Cleanup(up.Close)
	opts.Target, _ = url.Parse(up.URL + "/mcp")
	p, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	front := httptest.NewServer(p)
	t.Cleanup(front.Close)
	return u, front.URL + "/mcp"
}

func post(t *testing.T, endpoint, body string, header http.Header) (int, rpcAnswer) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, endpoint, strings.NewReader(body))
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out rpcAnswer
	raw, _ := io.ReadAll(resp.Body)
	json.Unmarshal(raw, &out)
	return resp.StatusCode, out
}

type rpcAnswer struct {
	ID    json.RawMessage `json:"id"`
	Error *rpcError       `json:"error"`
}

// TestHeaderMismatchRefused: a request whose Mcp-Method or Mcp-Name header
// disagrees with its body gets 400 with -32020 naming both values, and
// nothing reaches the upstream; agreeing headers pass.
func TestHeaderMismatchRefused(t *testing.T) {
	const call = `{"jsonrpc":"2.0","id":"c&1","method":"tools/call","params":{"name":"add","arguments":{"a":1}}}`
	tests := []struct {
		name, body string
		header     http.Header
		wantStatus int
		wantInMsg  []string
	}{
		{name: "method header says ping", body: call, header: http.Header{"Mcp-Method": {"ping"}},
			wantStatus: 400, wantInMsg: []string{`header Mcp-Method is "ping"`, `method is "tools/call"`}},
		{name: "name header names another tool", body: call, header: http.Header{"Mcp-Method": {"tools/call"}, "Mcp-Name": {"delete_all"}},
			wantStatus: 400, wantInMsg: []string{`header Mcp-Name is "delete_all"`, `params.name is "add"`}},
		{name: "uri header names another resource", body: `{"jsonrpc":"2.0","id":"c&1","method":"resources/read","params":{"uri":"file:///a"}}`,
			header:     http.Header{"Mcp-Method": {"resources/read"}, "Mcp-Name": {"file:///etc/passwd"}},
			wantStatus: 400, wantInMsg: []string{`"file:///etc/passwd"`, `params.uri is "file:///a"`}},
		{name: "agreeing headers", body: call, header: http.Header{"Mcp-Method": {"tools/call"}, "Mcp-Name": {"add"}}, wantStatus: 200},
		{name: "no headers", body: call, wantStatus: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up, endpoint := startRecording(t, http.StatusOK, Options{})
			status, resp := post(t, endpoint, tt.body, tt.header)
			if status != tt.wantStatus {
				t.Fatalf("POST = %d %+v, want %d", status, resp.Error, tt.wantStatus)
			}
			got := up.received()
			if tt.wantStatus == 200 {
				if len(got) != 1 || got[0] != tt.body {
					t.Errorf("upstream received %q, want the body once", got)
				}
				return
			}
			if len(got) != 0 {
				t.Errorf("upstream received %q, want nothing", got)
			}
			if resp.Error == nil || resp.Error.Code != CodeHeaderMismatch {
				t.Fatalf("error = %+v, want code %d", resp.Error, CodeHeaderMismatch)
			}
			if string(resp.ID) != `"c&1"` {
				t.Errorf("id = %s, want \"c&1\" as sent", resp.ID)
			}
			for _, w := range tt.wantInMsg {
				if !strings.Contains(resp.Error.Message, w) {
					t.Errorf("message %q lacks %q", resp.Error.Message, w)
				}
			}
		})
	}
}

// TestRetryReadsTheBody: only the body decides whether a 409 is retried,
// never an Mcp-Method header, and a member given twice counts as its last
// occurrence, which is what the server runs.
func TestRetryReadsTheBody(t *testing.T) {
	const ping = `{"jsonrpc":"2.0","id":1,"method":"ping"}`
	tests := []struct {
		name, body   string
		header       http.Header
		wantUpstream int
	}{
		{name: "ping is retried", body: ping, wantUpstream: 1 + DefaultMaxRetries},
		{name: "tools/call is not", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add"}}`, wantUpstream: 1},
		{name: "a second method member wins", body: `{"jsonrpc":"2.0","id":1,"method":"ping","params":{"name":"add"},"method":"tools/call"}`,
			header: http.Header{"Mcp-Method": {"tools/call"}}, wantUpstream: 1},
		// A body whose method the proxy cannot read is not compared with
		// the header, and the header claiming ping decides nothing.
		{name: "unreadable method, header says ping", body: `{"jsonrpc":"2.0","id":1,"method":{"x":"tools/call"}}`,
			header: http.Header{"Mcp-Method": {"ping"}}, wantUpstream: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up, endpoint := startRecording(t, http.StatusConflict, Options{})
			status, _ := post(t, endpoint, tt.body, tt.header)
			if status != http.StatusConflict {
				t.Errorf("POST = %d, want 409 passed on", status)
			}
			if got := up.received(); len(got) != tt.wantUpstream {
				t.Errorf("upstream received %d requests, want %d", len(got), tt.wantUpstream)
			}
		})
	}
}

// TestSniffAllocations: sniffing a small tools/call costs one allocation
// (the tool name), and checking agreeing headers none.
func TestSniffAllocations(t *testing.T) {
	body := []byte(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_weather","arguments":{"city":"Paris"}}}`)
	h := http.Header{"Mcp-Method": {"tools/call"}, "Mcp-Name": {"get_weather"}}
	if n := testing.AllocsPerRun(100, func() { sniffRequest(body) }); n != 1 {
		t.Errorf("sniffRequest allocates %v times, want 1", n)
	}
	s := sniffRequest(body)
	if n := testing.AllocsPerRun(100, func() {
		if _, bad := s.checkHeaders(h); bad {
			t.Fatal("checkHeaders refused agreeing headers")
		}
	}); n != 0 {
		t.Errorf("checkHeaders allocates %v times, want 0", n)
	}
}

func FuzzCheckHeaders(f *testing.F) {
	f.Add([]byte(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add"}}`), "ping", "add")
	f.Add([]byte(`{"method":"resources/read","params":{"uri":"file:///a\u00e9"}}`), "resources/read", "=?base64?ZmlsZTovLy9hw6k=?=")
	f.Add([]byte(`{"method":"prompts/get","params":{"name":7}}`), "", "7")
	f.Add([]byte(`[{"method":"ping"}]`), "tools/call", "")
	f.Fuzz(func(t *testing.T, body []byte, method, name string) {
		s := sniffRequest(body)
		h := http.Header{"Mcp-Method": {method}, "Mcp-Name": {name}}
		m, bad := s.checkHeaders(h)
		// A refusal names a header that was sent, with its value.
		if bad && !(m.Header == HeaderMCPMethod && m.Got == method && method != "" ||
			m.Header == HeaderMCPName && m.Got == name && name != "") {
			t.Fatalf("checkHeaders(%q, %q, %q) = %+v, which names no header sent", body, method, name, m)
		}
		if bad && !strings.Contains(m.message(), m.Header) {
			t.Fatalf("message %q does not name %s", m.message(), m.Header)
		}
		// Headers that repeat what encoding/json reads from the body are
		// never refused, and neither are absent ones.
		want := sniffRequestDecoder(body)
		agree := http.Header{}
		if want.method != "" && want.hasMethod {
			agree.Set(HeaderMCPMethod, want.method)
		}
		var member []byte
		switch want.method {
		case "tools/call", "prompts/get":
			member = want.nameRaw
		case "resources/read", "resources/subscribe", "resources/unsubscribe":
			member = want.uriRaw
		}
		if v := ""; member != nil && json.Unmarshal(member, &v) == nil && v != "" {
			agree.Set(HeaderMCPName, v)
		}
		if m, bad := s.checkHeaders(agree); bad {
			t.Fatalf("checkHeaders(%q, %v) = %+v, refusing headers that repeat the body", body, agree, m)
		}
		if m, bad := s.checkHeaders(http.Header{}); bad {
			t.Fatalf("checkHeaders(%q, none) = %+v", body, m)
		}
	})
}
