package e2e

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentcore-proxy/agentcore-proxy/internal/emulator"
)

// TestCrossSiteRequestRefused sends what a page of another site makes a
// browser send: no Origin on a GET (a navigation, an image), but
// Sec-Fetch-Site. The guard refuses it before anything goes upstream; the
// user's own requests (typed address, same origin) pass.
func TestCrossSiteRequestRefused(t *testing.T) {
	emu := startEmulator(t, emulator.Config{})
	p := startProxy(t, secretEnv, proxyFlags(emu)...)
	waitReady(t, p)
	tests := []struct {
		name, method, site string
		want               int
	}{
		{name: "cross-site GET", method: http.MethodGet, site: "cross-site", want: 403},
		{name: "same-site GET", method: http.MethodGet, site: "same-site", want: 403},
		{name: "cross-site POST", method: http.MethodPost, site: "cross-site", want: 403},
		{name: "same-origin POST", method: http.MethodPost, site: "same-origin", want: 200},
		{name: "typed POST", method: http.MethodPost, site: "none", want: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(emu.Invocations())
			var body io.Reader
			if tt.method == http.MethodPost {
				body = strings.NewReader(addCall(1))
			}
			req, _ := http.NewRequestWithContext(t.Context(), tt.method, p.MCPURL(), body)
			req.Header.Set("Sec-Fetch-Site", tt.site)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/json, text/event-stream")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			msg, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Fatalf("%s with Sec-Fetch-Site %s = %d %s, want %d", tt.method, tt.site, resp.StatusCode, msg, tt.want)
			}
			sent := len(emu.Invocations()) - before
			if tt.want == 403 && (sent != 0 || !strings.Contains(string(msg), "--allowed-origin")) {
				t.Errorf("refused request: AgentCore saw %d requests (want 0); answer %s (want the fix)", sent, msg)
			}
			if tt.want == 200 && sent != 1 {
				t.Errorf("AgentCore saw %d requests, want 1", sent)
			}
		})
	}
}

// TestMetricsListenerChecksHost checks Host on --metrics-listen as on
// --listen, but lets IP literals through: Prometheus and kubelets address
// a pod by IP, a DNS-rebinding page by its name.
func TestMetricsListenerChecksHost(t *testing.T) {
	emu := startEmulator(t, emulator.Config{})
	p := startProxy(t, secretEnv, proxyFlags(emu, "--metrics-listen", "127.0.0.1:0")...)
	m := probesLine.FindStringSubmatch(waitStdout(p, "metrics and probes on"))
	if m == nil {
		t.Fatalf("no metrics address in the banner:\n%s", p.stdout.String())
	}
	tests := []struct {
		path, host string
		want       int
	}{
		{path: "/metrics", host: "evil.example:9090", want: 403},
		{path: "/readyz", host: "evil.example", want: 403},
		{path: "/metrics", host: "10.1.2.3:9090", want: 200},
		{path: "/healthz", host: "[fd00::1]:9090", want: 200},
		{path: "/metrics", host: m[1], want: 200},
		{path: "/healthz", host: "localhost", want: 200},
	}
	for _, tt := range tests {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+m[1]+tt.path, nil)
		req.Host = tt.host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("GET %s on --metrics-listen with Host %q = %d, want %d", tt.path, tt.host, resp.StatusCode, tt.want)
		}
		if tt.want == 403 && !strings.Contains(string(body), "--allowed-host") {
			t.Errorf("refusal of Host %q = %s, want the fix", tt.host, body)
		}
	}
}

// TestPprofRefusedOffLoopback refuses --pprof on a metrics listener other
// machines reach: the profiler would show them the insides of a process
// that holds the token and the secret.
func TestPprofRefusedOffLoopback(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0"} {
		var stderr strings.Builder
		err := run(t.Context(), []string{"serve", "--listen", "127.0.0.1:0", "--upstream-url", "http://127.0.0.1:1/mcp", "--pprof", "--metrics-listen", addr},
			func(string) string { return "" }, strings.NewReader(""), &strings.Builder{}, &stderr)
		if err == nil || !strings.Contains(err.Error(), "--pprof with --metrics-listen") || !strings.Contains(err.Error(), "kubectl port-forward") {
			t.Errorf("serve --pprof --metrics-listen %s = %v, want a refusal naming both flags and kubectl port-forward", addr, err)
		}
	}
}

// TestRoutePathWithBraces refuses a YAML route whose path Go's ServeMux
// would read as a pattern (it used to panic at start), naming the route.
func TestRoutePathWithBraces(t *testing.T) {
	file := filepath.Join(t.TempDir(), "routes.yaml")
	os.WriteFile(file, []byte("routes:\n  - name: braces\n    path: /a{b}\n    target: {upstream_url: 'http://127.0.0.1:1/mcp'}\n"), 0o600)
	err := run(t.Context(), []string{"serve", "--listen", "127.0.0.1:0", "--config", file},
		func(string) string { return "" }, strings.NewReader(""), &strings.Builder{}, &strings.Builder{})
	if err == nil || !strings.Contains(err.Error(), `routes[0].path "/a{b}" (route braces)`) {
		t.Errorf("serve --config with path /a{b} = %v, want a config error naming the route", err)
	}
}
