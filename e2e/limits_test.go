package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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

// stalledPost sends a POST's headers and the first bytes of a body of 500
// bytes to addr, then nothing, and returns the connection.
func stalledPost(t *testing.T, addr, host, path string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n"+`{"jsonrpc":"2.0","id":7,"method":"tools/call",`, path, host); err != nil {
		t.Fatal(err)
	}
	return conn
}

// answerThenClose reads the answer on conn and what follows it: it returns
// the status and the body, and fails unless the proxy then closes the
// connection.
func answerThenClose(t *testing.T, conn net.Conn) (int, string) {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(30 * time.Second)) // a bound for a broken proxy, not a wait
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Errorf("reading the answer to a stalled body: %v", err)
		return 0, ""
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if n, err := io.Copy(io.Discard, br); err != nil || n != 0 {
		t.Errorf("after the answer: %d more bytes, err %v; want the connection closed", n, err)
	}
	return resp.StatusCode, string(body)
}

// TestBodyReadTimeout stalls request bodies: each gets 408 once
// --body-read-timeout is up and its connection is closed, nothing reaches
// AgentCore, and a hundred stalled connections are all released.
func TestBodyReadTimeout(t *testing.T) {
	emu := startEmulator(t, emulator.Config{})
	p := startProxy(t, secretEnv, proxyFlags(emu, "--body-read-timeout", "300ms")...)
	waitReady(t, p)
	addr := strings.TrimPrefix(p.BaseURL, "http://")

	start := time.Now()
	status, body := answerThenClose(t, stalledPost(t, addr, "127.0.0.1", "/mcp"))
	if status != http.StatusRequestTimeout || !strings.Contains(body, `"id":7`) || !strings.Contains(body, "--body-read-timeout") {
		t.Errorf("stalled body = %d %s, want 408 for id 7 naming --body-read-timeout", status, body)
	}
	t.Logf("408 after %v", time.Since(start).Round(time.Millisecond))

	// A refusal by the guard needs not wait for the body.
	status, _ = answerThenClose(t, stalledPost(t, addr, "evil.example", "/mcp"))
	if status != http.StatusForbidden {
		t.Errorf("stalled body with a foreign Host = %d, want 403", status)
	}

	const n = 100
	conns := make([]net.Conn, n)
	for i := range conns {
		path := "/mcp"
		if i%10 == 0 {
			path = "/no-such-route" // answered without reading the body
		}
		conns[i] = stalledPost(t, addr, "127.0.0.1", path)
	}
	var wg sync.WaitGroup
	statuses := make([]int, n)
	for i, c := range conns {
		wg.Go(func() { statuses[i], _ = answerThenClose(t, c) })
	}
	wg.Wait()
	for i, s := range statuses {
		if want := map[bool]int{true: 404, false: 408}[i%10 == 0]; s != want {
			t.Errorf("stalled connection %d = %d, want %d", i, s, want)
		}
	}
	if got := len(emu.Invocations()); got != 0 {
		t.Errorf("AgentCore saw %d requests, want 0", got)
	}
	if _, m := httpGet(t, p.BaseURL+"/metrics"); !strings.Contains(m, `agentcore_proxy_inflight_requests{route="default"} 0`) ||
		!strings.Contains(m, `agentcore_proxy_requests_total{code="408",mcp_method="tools/call",route="default"} 91`) {
		t.Errorf("metrics after the stalled bodies: want no request in flight and 91 answered 408:\n%s", grepLines(m, "agentcore_proxy_"))
	}
}

// TestBodyReadTimeoutYAML sets the bound with the YAML file's top-level
// body_read_timeout.
func TestBodyReadTimeoutYAML(t *testing.T) {
	emu := startEmulator(t, emulator.Config{})
	file := filepath.Join(t.TempDir(), "routes.yaml")
	os.WriteFile(file, []byte("body_read_timeout: 250ms\nroutes:\n  - name: local\n    path: /local/mcp\n    target: {upstream_url: '"+emu.InvocationURL("DEFAULT")+"'}\n"), 0o600)
	p := startProxy(t, nil, "serve", "--listen", "127.0.0.1:0", "--config", file)
	status, body := answerThenClose(t, stalledPost(t, strings.TrimPrefix(p.BaseURL, "http://"), "127.0.0.1", "/local/mcp"))
	if status != http.StatusRequestTimeout || !strings.Contains(body, "250ms") || !strings.Contains(body, "body_read_timeout in "+file) {
		t.Errorf("stalled body = %d %s, want 408 after 250ms naming body_read_timeout in %s", status, body, file)
	}
}

// TestLargeBodyWithinBodyReadTimeout sends a 100 MB body (AgentCore's
// limit) through the proxy with the default --body-read-timeout: it
// streams through whole, well within the bound.
func TestLargeBodyWithinBodyReadTimeout(t *testing.T) {
	const size = 100_000_000
	var got atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		got.Store(n)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"jsonrpc":"2.0","id":1,"result":{}}`)
	}))
	defer up.Close()
	p := startProxy(t, nil, "serve", "--listen", "127.0.0.1:0", "--upstream-url", up.URL+"/mcp")
	prefix := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"pad":"`
	suffix := `"}}`
	body := io.MultiReader(strings.NewReader(prefix), io.LimitReader(repeatReader('x'), size-int64(len(prefix)+len(suffix))), strings.NewReader(suffix))
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, p.MCPURL(), body)
	req.ContentLength = size
	req.Header.Set("Content-Type", "application/json")
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	took := time.Since(start)
	if resp.StatusCode != 200 || got.Load() != size {
		t.Errorf("100 MB body = %d, upstream got %d bytes; want 200 and %d", resp.StatusCode, got.Load(), size)
	}
	t.Logf("100 MB body through the proxy over loopback in %v (bound 30s)", took.Round(time.Millisecond))
	if took > 15*time.Second {
		t.Errorf("100 MB body took %v: too close to the default --body-read-timeout of 30s", took)
	}
}

// repeatReader reads b forever.
type repeatReader byte

func (r repeatReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r)
	}
	return len(p), nil
}

// TestStdioHugeEventStaysBounded runs the real binary's stdio front against
// an upstream that answers one SSE event of 600 × 1 MiB lines (the issue's
// attack, 1.1 GB of RSS before): with the default --max-line-bytes the
// request gets a JSON-RPC error, the next one works, and the process's
// peak RSS stays far below the event.
func TestStdioHugeEventStaysBounded(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("needs /proc to read the process's peak RSS")
	}
	line := "data: " + strings.Repeat("x", 1<<20) + "\n"
	var written atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			ID     json.RawMessage `json:"id"`
			Method string          `json:"method"`
		}
		json.NewDecoder(r.Body).Decode(&req)
		if req.Method != "tools/call" {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%s,"result":{}}`, req.ID)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		for range 600 {
			if _, err := io.WriteString(w, line); err != nil {
				return
			}
			written.Add(1)
		}
		io.WriteString(w, "\n")
	}))
	defer up.Close()
	cmd := exec.Command(binary(t), "stdio", "--upstream-url", up.URL+"/mcp")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	t.Cleanup(func() { secretScan(t, stderr.String()) })
	sc := bufio.NewScanner(stdout)
	sc.Buffer(nil, 1<<30) // room for an answer the front failed to refuse
	call := func(id int, method string) map[string]any {
		t.Helper()
		fmt.Fprintf(stdin, `{"jsonrpc":"2.0","id":%d,"method":%q,"params":{"name":"huge"}}`+"\n", id, method)
		if !sc.Scan() {
			t.Fatalf("stdout ended: %v\nstderr:\n%s", sc.Err(), stderr.String())
		}
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("stdout line is not JSON: %v", err)
		}
		return m
	}
	start := time.Now()
	got := call(1, "tools/call")
	took := time.Since(start)
	e, _ := got["error"].(map[string]any)
	if msg, _ := e["message"].(string); got["id"] != float64(1) || !strings.Contains(msg, "larger than 104857600 bytes") || !strings.Contains(msg, "--max-line-bytes") {
		t.Errorf("answer to a 600 MiB event = %.300v, want a JSON-RPC error for id 1 naming --max-line-bytes", got)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	var hwmKB int64
	for _, l := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			fmt.Sscan(strings.TrimSuffix(strings.TrimSpace(v), " kB"), &hwmKB)
		}
	}
	t.Logf("600 MiB event refused in %v; peak RSS %d MB; the upstream got %d MiB lines out", took.Round(time.Millisecond), hwmKB>>10, written.Load())
	if hwmKB == 0 || hwmKB > 200<<10 {
		t.Errorf("peak RSS of the stdio process = %d kB, want under 200 MB", hwmKB)
	}
	if got := call(2, "ping"); got["id"] != float64(2) || got["result"] == nil {
		t.Errorf("answer after the refusal = %v, want a result for id 2", got)
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Errorf("stdio exited with %v after stdin closed, want 0\nstderr:\n%s", err, stderr.String())
	}
}
