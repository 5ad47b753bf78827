package server

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentcore-proxy/agentcore-proxy/internal/config"
	"github.com/agentcore-proxy/agentcore-proxy/internal/emulator"
)

const (
	testCall  = `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`
	testReply = `{"jsonrpc":"2.0","id":1,"result":{"tools":[]}}`
	// The emulator's default client.
	emuClientID     = "demo-client-id"
	emuClientSecret = "demo-client-secret"
	// pollEvery spaces the polls of an endpoint that waits for a state.
	pollEvery = 10 * time.Millisecond
)

// testRoutes validates one route made of flags, with secret as
// AGENTCORE_PROXY_CLIENT_SECRET.
func testRoutes(t *testing.T, rf config.RouteFlags, secret string) []config.Resolved {
	t.Helper()
	rf.SecretInEnv = secret != ""
	if rf.RuntimeConfig == "" {
		rf.RuntimeConfig = config.RuntimeConfigOff // these tests are not about the runtime configuration
	}
	routes, err := config.FromFlags("127.0.0.1:0", rf).Validate(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if err := config.ReadSecrets(routes, func(string) string { return secret }); err != nil {
		t.Fatal(err)
	}
	return routes
}

// running is a Server serving on loopback ports picked by the kernel.
type running struct {
	base, metrics string // http://host:port; metrics is "" without a metrics listener
	client        *http.Client
	cancel        context.CancelFunc
	done          chan error
}

// serve runs s until the test ends (or stop is called).
func serve(t *testing.T, s *Server, lo ListenOptions) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{client: &http.Client{Timeout: 30 * time.Second}, cancel: cancel, done: make(chan error, 1)}
	bound := make(chan struct{})
	lo.Addr = "127.0.0.1:0"
	go func() {
		r.done <- s.Run(ctx, lo, func(addr, metricsAddr string) {
			r.base = "http://" + addr
			if metricsAddr != "" {
				r.metrics = "http://" + metricsAddr
			}
			close(bound)
		})
	}()
	select {
	case <-bound:
	case err := <-r.done:
		t.Fatalf("Run = %v before listening", err)
	}
	t.Cleanup(func() {
		r.stop(t)
		r.client.CloseIdleConnections()
	})
	return r
}

// stop cancels Run's context and returns what Run returns.
func (r *running) stop(t *testing.T) error {
	t.Helper()
	r.cancel()
	select {
	case err, ok := <-r.done:
		if ok {
			close(r.done)
		}
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return 30 s after its context ended")
		return nil
	}
}

func (r *running) get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := r.client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (r *running) post(t *testing.T, url, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := r.client.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// readyz is /readyz's answer.
type readyz struct {
	Ready    bool `json:"ready"`
	Draining bool `json:"draining"`
	Routes   map[string]struct {
		Ready  bool   `json:"ready"`
		Reason string `json:"reason"`
	} `json:"routes"`
}

func (r *running) readyz(t *testing.T, base string) (int, readyz) {
	t.Helper()
	code, body := r.get(t, base+"/readyz")
	var rz readyz
	if err := json.Unmarshal([]byte(body), &rz); err != nil {
		t.Fatalf("GET /readyz = %d %q: not JSON: %v", code, body, err)
	}
	return code, rz
}

// plainUpstream answers every call with testReply.
func plainUpstream(t *testing.T) *httptest.Server {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, testReply)
	}))
	t.Cleanup(up.Close)
	return up
}

// TestServeProbesRoutesAndStatus: one listener serves the route, /healthz,
// /readyz, /metrics, the status JSON and a 404 that lists the routes.
func TestServeProbesRoutesAndStatus(t *testing.T) {
	up := plainUpstream(t)
	s, err := New(t.Context(), testRoutes(t, config.RouteFlags{UpstreamURL: up.URL + "/mcp"}, ""), Options{Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	r := serve(t, s, ListenOptions{Drain: time.Second})

	if code, body := r.get(t, r.base+"/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("GET /healthz = %d %q, want 200 ok", code, body)
	}
	if code, rz := r.readyz(t, r.base); code != 200 || !rz.Ready || rz.Draining || !rz.Routes["default"].Ready {
		t.Errorf("GET /readyz = %d %+v, want 200, ready, not draining, route default ready", code, rz)
	}
	if code, body := r.post(t, r.base+"/mcp", testCall); code != 200 || body != testReply {
		t.Errorf("POST /mcp = %d %q, want 200 and the upstream's reply", code, body)
	}
	if code, body := r.get(t, r.base+"/nope"); code != 404 || !strings.Contains(body, "no route at /nope") || !strings.Contains(body, "/mcp") {
		t.Errorf("GET /nope = %d %q, want 404 naming the routes", code, body)
	}
	if code, body := r.get(t, r.base+"/metrics"); code != 200 || !strings.Contains(body, `agentcore_proxy_requests_total{`) {
		t.Errorf("GET /metrics = %d, want 200 with agentcore_proxy_requests_total:\n%.400s", code, body)
	}
	code, body := r.get(t, r.base+"/status")
	var st struct {
		Version string `json:"version"`
		Ready   bool   `json:"ready"`
		Routes  []struct {
			Name     string `json:"name"`
			Path     string `json:"path"`
			Target   string `json:"target"`
			Requests int64  `json:"requests"`
		} `json:"routes"`
	}
	if err := json.Unmarshal([]byte(body), &st); err != nil || code != 200 {
		t.Fatalf("GET /status = %d %q (%v), want 200 JSON", code, body, err)
	}
	if st.Version != "test" || !st.Ready || len(st.Routes) != 1 || st.Routes[0].Name != "default" || st.Routes[0].Path != "/mcp" ||
		st.Routes[0].Target != up.URL+"/mcp" || st.Routes[0].Requests != 1 {
		t.Errorf("GET /status = %+v, want version test, ready, route default at /mcp to %s/mcp with 1 request", st, up.URL)
	}
}

// TestReadyzWaitsForToken: a route with auth is ready once its token
// cache holds a token; with a wrong secret it stays unready, saying why
// without the secret.
func TestReadyzWaitsForToken(t *testing.T) {
	emu, err := emulator.Start(t.Context(), emulator.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	for _, tt := range []struct {
		name, secret string
		ready        bool
		wantReason   string
	}{
		{name: "good secret", secret: emuClientSecret, ready: true},
		{name: "wrong secret", secret: "wrong-secret-value-0123", wantReason: "invalid_client"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			routes := testRoutes(t, config.RouteFlags{RuntimeARN: emu.RuntimeARN(), EndpointURL: emu.EndpointURL(),
				DiscoveryURL: emu.DiscoveryURL(), ClientID: emuClientID}, tt.secret)
			s, err := New(t.Context(), routes, Options{})
			if err != nil {
				t.Fatal(err)
			}
			r := serve(t, s, ListenOptions{Drain: time.Second})
			var (
				code int
				rz   readyz
			)
			// Poll until the first fetch has an outcome.
			for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); {
				code, rz = r.readyz(t, r.base)
				if rz.Ready || rz.Routes["default"].Reason != "no valid access token yet" {
					break
				}
				<-time.After(pollEvery)
			}
			if rz.Ready != tt.ready || (code == 200) != tt.ready {
				t.Fatalf("GET /readyz = %d %+v, want ready %v", code, rz, tt.ready)
			}
			reason := rz.Routes["default"].Reason
			if !strings.Contains(reason, tt.wantReason) || strings.Contains(reason, tt.secret) {
				t.Errorf("readiness reason = %q, want it to contain %q and never the secret", reason, tt.wantReason)
			}
		})
	}
}

// TestMetricsListener: with a metrics listener, /metrics and the probes
// are served there (behind its own Host check) and not on the main one.
func TestMetricsListener(t *testing.T) {
	up := plainUpstream(t)
	s, err := New(t.Context(), testRoutes(t, config.RouteFlags{UpstreamURL: up.URL + "/mcp"}, ""), Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := serve(t, s, ListenOptions{Drain: time.Second, MetricsAddr: "127.0.0.1:0"})
	if r.metrics == "" {
		t.Fatal("started reported no metrics address")
	}
	r.post(t, r.base+"/mcp", testCall)
	if code, body := r.get(t, r.metrics+"/metrics"); code != 200 || !strings.Contains(body, `agentcore_proxy_requests_total{`) {
		t.Errorf("GET metrics /metrics = %d, want 200 with agentcore_proxy_requests_total", code)
	}
	if code, _ := r.get(t, r.base+"/metrics"); code != 404 {
		t.Errorf("GET main /metrics = %d, want 404: metrics are on their own listener", code)
	}
	if code, rz := r.readyz(t, r.metrics); code != 200 || !rz.Ready {
		t.Errorf("GET metrics /readyz = %d %+v, want 200 ready", code, rz)
	}
	req, _ := http.NewRequest(http.MethodGet, r.metrics+"/metrics", nil)
	req.Host = "rebound.example.com"
	resp, err := r.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("GET metrics /metrics with Host rebound.example.com = %d, want 403", resp.StatusCode)
	}
}

// TestDrain: when Run's context ends, /readyz on the metrics listener
// turns 503 draining at once while an open stream finishes; then Run
// returns.
func TestDrain(t *testing.T) {
	arrived, release := make(chan struct{}), make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		close(arrived)
		<-release
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, testReply)
	}))
	t.Cleanup(up.Close)
	s, err := New(t.Context(), testRoutes(t, config.RouteFlags{UpstreamURL: up.URL + "/mcp"}, ""), Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := serve(t, s, ListenOptions{Drain: 30 * time.Second, MetricsAddr: "127.0.0.1:0"})
	type answer struct {
		code int
		body string
	}
	got := make(chan answer, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, r.base+"/mcp", strings.NewReader(testCall))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		resp, err := r.client.Do(req)
		if err != nil {
			got <- answer{body: err.Error()}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- answer{resp.StatusCode, string(b)}
	}()
	<-arrived
	r.cancel()
	var rz readyz
	code := 0
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); <-time.After(pollEvery) {
		if code, rz = r.readyz(t, r.metrics); rz.Draining {
			break
		}
	}
	if code != http.StatusServiceUnavailable || rz.Ready || !rz.Draining {
		t.Fatalf("metrics /readyz while draining = %d %+v, want 503 draining", code, rz)
	}
	select {
	case err := <-r.done:
		t.Fatalf("Run returned (%v) while a request was open within the drain time", err)
	default:
	}
	close(release)
	if a := <-got; a.code != 200 || a.body != testReply {
		t.Errorf("the open request got %d %q, want 200 and the reply: draining lets it finish", a.code, a.body)
	}
	if err := r.stop(t); err != nil {
		t.Errorf("Run = %v, want nil after a drain", err)
	}
	if _, err := http.Get(r.base + "/healthz"); err == nil {
		t.Errorf("the main listener still answers after Run returned")
	}
}

// TestDrainTimeCancelsStreams: a request still open when the drain time is
// up is cancelled (its upstream request's context ends), and Run returns.
func TestDrainTimeCancelsStreams(t *testing.T) {
	arrived := make(chan struct{})
	var cancelled atomic.Bool
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		close(arrived)
		<-r.Context().Done()
		cancelled.Store(true)
	}))
	t.Cleanup(up.Close)
	s, err := New(t.Context(), testRoutes(t, config.RouteFlags{UpstreamURL: up.URL + "/mcp"}, ""), Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := serve(t, s, ListenOptions{Drain: 50 * time.Millisecond})
	req, _ := http.NewRequest(http.MethodGet, r.base+"/mcp", nil)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := r.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	<-arrived
	if err := r.stop(t); err != nil {
		t.Errorf("Run = %v, want nil after cancelling the open stream", err)
	}
	io.ReadAll(resp.Body) // ends, cut short or not, once the stream is cancelled
	up.Close()            // waits for the upstream handler, which returns once cancelled
	if !cancelled.Load() {
		t.Errorf("the upstream request was not cancelled when the drain time was up")
	}
}

// TestListenError: Run on an address in use returns a *ListenError naming
// it, without calling started.
func TestListenError(t *testing.T) {
	up := plainUpstream(t)
	s, err := New(t.Context(), testRoutes(t, config.RouteFlags{UpstreamURL: up.URL + "/mcp"}, ""), Options{})
	if err != nil {
		t.Fatal(err)
	}
	taken := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(taken.Close)
	addr := strings.TrimPrefix(taken.URL, "http://")
	err = s.Run(t.Context(), ListenOptions{Addr: addr}, func(string, string) { t.Error("started called though listening failed") })
	var le *ListenError
	if !errors.As(err, &le) || le.Addr != addr || le.Metrics {
		t.Errorf("Run on a taken address = %v, want a *ListenError for %s", err, addr)
	}
}

// TestRunFront: RunFront hands the front the route's handler, the one the
// listener mounts, and refuses a route it lacks.
func TestRunFront(t *testing.T) {
	up := plainUpstream(t)
	s, err := New(t.Context(), testRoutes(t, config.RouteFlags{UpstreamURL: up.URL + "/mcp"}, ""), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var body string
	err = s.RunFront(FrontOptions{Route: "default"}, func(h http.Handler) error {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, "/mcp", strings.NewReader(testCall))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		h.ServeHTTP(rec, req)
		body = rec.Body.String()
		return nil
	})
	if err != nil || body != testReply {
		t.Errorf("RunFront(default) = %v, front got %q; want nil and the upstream's reply", err, body)
	}

	s2, err := New(t.Context(), testRoutes(t, config.RouteFlags{UpstreamURL: up.URL + "/mcp"}, ""), Options{})
	if err != nil {
		t.Fatal(err)
	}
	called := false
	if err := s2.RunFront(FrontOptions{Route: "other"}, func(http.Handler) error { called = true; return nil }); !errors.Is(err, ErrNoRoute) || called {
		t.Errorf("RunFront(other) = %v (front called: %v), want ErrNoRoute without calling the front", err, called)
	}
}
