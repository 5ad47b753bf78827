//go:build unix

package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/agentcore-proxy/agentcore-proxy/internal/statuspage"
)

// The browser tests load the status page in a real headless Chromium, from
// Debian's chromium package (.ci/run installs it). They check the DOM the
// browser built, not just the bytes served, and keep a screenshot.

const (
	// chromiumPath is where Debian's chromium package puts the browser.
	chromiumPath = "/usr/bin/chromium"
	// chromiumTimeout bounds one Chromium run; past it the whole process
	// group is killed.
	chromiumTimeout = 60 * time.Second
	// screenshotFile is the README's picture of the page, rewritten by
	// TestStatusPageInChromium when UPDATE_SCREENSHOT=1.
	screenshotFile = "docs/status-page.png"
)

// TestStatusPageInChromium loads GET / of the running demo command in
// Chromium and checks the default route's card: its token is valid and its
// fingerprint shows. With UPDATE_SCREENSHOT=1 it rewrites docs/status-page.png.
func TestStatusPageInChromium(t *testing.T) {
	needs(t, "Chromium")
	requireChromium(t)
	p := startProxy(t, nil, "demo", "--listen", "127.0.0.1:0", "--log-format", "json")
	waitReady(t, p)
	url := p.BaseURL + "/"
	requireStatusPage(t, url)
	// Some traffic and one failure, so that the page shows counts and the
	// failures table.
	for i := range 3 {
		resp, reply := postRPC(t, p.MCPURL(), addCall(i), nil)
		wantSum(t, resp, reply, i)
	}
	resp, _ := postRPC(t, p.MCPURL(), addCall(3), http.Header{"X-Amzn-Bedrock-Agentcore-Runtime-Session-Id": {"too-short"}})
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("short session id: status %d, want 400", resp.StatusCode)
	}

	dom := dumpDOM(t, url)
	if !strings.Contains(dom, "session_id_invalid") || !strings.Contains(dom, "X-Amzn-Bedrock-AgentCore-Runtime-Session-Id is 9 characters") {
		t.Errorf("the page does not show the traffic and the failure:\n%s", dom)
	}
	card := routeCard(t, dom, "default")
	if state := tokenStateText(t, card); !strings.Contains(state, "valid") || strings.Contains(state, "invalid") {
		t.Errorf("route-default token state = %q, want it valid", state)
	}
	if fp := fingerprintText(card); !hex8Re.MatchString(fp) {
		t.Errorf("route-default fingerprint = %q, want 8 hex digits; card:\n%s", fp, card)
	}

	png := screenshot(t, url)
	if os.Getenv("UPDATE_SCREENSHOT") == "1" {
		if err := os.MkdirAll(filepath.Dir(screenshotFile), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(screenshotFile, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s (%d bytes)", screenshotFile, len(png))
	}
}

// TestStatusPageInChromium_Handler loads statuspage.Handler, served over
// httptest with a realistic snapshot, in Chromium: the page parses into the
// DOM the tests and readers rely on, an attack in a failure message stays
// text, and the browser asks for nothing but the page itself.
func TestStatusPageInChromium_Handler(t *testing.T) {
	needs(t, "Chromium")
	requireChromium(t)
	const attack = `<script>alert(1)</script>`
	var (
		mu    sync.Mutex
		paths []string
	)
	h := statuspage.Handler(func() statuspage.Status { return browserTestStatus(time.Now(), attack) })
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.URL.Path)
		mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	url := srv.URL + "/"

	dom := dumpDOM(t, url)
	tests := []struct {
		route       string
		wantState   string
		wantNoState string
		wantFP      string
	}{
		{route: "default", wantState: "✓ valid until", wantNoState: "invalid", wantFP: "3fa9c2d1"},
		{route: "staging", wantState: "✗ invalid"},
		{route: "local", wantState: "no token"},
	}
	for _, tt := range tests {
		t.Run("route-"+tt.route, func(t *testing.T) {
			card := routeCard(t, dom, tt.route)
			state := tokenStateText(t, card)
			if !strings.Contains(state, tt.wantState) || (tt.wantNoState != "" && strings.Contains(state, tt.wantNoState)) {
				t.Errorf("route-%s token state = %q, want it to contain %q", tt.route, state, tt.wantState)
			}
			if got := fingerprintText(card); got != tt.wantFP {
				t.Errorf("route-%s fingerprint = %q, want %q", tt.route, got, tt.wantFP)
			}
		})
	}

	failures := regexp.MustCompile(`(?s)<table id="failures">.*?</table>`).FindString(dom)
	if failures == "" {
		t.Fatalf("DOM has no table#failures:\n%s", dom)
	}
	if got, want := strings.Count(failures, `<td class="msg">`), 6; got != want {
		t.Errorf("table#failures has %d rows, want %d", got, want)
	}
	if strings.Contains(dom, "<script") {
		t.Errorf("DOM holds a <script> element: a failure message was not escaped")
	}
	if want := "&lt;script&gt;alert(1)&lt;/script&gt;"; !strings.Contains(failures, want) {
		t.Errorf("table#failures does not show the attack as text %q", want)
	}

	png := screenshot(t, url)
	t.Logf("screenshot: %d bytes", len(png))

	mu.Lock()
	defer mu.Unlock()
	for _, p := range paths {
		if p != "/" {
			t.Errorf("Chromium requested %q; the page must need nothing but itself (all requests: %q)", p, paths)
			break
		}
	}
}

// browserTestStatus is a proxy at now with a route holding a valid token,
// one whose token fetch fails, one without auth, and six failures, one of
// which quotes attack.
func browserTestStatus(now time.Time, attack string) statuspage.Status {
	s := statuspage.Status{
		Version:   "v1.4.0",
		GoVersion: "go1.26.8",
		StartedAt: now.Add(-3*time.Hour - 4*time.Minute),
		Now:       now,
		Routes: []statuspage.Route{{
			Name: "default", Path: "/mcp", Auth: true, Requests: 1234, Errors: 4,
			Target: "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/demo-AbCdEf1234?qualifier=DEFAULT",
			Token: &statuspage.Token{
				Valid: true, ExpiresAt: now.Add(3300 * time.Second), SecondsLeft: 3300,
				FetchedAt: now.Add(-300 * time.Second), Fingerprint: "3fa9c2d1",
				Claims: "client_id=demo-client-id scope=default-m2m-resource-server/read iss=https://cognito-idp.us-east-1.amazonaws.com/us-east-1_demo exp=" + now.Add(3300*time.Second).UTC().Format("15:04:05Z"),
			},
		}, {
			Name: "staging", Path: "/staging/mcp", Auth: true, Requests: 2, Errors: 2,
			Target: "arn:aws:bedrock-agentcore:eu-west-1:123456789012:runtime/stage-99?qualifier=canary",
			Token: &statuspage.Token{
				LastError:   `oauth2: "invalid_client" "Client authentication failed"`,
				LastErrorAt: now.Add(-12 * time.Second),
			},
		}, {
			Name: "local", Path: "/local/mcp", Target: "http://127.0.0.1:8000/mcp", Requests: 17,
		}},
	}
	failures := []struct {
		status                int
		method, reason, route string
		message               string
	}{
		{502, "tools/call", "runtime_error", "default", `AgentCore answered 502: {"message":"RuntimeClientError: ` + attack + `"}`},
		{401, "initialize", "token_rejected", "staging", "the runtime rejected the bearer token: audience mismatch (token aud=demo-client-id, runtime allows [other-client])"},
		{404, "tools/list", "session_unknown", "default", "the runtime does not know session a1b2c3d4; the client should re-initialize"},
		{504, "tools/call", "upstream_timeout", "default", "AgentCore did not answer within 60s"},
		{502, "initialize", "token_fetch_failed", "staging", `cannot fetch an access token: oauth2: "invalid_client"`},
		{429, "tools/call", "throttled", "default", "AgentCore throttled the request (ThrottlingException); retry later"},
	}
	for i, f := range failures {
		s.Failures = append(s.Failures, statuspage.Failure{
			Time: now.Add(-time.Duration(i*47) * time.Second), Route: f.route, Status: f.status,
			MCPMethod: f.method, Reason: f.reason, Message: f.message, Session: "a1b2c3d4",
		})
	}
	return s
}

// requireChromium fails the test when the browser is missing: the status
// page is checked in a real browser or not at all, and CI installs one.
func requireChromium(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("%s: %v: install chromium (apt-get install chromium) or run .ci/run", chromiumPath, err)
	}
}

// requireStatusPage fails at once, with what the server answered, when url
// is not an HTML page; the DOM checks would fail less legibly.
func requireStatusPage(t *testing.T, url string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 2048))
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusOK || !strings.HasPrefix(ct, "text/html") {
		t.Fatalf("GET %s = %d %s, want 200 text/html (the status page); body:\n%s", url, resp.StatusCode, ct, body)
	}
}

// dumpDOM returns the DOM Chromium built from url, serialized as HTML. The
// test fails if the page broke its own Content-Security-Policy, as a script
// or an external asset would: Chromium logs the console's complaint.
func dumpDOM(t *testing.T, url string) string {
	t.Helper()
	dom, log := runChromium(t, "--dump-dom", url)
	for line := range strings.Lines(log) {
		if strings.Contains(line, "Content Security Policy") {
			t.Errorf("%s violates its Content-Security-Policy: %s", url, strings.TrimSpace(line))
		}
	}
	return string(dom)
}

// screenshot renders url at laptop size into a PNG in t.TempDir, checks
// it is one, and returns its bytes.
func screenshot(t *testing.T, url string) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "status-page.png")
	runChromium(t, "--screenshot="+path, "--window-size=1280,900", "--hide-scrollbars", url)
	png, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("Chromium wrote no screenshot: %v", err)
	}
	if sig := []byte("\x89PNG\r\n\x1a\n"); len(png) <= len(sig) || !bytes.HasPrefix(png, sig) {
		t.Fatalf("screenshot %s = %d bytes starting %q, want a PNG", path, len(png), png[:min(len(png), 8)])
	}
	return png
}

// runChromium runs headless Chromium with args after the common flags and
// returns its stdout and its log, which includes console messages. Chromium runs in its own process group, killed
// whole when the run takes longer than chromiumTimeout and, to catch
// helpers that outlive the browser, when it ends.
func runChromium(t *testing.T, args ...string) (stdout []byte, log string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), chromiumTimeout)
	defer cancel()
	flags := append([]string{
		"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-quic",
		"--user-data-dir=" + t.TempDir(), "--enable-logging=stderr", "--v=0",
	}, args...)
	cmd := exec.CommandContext(ctx, chromiumPath, flags...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second // helpers holding stdout must not hang Wait
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr

	start := time.Now()
	err := cmd.Run()
	if cmd.Process != nil {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // ESRCH when none are left: fine
	}
	t.Logf("chromium %s: %v", args[0], time.Since(start).Round(time.Millisecond))
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatalf("chromium %q did not finish within %v; killed its process group\nstderr:\n%s", args, chromiumTimeout, tail(stderr.String(), 4000))
	}
	if err != nil {
		t.Fatalf("chromium %q: %v\nstderr:\n%s", args, err, tail(stderr.String(), 4000))
	}
	return out.Bytes(), stderr.String()
}

var (
	hex8Re         = regexp.MustCompile(`^[0-9a-f]{8}$`)
	tokenStateRe   = regexp.MustCompile(`<[a-z]+ class="token-state[^"]*">([^<]*)<`)
	fingerprintRe  = regexp.MustCompile(`<code class="fingerprint">([^<]*)</code>`)
	routeCardRegex = func(name string) *regexp.Regexp {
		return regexp.MustCompile(`(?s)<section [^>]*id="route-` + regexp.QuoteMeta(name) + `"[^>]*>.*?</section>`)
	}
)

// routeCard returns the serialized DOM of the card for route name.
func routeCard(t *testing.T, dom, name string) string {
	t.Helper()
	card := routeCardRegex(name).FindString(dom)
	if card == "" {
		t.Fatalf("DOM has no route card id=%q:\n%s", "route-"+name, tail(dom, 4000))
	}
	return card
}

// tokenStateText returns the text of the card's .token-state element.
func tokenStateText(t *testing.T, card string) string {
	t.Helper()
	m := tokenStateRe.FindStringSubmatch(card)
	if m == nil {
		t.Fatalf("route card has no .token-state element:\n%s", card)
	}
	return m[1]
}

// fingerprintText returns the card's token fingerprint, or "" without one.
func fingerprintText(card string) string {
	if m := fingerprintRe.FindStringSubmatch(card); m != nil {
		return m[1]
	}
	return ""
}

// tail returns the last n bytes of s, marked when cut.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return fmt.Sprintf("[... %d bytes cut ...]\n%s", len(s)-n, s[len(s)-n:])
}
