package statuspage

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"
)

var testNow = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)

// sampleStatus is a proxy with an authenticated route holding a valid
// token, a route whose token fetch fails, and n failures.
func sampleStatus(n int) Status {
	s := Status{
		Version:   "v1.4.0",
		GoVersion: "go1.26.8",
		StartedAt: testNow.Add(-3*time.Hour - 4*time.Minute),
		Now:       testNow,
		Ready:     true,
		Routes: []Route{{
			Name:            "default",
			Path:            "/mcp",
			Target:          "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/demo-AbCdEf1234?qualifier=DEFAULT",
			Auth:            true,
			Requests:        1234,
			Errors:          7,
			SessionRecovery: true,
			Recoveries:      map[string]int64{"recovered": 3},
			Runtime: &Runtime{Protocol: "MCP", Status: "READY", Authorizer: "JWT: allowedClients [demo-client-id]",
				HeaderAllowlist: []string{"Authorization", "X-Amzn-Bedrock-AgentCore-Runtime-Custom-Tenant"}, IdleTimeoutSeconds: 600},
			Token: &Token{
				Valid:       true,
				ExpiresAt:   testNow.Add(3300 * time.Second),
				SecondsLeft: 3300,
				FetchedAt:   testNow.Add(-300 * time.Second),
				Fingerprint: "3fa9c2d1",
				Claims:      "client_id=demo-client-id scope=default-m2m-resource-server/read iss=https://cognito-idp.us-east-1.amazonaws.com/us-east-1_demo exp=16:04:26",
			},
		}, {
			Name:   "staging",
			Path:   "/staging/mcp",
			Target: "arn:aws:bedrock-agentcore:eu-west-1:123456789012:runtime/stage-99?qualifier=canary",
			Auth:   true,
			Errors: 2, Requests: 2,
			SessionRecovery: true,
			Recoveries:      map[string]int64{"recovered": 1, "lost_again": 1},
			Token: &Token{
				LastError:   `oauth2: "invalid_client" "Client authentication failed"`,
				LastErrorAt: testNow.Add(-12 * time.Second),
			},
		}},
	}
	for i := range n {
		s.Failures = append(s.Failures, Failure{
			Time:      testNow.Add(-time.Duration(i) * 17 * time.Second),
			Route:     "default",
			Status:    []int{502, 401, 404, 504}[i%4],
			MCPMethod: []string{"tools/call", "initialize", "tools/list", "resources/read"}[i%4],
			Reason:    []string{"runtime_error", "token_rejected", "session_unknown", "upstream_timeout"}[i%4],
			Message:   fmt.Sprintf("failure %d: AgentCore answered 502: {\"message\":\"RuntimeClientError: the container exited\"}", i),
			Session:   "a1b2c3d4",
		})
	}
	return s
}

// get serves one request to Handler over s and returns the answer and body.
func get(t *testing.T, s Status, method, path string) (*http.Response, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	Handler(func() Status { return s }).ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	resp := rec.Result()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func TestPageContents(t *testing.T) {
	_, page := get(t, sampleStatus(3), http.MethodGet, "/")
	tests := []struct {
		name string
		want string
	}{
		{name: "refresh", want: `<meta http-equiv="refresh" content="5">`},
		{name: "version", want: "v1.4.0"},
		{name: "uptime", want: `<span id="uptime">3h 04m</span>`},
		{name: "ready badge", want: `<span id="ready" class="badge ok">ready</span>`},
		{name: "route card", want: `<section class="route" id="route-default">`},
		{name: "route path", want: `<code class="path">/mcp</code>`},
		{name: "target", want: "runtime/demo-AbCdEf1234?qualifier=DEFAULT"},
		{name: "valid token", want: `<dd class="token-state ok">✓ valid until 16:04:26 (3300s left)</dd>`},
		{name: "fingerprint", want: `<code class="fingerprint">3fa9c2d1</code>`},
		{name: "claims", want: "client_id=demo-client-id scope=default-m2m-resource-server/read"},
		{name: "counts", want: `<span class="requests">1234</span> requests · <span class="errors bad">7</span> errors`},
		{name: "invalid token", want: `<dd class="token-state bad">✗ invalid</dd>`},
		{name: "token error", want: `oauth2: &#34;invalid_client&#34; &#34;Client authentication failed&#34; <span class="muted">at 15:09:14 (12s ago)</span>`},
		{name: "recovery", want: `<dd class="recovery ok">recovery on · 3 recovered, 0 failed, 0 lost again, 0 not replayable</dd>`},
		{name: "recovery trouble", want: `<dd class="recovery warn">recovery on · 1 recovered, 0 failed, 1 lost again, 0 not replayable</dd>`},
		{name: "runtime", want: `<dd class="runtime">MCP, READY; authorizer <code class="authorizer">JWT: allowedClients [demo-client-id]</code>; header allowlist <code>Authorization</code>, <code>X-Amzn-Bedrock-AgentCore-Runtime-Custom-Tenant</code>; sessions idle out after 10m 00s, live at most 8h 00m</dd>`},
		{name: "failures table", want: `<table id="failures">`},
		{name: "failure row", want: `<td class="bad">502</td><td><code>tools/call</code></td><td><code>runtime_error</code></td>`},
		{name: "newest failure", want: "failure 0: AgentCore answered 502"},
		{name: "oldest failure", want: "failure 2: AgentCore answered 502"},
		{name: "session", want: "(session a1b2c3d4)"},
		{name: "json link", want: `<a href="/status">/status</a>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(page, tt.want) {
				t.Errorf("GET / does not contain %q; page:\n%s", tt.want, page)
			}
		})
	}
}

func TestPageEscapesUntrustedStrings(t *testing.T) {
	const attack = `<script>alert(1)</script>`
	s := sampleStatus(1)
	s.Version = attack
	s.Routes[0].Name = `x" onmouseover="alert(1)`
	s.Routes[0].Target = attack
	s.Routes[0].Token.Claims = attack
	s.Routes[1].Token.LastError = attack
	s.Failures[0].Message = attack
	s.Failures[0].Reason = `</code><img src=x onerror=alert(1)>`
	// What a runtime says about itself comes from the control plane's
	// answer (GetAgentRuntime): its header allowlist and authorizer too.
	s.Routes[0].Runtime.Authorizer = attack
	s.Routes[0].Runtime.HeaderAllowlist = []string{`</code><img src=x onerror=alert(1)>`}
	s.Routes[0].Runtime.Protocol = attack
	_, page := get(t, s, http.MethodGet, "/")

	for _, bad := range []string{"<script", "<img", `" onmouseover="`} {
		if strings.Contains(page, bad) {
			t.Errorf("GET / contains %q unescaped", bad)
		}
	}
	if want := `<td class="msg">&lt;script&gt;alert(1)&lt;/script&gt;`; !strings.Contains(page, want) {
		t.Errorf("GET / does not contain the escaped failure message %q", want)
	}
	if want := `id="route-x&#34; onmouseover=&#34;alert(1)"`; !strings.Contains(page, want) {
		t.Errorf("GET / does not contain the escaped route id %q", want)
	}
}

func TestPageIsSelfContained(t *testing.T) {
	s := sampleStatus(0)
	for i := range s.Routes {
		s.Routes[i].Target = "arn" // targets may be URLs; keep them out of this check
		s.Routes[i].Token.Claims = ""
	}
	_, page := get(t, s, http.MethodGet, "/")
	for _, external := range []string{"<script", "src=", "url(", "@import", "http://", "https://", "//fonts"} {
		if strings.Contains(page, external) {
			t.Errorf("GET / contains %q; the page must load nothing from elsewhere", external)
		}
	}
	if want := "No failures since start."; !strings.Contains(page, want) {
		t.Errorf("GET / with no failures does not say %q", want)
	}
}

func TestHandlerRoutesAndHeaders(t *testing.T) {
	tests := []struct {
		name        string
		method      string
		path        string
		wantStatus  int
		wantType    string
		wantInBody  string
		wantNoBody  bool
		wantAllowed string
	}{
		{name: "page", method: http.MethodGet, path: "/", wantStatus: 200, wantType: "text/html; charset=utf-8", wantInBody: `id="route-default"`},
		{name: "page HEAD", method: http.MethodHead, path: "/", wantStatus: 200, wantType: "text/html; charset=utf-8", wantNoBody: true},
		{name: "json", method: http.MethodGet, path: "/status", wantStatus: 200, wantType: "application/json", wantInBody: `"fingerprint": "3fa9c2d1"`},
		{name: "other path", method: http.MethodGet, path: "/x", wantStatus: 404},
		{name: "page with suffix", method: http.MethodGet, path: "/index.html", wantStatus: 404},
		{name: "json with slash", method: http.MethodGet, path: "/status/", wantStatus: 404},
		{name: "post", method: http.MethodPost, path: "/", wantStatus: 405, wantAllowed: "GET, HEAD"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := get(t, sampleStatus(2), tt.method, tt.path)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("%s %s: status = %d, want %d", tt.method, tt.path, resp.StatusCode, tt.wantStatus)
			}
			headers := map[string]string{
				"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:",
				"X-Content-Type-Options":  "nosniff",
				"Cache-Control":           "no-store",
			}
			if tt.wantType != "" {
				headers["Content-Type"] = tt.wantType
			}
			if tt.wantAllowed != "" {
				headers["Allow"] = tt.wantAllowed
			}
			for k, want := range headers {
				if got := resp.Header.Get(k); got != want {
					t.Errorf("%s %s: header %s = %q, want %q", tt.method, tt.path, k, got, want)
				}
			}
			if !strings.Contains(body, tt.wantInBody) {
				t.Errorf("%s %s: body does not contain %q", tt.method, tt.path, tt.wantInBody)
			}
			if tt.wantNoBody && body != "" {
				t.Errorf("%s %s: body = %d bytes, want none", tt.method, tt.path, len(body))
			}
		})
	}
}

func TestJSONRoundTrip(t *testing.T) {
	want := sampleStatus(3)
	resp, body := get(t, want, http.MethodGet, "/status")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /status: status = %d, want 200", resp.StatusCode)
	}
	var got Status
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("json.Unmarshal(GET /status) = %v; body:\n%s", err, body)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("GET /status decodes to\n%+v\nwant\n%+v", got, want)
	}
	if strings.Contains(body, "0001-01-01") {
		t.Errorf("GET /status holds a zero time; omitzero should drop it:\n%s", body)
	}
}

func TestJSONEmptyAndCapped(t *testing.T) {
	tests := []struct {
		name         string
		status       Status
		wantRoutes   int
		wantFailures int
	}{
		{name: "empty lists are [] not null", status: Status{Version: "dev"}, wantRoutes: 0, wantFailures: 0},
		{name: "failures capped", status: sampleStatus(MaxFailures + 10), wantRoutes: 2, wantFailures: MaxFailures},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, body := get(t, tt.status, http.MethodGet, "/status")
			var raw map[string]json.RawMessage
			if err := json.Unmarshal([]byte(body), &raw); err != nil {
				t.Fatalf("json.Unmarshal(GET /status) = %v", err)
			}
			for _, key := range []string{"routes", "failures"} {
				if string(raw[key]) == "null" {
					t.Errorf("GET /status: %s = null, want a list", key)
				}
			}
			var got Status
			json.Unmarshal([]byte(body), &got)
			if len(got.Routes) != tt.wantRoutes || len(got.Failures) != tt.wantFailures {
				t.Errorf("GET /status: %d routes, %d failures; want %d, %d", len(got.Routes), len(got.Failures), tt.wantRoutes, tt.wantFailures)
			}
		})
	}
}

func TestPageCapsFailures(t *testing.T) {
	_, page := get(t, sampleStatus(MaxFailures+3), http.MethodGet, "/")
	if got := strings.Count(page, `<td class="msg">`); got != MaxFailures {
		t.Errorf("GET / shows %d failures, want %d", got, MaxFailures)
	}
	if want := "3 older not shown"; !strings.Contains(page, want) {
		t.Errorf("GET / does not say %q", want)
	}
}

// TestPageSize keeps the page small enough to reload every five seconds
// without a thought, and reports its size for the README.
func TestPageSize(t *testing.T) {
	s := sampleStatus(MaxFailures)
	s.Routes = s.Routes[:1]
	_, page := get(t, s, http.MethodGet, "/")
	t.Logf("page with 1 route and %d failures: %d bytes", MaxFailures, len(page))
	if len(page) > 48<<10 {
		t.Errorf("page with 1 route and %d failures = %d bytes, want at most %d", MaxFailures, len(page), 48<<10)
	}
}

func TestTokenState(t *testing.T) {
	tests := []struct {
		name      string
		route     Route
		wantText  string
		wantClass string
	}{
		{name: "no auth", route: Route{}, wantText: "no token (route without auth)", wantClass: "muted"},
		{name: "auth, nothing fetched", route: Route{Auth: true}, wantText: "✗ no token yet", wantClass: "bad"},
		{
			name:      "valid",
			route:     Route{Auth: true, Token: &Token{Valid: true, ExpiresAt: testNow.Add(time.Hour), SecondsLeft: 3600}},
			wantText:  "✓ valid until 16:09:26 (3600s left)",
			wantClass: "ok",
		},
		{
			name:      "valid, about to expire",
			route:     Route{Auth: true, Token: &Token{Valid: true, ExpiresAt: testNow.Add(30 * time.Second), SecondsLeft: 30}},
			wantText:  "✓ valid until 15:09:56 (30s left)",
			wantClass: "warn",
		},
		{
			name:      "valid, expiry on another day",
			route:     Route{Auth: true, Token: &Token{Valid: true, ExpiresAt: testNow.Add(24 * time.Hour), SecondsLeft: 86400}},
			wantText:  "✓ valid until Mar 15 15:09:26 (86400s left)",
			wantClass: "ok",
		},
		{
			name:      "expired",
			route:     Route{Auth: true, Token: &Token{ExpiresAt: testNow.Add(-time.Minute)}},
			wantText:  "✗ invalid (expired 15:08:26)",
			wantClass: "bad",
		},
		{name: "invalid", route: Route{Auth: true, Token: &Token{LastError: "boom"}}, wantText: "✗ invalid", wantClass: "bad"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text, class := tokenState(tt.route, testNow)
			if text != tt.wantText || class != tt.wantClass {
				t.Errorf("tokenState(%+v) = %q, %q; want %q, %q", tt.route, text, class, tt.wantText, tt.wantClass)
			}
		})
	}
}

func TestHumanDuration(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want string
	}{
		{in: -time.Second, want: "0s"},
		{in: 42 * time.Second, want: "42s"},
		{in: 4*time.Minute + 5*time.Second, want: "4m 05s"},
		{in: 3*time.Hour + 4*time.Minute + 59*time.Second, want: "3h 04m"},
		{in: 50 * time.Hour, want: "2d 2h"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := humanDuration(tt.in); got != tt.want {
				t.Errorf("humanDuration(%v) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestTruncate(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{in: "short", n: 10, want: "short"},
		{in: "exactly10!", n: 10, want: "exactly10!"},
		{in: "ünïcödé text here", n: 8, want: "ünïcödé…"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := truncate(tt.in, tt.n); got != tt.want {
				t.Errorf("truncate(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
			}
		})
	}
}
