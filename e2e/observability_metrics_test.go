package e2e

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/agentcore-proxy/agentcore-proxy/internal/emulator"
)

func TestMetricsCountScriptedTraffic(t *testing.T) {
	emu := startEmulator(t, emulator.Config{})
	p := startProxy(t, secretEnv, proxyFlags(emu)...)
	for i := range 50 {
		resp, reply := postRPC(t, p.MCPURL(), addCall(i), nil)
		wantSum(t, resp, reply, i)
	}
	postRPC(t, p.MCPURL(), `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, nil)
	postRPC(t, p.MCPURL(), `{"jsonrpc":"2.0","method":"notifications/initialized"}`, nil)
	emu.SetAuthorizer(emulator.Authorizer{AllowedClients: []string{"someone-else"}})
	postRPC(t, p.MCPURL(), addCall(99), nil)

	const want = `
# HELP agentcore_proxy_requests_total Answered requests by route, MCP method (none for GET and DELETE) and HTTP status.
# TYPE agentcore_proxy_requests_total counter
agentcore_proxy_requests_total{code="200",mcp_method="tools/call",route="default"} 50
agentcore_proxy_requests_total{code="200",mcp_method="tools/list",route="default"} 1
agentcore_proxy_requests_total{code="202",mcp_method="notifications/*",route="default"} 1
agentcore_proxy_requests_total{code="401",mcp_method="tools/call",route="default"} 1
# HELP agentcore_proxy_token_fetches_total Token fetches by route and result (success or error).
# TYPE agentcore_proxy_token_fetches_total counter
agentcore_proxy_token_fetches_total{result="success",route="default"} 1
# HELP agentcore_proxy_token_refreshes_total Token fetches by trigger: cold (none held), ahead (background refresh), on_401 (the upstream refused it), retry (after a failure).
# TYPE agentcore_proxy_token_refreshes_total counter
agentcore_proxy_token_refreshes_total{route="default",trigger="cold"} 1
# HELP agentcore_proxy_upstream_errors_total Upstream error answers the proxy explained, by route and diagnosis reason.
# TYPE agentcore_proxy_upstream_errors_total counter
agentcore_proxy_upstream_errors_total{reason="claim_client_id",route="default"} 1
# HELP agentcore_proxy_open_streams Event-stream answers in progress.
# TYPE agentcore_proxy_open_streams gauge
agentcore_proxy_open_streams{route="default"} 0
# HELP agentcore_proxy_inflight_requests Requests being handled.
# TYPE agentcore_proxy_inflight_requests gauge
agentcore_proxy_inflight_requests{route="default"} 0
`
	if err := testutil.ScrapeAndCompare(p.BaseURL+"/metrics", strings.NewReader(want),
		"agentcore_proxy_requests_total", "agentcore_proxy_token_fetches_total", "agentcore_proxy_token_refreshes_total",
		"agentcore_proxy_upstream_errors_total", "agentcore_proxy_open_streams", "agentcore_proxy_inflight_requests"); err != nil {
		t.Error(err)
	}
	body := scrape(t, p.BaseURL+"/metrics")
	for _, w := range []string{
		`agentcore_proxy_request_duration_seconds_count{mcp_method="tools/call",route="default"} 51`,
		`agentcore_proxy_time_to_first_byte_seconds_count{mcp_method="tools/call",route="default"} 51`,
		`agentcore_proxy_token_fetch_duration_seconds_count{route="default"} 1`,
		`agentcore_proxy_build_info{goversion="go1.`,
		`agentcore_proxy_jwks_refreshes_total{result="success",route="default"} 1`,
		"go_goroutines ", "process_resident_memory_bytes ",
	} {
		if !strings.Contains(body, w) {
			t.Errorf("/metrics lacks %q", w)
		}
	}
	checkMetricList(t, body)
	if !strings.Contains(body, "agentcore_proxy_token_expiry_timestamp_seconds{route=\"default\"} 1.") {
		t.Errorf("token expiry gauge not set:\n%s", grepLines(body, "expiry"))
	}
}

func scrape(t *testing.T, url string) string {
	t.Helper()
	_, body := httpGet(t, url)
	return body
}

// httpGet GETs url and returns the status and body.
func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestMetricsCardinalityBounded sends 10,000 requests with random tool
// names, paths and session ids: the number of series must stay bounded.
func TestMetricsCardinalityBounded(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Mcp-Session-Id", fmt.Sprintf("s%d", rand.Int64()))
		io.WriteString(w, `{"jsonrpc":"2.0","id":1,"result":{}}`)
	}))
	t.Cleanup(upstream.Close)
	const maxTools = 20
	p := startProxy(t, nil, "serve", "--listen", "127.0.0.1:0", "--log-format", "json", "--upstream-url", upstream.URL+"/mcp",
		"--metrics-tool-names", "--metrics-max-tool-names", fmt.Sprint(maxTools))
	methods := []string{"tools/call", "tools/list", "initialize", "resources/read", "prompts/get", "ping", "notifications/cancelled", "x/custom", "sampling/whatever"}
	const total, workers = 10_000, 8
	var wg sync.WaitGroup
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	for w := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for i := w; i < total; i += workers {
				path := "/mcp"
				if i%10 == 0 {
					path = fmt.Sprintf("/random/%d/mcp", rng.Int64())
				}
				body := fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":%q,"params":{"name":"tool-%d"}}`, i, methods[rng.IntN(len(methods))], rng.Int64())
				req, _ := http.NewRequest(http.MethodPost, p.BaseURL+path, strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Accept", "application/json, text/event-stream")
				req.Header.Set("Mcp-Session-Id", fmt.Sprintf("session-%d", rng.Int64()))
				resp, err := client.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
	series := map[string]int{}
	scraped := scrape(t, p.BaseURL+"/metrics")
	checkMetricList(t, scraped)
	sc := bufio.NewScanner(strings.NewReader(scraped))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "agentcore_proxy_") {
			name, _, _ := strings.Cut(line, "{")
			series[name]++
		}
	}
	n := 0
	for _, c := range series {
		n += c
	}
	// Tool series: at most the cap plus "other". Requests: 9 methods map to
	// 7 labels, one status each. Histograms: 17 series (15 buckets + sum +
	// count) per label, two histograms.
	bounds := map[string]int{
		"agentcore_proxy_tool_calls_total":                  maxTools + 1,
		"agentcore_proxy_requests_total":                    9,
		"agentcore_proxy_request_duration_seconds_bucket":   9 * 16,
		"agentcore_proxy_time_to_first_byte_seconds_bucket": 9 * 16,
		"agentcore_proxy_request_duration_seconds_sum":      9,
		"agentcore_proxy_request_duration_seconds_count":    9,
		"agentcore_proxy_time_to_first_byte_seconds_sum":    9,
		"agentcore_proxy_time_to_first_byte_seconds_count":  9,
	}
	for name, c := range series {
		if b, ok := bounds[name]; ok && c > b {
			t.Errorf("%s has %d series after 10,000 random requests, want at most %d", name, c, b)
		}
	}
	const maxSeries = 400
	if n > maxSeries {
		t.Errorf("agentcore_proxy_* series = %d, want at most %d: %v", n, maxSeries, series)
	}
	t.Logf("series after %d requests with random tool names, paths and session ids: %d agentcore_proxy_* (%d tool series)", total, n, series["agentcore_proxy_tool_calls_total"])
}

// checkMetricList asserts that every agentcore_proxy_ family in a scrape is
// in deploy/testdata/metrics.txt, the list the dashboard and alerts are
// checked against, with its type and labels.
func checkMetricList(t *testing.T, scraped string) {
	t.Helper()
	raw, err := os.ReadFile("../deploy/testdata/metrics.txt")
	if err != nil {
		t.Fatal(err)
	}
	type family struct {
		typ    string
		labels map[string]bool
	}
	listed := map[string]family{}
	for _, line := range strings.Split(string(raw), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || strings.HasPrefix(line, "#") {
			continue
		}
		fam := family{typ: f[1], labels: map[string]bool{}}
		for _, l := range f[2:] {
			fam.labels[l] = true
		}
		listed[f[0]] = fam
	}
	labelRe := regexp.MustCompile(`([a-z_]+)="`)
	for _, line := range strings.Split(scraped, "\n") {
		if rest, ok := strings.CutPrefix(line, "# TYPE agentcore_proxy_"); ok {
			name, typ, _ := strings.Cut(rest, " ")
			if fam, ok := listed["agentcore_proxy_"+name]; !ok || fam.typ != typ {
				t.Errorf("agentcore_proxy_%s (%s) is not in deploy/testdata/metrics.txt with that type", name, typ)
			}
			continue
		}
		if !strings.HasPrefix(line, "agentcore_proxy_") {
			continue
		}
		name, labels, _ := strings.Cut(line, "{")
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if base, ok := strings.CutSuffix(name, suffix); ok && listed[base].typ == "histogram" {
				name = base
			}
		}
		for _, m := range labelRe.FindAllStringSubmatch(labels, -1) {
			if m[1] != "le" && !listed[name].labels[m[1]] {
				t.Errorf("%s has label %s, not listed in deploy/testdata/metrics.txt", name, m[1])
			}
		}
	}
}
