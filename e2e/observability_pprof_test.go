package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/agentcore-proxy/agentcore-proxy/internal/emulator"
)

// TestPprofOnlyOnTheMetricsListener checks that --pprof serves Go's
// profiler on --metrics-listen and nowhere an MCP client connects, and that
// it is refused without --metrics-listen.
func TestPprofOnlyOnTheMetricsListener(t *testing.T) {
	emu := startEmulator(t, emulator.Config{})
	p := startProxy(t, map[string]string{"AGENTCORE_PROXY_CLIENT_SECRET": testClientSecret},
		proxyFlags(emu, "--metrics-listen", "127.0.0.1:0", "--pprof")...)
	m := probesLine.FindStringSubmatch(waitStdout(p, "metrics and probes on"))
	if m == nil {
		t.Fatalf("no metrics address in the banner:\n%s", p.stdout.String())
	}
	if status, body := httpGet(t, "http://"+m[1]+"/debug/pprof/"); status != http.StatusOK || !strings.Contains(body, "goroutine") {
		t.Errorf("GET /debug/pprof/ on --metrics-listen = %d, want 200 with the profile index", status)
	}
	if status, _ := httpGet(t, p.BaseURL+"/debug/pprof/"); status != http.StatusNotFound {
		t.Errorf("GET /debug/pprof/ on --listen = %d, want 404", status)
	}

	var stderr strings.Builder
	err := run(t.Context(), []string{"serve", "--listen", "127.0.0.1:0", "--upstream-url", "http://127.0.0.1:1/mcp", "--pprof"},
		func(string) string { return "" }, strings.NewReader(""), &strings.Builder{}, &stderr)
	if err == nil || !strings.Contains(err.Error(), "--pprof needs --metrics-listen") {
		t.Errorf("serve --pprof without --metrics-listen = %v, want an error naming both flags", err)
	}
}
