package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/agentcore-proxy/agentcore-proxy/internal/emulator"
	"github.com/agentcore-proxy/agentcore-proxy/internal/redact"
)

// The client of the echo tests: a secret with characters that URL and
// base64 encodings change.
const (
	echoClientID = "echo-client"
	echoSecret   = "echo/s3cret+with=odd&chars"
)

func init() {
	testSecrets = append(testSecrets, echoSecret)
	testClientIDs = append(testClientIDs, echoClientID)
}

// echoUpstream is an MCP upstream that quotes the Authorization header it
// got in its error answers, chosen by the JSON-RPC method: echo/401 (JSON,
// "invalid token", which makes the proxy fetch a new token and try again),
// echo/403 (plain text), echo/500 (a server-sent event carrying a JSON-RPC
// error). Anything else gets an empty result.
type echoUpstream struct {
	srv  *httptest.Server
	mu   sync.Mutex
	seen []string // every bearer token received
}

func newEchoUpstream(t *testing.T) *echoUpstream {
	u := &echoUpstream{}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		if tok, ok := strings.CutPrefix(auth, "Bearer "); ok {
			u.mu.Lock()
			u.seen = append(u.seen, tok)
			u.mu.Unlock()
		}
		var req struct {
			ID     json.RawMessage `json:"id"`
			Method string          `json:"method"`
		}
		json.NewDecoder(r.Body).Decode(&req)
		switch req.Method {
		case "echo/401":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(401)
			fmt.Fprintf(w, `{"message":"invalid token: Authorization: %s"}`, auth)
		case "echo/403":
			w.WriteHeader(403)
			fmt.Fprintf(w, "%s is not allowed here", auth)
		case "echo/500":
			w.Header().Set("Content-Type", "text/event-stream")
			w.WriteHeader(500)
			fmt.Fprintf(w, "event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":%s,\"error\":{\"code\":-32603,\"message\":\"crashed on %s\"}}\n\n", req.ID, auth)
		default:
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%s,"result":{}}`, req.ID)
		}
	}))
	t.Cleanup(u.srv.Close)
	return u
}

func (u *echoUpstream) tokens() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.seen...)
}

// echoEmulator is the emulator with the echo client.
func echoEmulator(t *testing.T) *emulator.Emulator {
	return startEmulator(t, emulator.Config{Clients: []emulator.Client{{ID: echoClientID, Secret: echoSecret, Scopes: []string{"default-m2m-resource-server/read"}}}})
}

// postEcho sends one JSON-RPC request to url and returns the answer's body.
func postEcho(t *testing.T, url, method string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(`{"jsonrpc":"2.0","id":7,"method":"`+method+`"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}

// getBody returns the body of GET url.
func getBody(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}

// assertNoPiece fails if text holds any 24 bytes of token: a token cut short
// to fit a message is still a leak.
func assertNoPiece(t *testing.T, where, text, token string) {
	t.Helper()
	for i := 0; i+24 <= len(token); i += 12 {
		if strings.Contains(text, token[i:i+24]) {
			t.Errorf("%s holds a piece of a token the proxy sent (at byte %d): %.400s", where, i, text)
			return
		}
	}
}

// assertNoSecret fails if text holds the echo client's secret in any form.
func assertNoSecret(t *testing.T, where, text string) {
	t.Helper()
	for form, v := range secretForms(echoSecret) {
		if strings.Contains(text, v) {
			t.Errorf("%s holds the client secret (%s): %.400s", where, form, text)
		}
	}
}

// TestEchoedTokensRedacted: an upstream that quotes the bearer it got in
// 401, 403 and 500 (SSE) error answers gets none of the tokens the identity
// provider issued into the client's JSON-RPC errors, the proxy's log,
// GET /status or the status page; their fingerprints stand there instead.
func TestEchoedTokensRedacted(t *testing.T) {
	emu := echoEmulator(t)
	up := newEchoUpstream(t)
	p := startProxy(t, map[string]string{"AGENTCORE_PROXY_CLIENT_SECRET": echoSecret},
		"serve", "--listen", "127.0.0.1:0", "--log-format", "json", "--log-level", "debug",
		"--upstream-url", up.srv.URL+"/mcp", "--discovery-url", emu.DiscoveryURL(), "--client-id", echoClientID)
	waitReady(t, p)

	answers := map[string]string{}
	for _, m := range []string{"echo/401", "echo/403", "echo/500"} {
		answers[m] = postEcho(t, p.MCPURL(), m)
	}
	// The page's text as a browser shows it: html/template writes "+" as "&#43;".
	status, page := getBody(t, p.BaseURL+"/status"), html.UnescapeString(getBody(t, p.BaseURL+"/"))
	tokens := up.tokens()
	if len(tokens) < 4 {
		t.Fatalf("the upstream saw %d tokens, want at least 4 (the 401 retried with a fresh one)", len(tokens))
	}
	for _, tok := range tokens {
		for m, a := range answers {
			assertNoPiece(t, "the answer to "+m, a, tok)
		}
		assertNoPiece(t, "the log", p.Logs(), tok)
		assertNoPiece(t, "/status", status, tok)
		assertNoPiece(t, "the status page", page, tok)
	}
	for where, text := range map[string]string{"the log": p.Logs(), "/status": status, "the status page": page} {
		assertNoSecret(t, where, text)
	}
	last := "[token sha256:" + redact.Fingerprint(tokens[len(tokens)-1]) + "]"
	for _, m := range []string{"echo/403", "echo/500"} {
		if !strings.Contains(answers[m], last) {
			t.Errorf("the answer to %s = %s, want the token's fingerprint %s", m, answers[m], last)
		}
	}
	if !strings.Contains(status, last) {
		t.Errorf("/status holds no %s: %.600s", last, status)
	}
	if !strings.Contains(page, last) {
		t.Errorf("the status page holds no %s", last)
	}
}

// echoIdP is an identity provider whose token endpoint answers status with
// invalid_client and an error_description quoting the Authorization header
// and the form body it got.
func echoIdP(t *testing.T, status int) *httptest.Server {
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/.well-known/openid-configuration" {
			json.NewEncoder(w).Encode(map[string]any{"issuer": srv.URL, "token_endpoint": srv.URL + "/oauth2/token", "jwks_uri": srv.URL + "/jwks",
				"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"}})
			return
		}
		if r.URL.Path == "/jwks" {
			io.WriteString(w, `{"keys":[]}`)
			return
		}
		form, _ := io.ReadAll(r.Body)
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]string{"error": "invalid_client",
			"error_description": "bad credentials: Authorization: " + r.Header.Get("Authorization") + "; body: " + string(form)})
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestEchoedClientSecretRedacted: an identity provider that quotes the
// Basic header (or the form body with client_secret) in its 400 or 401
// error_description gets neither the secret nor base64(id:secret) into the
// log, the client's JSON-RPC error, /readyz, /status, or doctor's report.
func TestEchoedClientSecretRedacted(t *testing.T) {
	up := newEchoUpstream(t)
	label := "[secret sha256:" + redact.Fingerprint(echoSecret) + "]"
	for _, tc := range []struct {
		name   string
		status int
		style  string
	}{
		{name: "400 basic", status: 400, style: "basic"},
		{name: "401 post", status: 401, style: "post"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			idp := echoIdP(t, tc.status)
			route := []string{"--upstream-url", up.srv.URL + "/mcp", "--discovery-url", idp.URL + "/.well-known/openid-configuration",
				"--client-id", echoClientID, "--token-auth-style", tc.style}
			env := map[string]string{"AGENTCORE_PROXY_CLIENT_SECRET": echoSecret}

			p := startProxy(t, env, append([]string{"serve", "--listen", "127.0.0.1:0", "--log-format", "json", "--log-level", "debug"}, route...)...)
			answer := postEcho(t, p.MCPURL(), "tools/list")
			if !strings.Contains(answer, label) {
				t.Errorf("the answer = %s, want the secret's fingerprint %s", answer, label)
			}
			for where, text := range map[string]string{"the answer": answer, "/readyz": getBody(t, p.BaseURL+"/readyz"),
				"/status": getBody(t, p.BaseURL+"/status"), "the status page": html.UnescapeString(getBody(t, p.BaseURL+"/"))} {
				assertNoSecret(t, where, text)
			}
			// The log is read after the fetch failed and was logged.
			if !strings.Contains(p.Logs(), "token fetch failed") {
				t.Errorf("the log holds no failed fetch: %s", p.Logs())
			}
			assertNoSecret(t, "the log", p.Logs())

			var out, errOut bytes.Buffer
			err := run(t.Context(), append([]string{"doctor", "--timeout", "30s"}, route...), func(k string) string { return env[k] },
				strings.NewReader(""), &out, &errOut)
			if err == nil {
				t.Fatalf("doctor with a rejected secret succeeded: %s", out.String())
			}
			report := out.String() + errOut.String() + err.Error()
			assertNoSecret(t, "doctor's report", report)
			if !strings.Contains(report, label) {
				t.Errorf("doctor's report holds no %s: %s", label, report)
			}
			secretScan(t, report)
		})
	}
}

// TestEchoedSecretRedactedStdio: the same echoes through agentcore-proxy
// stdio: an identity provider quoting the Basic header, and an upstream
// quoting the bearer, reach neither stdout (the client's JSON-RPC errors)
// nor stderr (the log).
func TestEchoedSecretRedactedStdio(t *testing.T) {
	emu := echoEmulator(t)
	up := newEchoUpstream(t)
	idp := echoIdP(t, 400)
	env := map[string]string{"AGENTCORE_PROXY_CLIENT_SECRET": echoSecret}
	stdio := func(discovery string, lines ...string) (stdout, stderr string) {
		t.Helper()
		var out, errOut syncBuffer
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		err := run(ctx, []string{"stdio", "--log-level", "debug", "--upstream-url", up.srv.URL + "/mcp", "--discovery-url", discovery,
			"--client-id", echoClientID}, func(k string) string { return env[k] }, strings.NewReader(strings.Join(lines, "\n")+"\n"), &out, &errOut)
		if err != nil {
			t.Fatalf("stdio: %v\nstderr: %s", err, errOut.String())
		}
		secretScan(t, errOut.String())
		return out.String(), errOut.String()
	}

	out, logs := stdio(idp.URL+"/.well-known/openid-configuration", `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`)
	if label := "[secret sha256:" + redact.Fingerprint(echoSecret) + "]"; !strings.Contains(out, label) {
		t.Errorf("stdout = %s, want the secret's fingerprint %s", out, label)
	}
	assertNoSecret(t, "stdout", out)
	assertNoSecret(t, "stderr", logs)

	out, logs = stdio(emu.DiscoveryURL(), `{"jsonrpc":"2.0","id":1,"method":"echo/403"}`, `{"jsonrpc":"2.0","id":2,"method":"echo/500"}`)
	tokens := up.tokens()
	if len(tokens) == 0 {
		t.Fatalf("the upstream saw no token; stdout %s", out)
	}
	for _, tok := range tokens {
		assertNoPiece(t, "stdout", out, tok)
		assertNoPiece(t, "stderr", logs, tok)
	}
	if label := "[token sha256:" + redact.Fingerprint(tokens[0]) + "]"; !strings.Contains(out, label) {
		t.Errorf("stdout = %s, want the token's fingerprint %s", out, label)
	}
}
