package proxy_test

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/agentcore-proxy/agentcore-proxy/internal/redact"
	"github.com/agentcore-proxy/agentcore-proxy/proxy"
)

// TestUpstreamEchoRedacted: an upstream that quotes the Authorization header
// it got (a long token, longer than the proxy quotes) in its error answer, as
// JSON, plain text, server-sent events or an error-type header, gets no part
// of the token into the client's JSON-RPC error or the log, and the token's
// fingerprint label stands where it was.
func TestUpstreamEchoRedacted(t *testing.T) {
	token := "eyJhbGciOiJSUzI1NiJ9." + strings.Repeat("QUJD", 200) + ".c2ln"
	red := redact.New()
	red.NewSet(0).AddToken(token)
	label := redact.Label(redact.KindToken, redact.Fingerprint(token))
	for _, tc := range []struct {
		name   string
		status int
		cut    bool
		answer func(w http.ResponseWriter, auth string)
	}{
		{name: "401 JSON", status: 401, answer: func(w http.ResponseWriter, auth string) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(401)
			io.WriteString(w, `{"message":"invalid token: `+auth+`"}`)
		}},
		{name: "403 plain text", status: 403, answer: func(w http.ResponseWriter, auth string) {
			w.WriteHeader(403)
			io.WriteString(w, auth+" is not allowed here")
		}},
		{name: "500 SSE error event", status: 500, answer: func(w http.ResponseWriter, auth string) {
			w.Header().Set("Content-Type", "text/event-stream")
			w.WriteHeader(500)
			io.WriteString(w, "event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":-32603,\"message\":\"crashed on "+auth+"\"}}\n\n")
		}},
		// The type is cut at its first ":", the label's too.
		{name: "500 error type header", status: 500, cut: true, answer: func(w http.ResponseWriter, auth string) {
			w.Header().Set("X-Amzn-Errortype", auth)
			w.WriteHeader(500)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				tc.answer(w, r.Header.Get("Authorization"))
			}))
			defer upstream.Close()
			target, _ := url.Parse(upstream.URL + "/mcp")
			var logs bytes.Buffer
			p, err := proxy.New(proxy.Options{Target: target, Tokens: staticToken(token), MaxRetries: -1, Redact: red.Redact,
				Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
			if err != nil {
				t.Fatal(err)
			}
			rec := httptest.NewRecorder()
			req := httptest.NewRequest("POST", "/mcp", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`))
			req.Header.Set("Content-Type", "application/json")
			p.ServeHTTP(rec, req)
			body := rec.Body.String()
			if rec.Code != tc.status {
				t.Errorf("status = %d, want %d (body %s)", rec.Code, tc.status, body)
			}
			for _, where := range []struct{ name, text string }{{"answer", body}, {"log", logs.String()}} {
				// Any 16 bytes of the token would be a piece of it.
				for i := 0; i+16 <= len(token); i += 8 {
					if strings.Contains(where.text, token[i:i+16]) {
						t.Fatalf("the %s holds a piece of the token at %d: %s", where.name, i, where.text)
					}
				}
			}
			if want := label; !strings.Contains(body, want) && (!tc.cut || !strings.Contains(body, "(Bearer [token sha256)")) {
				t.Errorf("answer = %s, want the token's label %s", body, label)
			}
		})
	}
}
