package server

import (
	"errors"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/agentcore-proxy/agentcore-proxy/internal/statuspage"
	"github.com/agentcore-proxy/agentcore-proxy/proxy"
)

// recoveryResults are proxy's recovery outcomes, in the order the status
// page lists them.
var recoveryResults = []string{proxy.RecoveryRecovered, proxy.RecoveryFailed, proxy.RecoveryLostAgain, proxy.RecoveryNotReplayable}

// recoveryCounts counts session recoveries per route and result for the
// status page; the metric counts them for Prometheus.
type recoveryCounts struct {
	mu sync.Mutex
	n  map[string]map[string]int64 // route -> result -> count
}

func (c *recoveryCounts) add(route, result string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]map[string]int64{}
	}
	if c.n[route] == nil {
		c.n[route] = map[string]int64{}
	}
	c.n[route][result]++
}

func (c *recoveryCounts) get(route string) map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int64, len(recoveryResults))
	for _, r := range recoveryResults {
		out[r] = c.n[route][r]
	}
	return out
}

// onRecovery returns the proxy hook that counts route's session recoveries
// (the proxy logs each one itself).
func (s *Server) onRecovery(route string) func(string) {
	return func(result string) {
		s.metrics.recoveries.WithLabelValues(route, result).Inc()
		s.recoveries.add(route, result)
	}
}

// ErrNoRoute is returned by RunFront for a route name the server lacks.
var ErrNoRoute = errors.New("server: no such route")

// FrontOptions say how RunFront serves.
type FrontOptions struct {
	// Route names the route whose handler the front gets.
	Route string
	// MetricsAddr, if set, serves /metrics, /healthz, /readyz and the
	// status page on this TCP address while the front runs.
	MetricsAddr string
	// Pprof serves net/http/pprof's /debug/pprof/ on MetricsAddr.
	Pprof bool
	// MetricsGuard checks every request on MetricsAddr; nil: one with
	// GuardConfig.Metrics and nothing else allowed.
	MetricsGuard *Guard
	// Started, if set, is called with the bound metrics address ("" when
	// MetricsAddr is empty) before the front starts.
	Started func(metricsAddr string)
}

// RunFront serves one route through a front of the caller's instead of a
// listener: it calls front with the route's handler (the same one serve
// mounts, with tokens, checks, diagnosis, recovery and metrics, but no
// inbound guard: nothing reaches it over the network) and returns what
// front returns, after stopping the token caches. The front watches its own
// context and drains its own calls. Only the optional metrics listener is
// opened.
func (s *Server) RunFront(fo FrontOptions, front func(http.Handler) error) error {
	defer s.auth.CloseIdleConnections()
	defer func() {
		s.upstream.CloseIdleConnections()
		s.stop()
		s.auth.Wait()
	}()
	var h http.Handler
	for _, r := range s.routes {
		if r.Name == fo.Route {
			h = r.Handler
		}
	}
	if h == nil {
		return ErrNoRoute
	}
	bound := ""
	if fo.MetricsAddr != "" {
		ln, err := net.Listen("tcp", fo.MetricsAddr)
		if err != nil {
			return &ListenError{Metrics: true, Addr: fo.MetricsAddr, Err: err}
		}
		mux := http.NewServeMux()
		mux.Handle("/", s.metricsHandler(fo.Pprof))
		page := statuspage.Handler(s.snapshot)
		mux.Handle("GET /{$}", page)
		mux.Handle("GET /status", page)
		msrv := &http.Server{Handler: proxy.LimitBodyRead(metricsGuard(fo.MetricsGuard).Wrap(mux), DefaultBodyReadTimeout), ReadHeaderTimeout: 10 * time.Second}
		go msrv.Serve(ln)
		defer msrv.Close()
		bound = ln.Addr().String()
		s.logger.Info("metrics listening", "addr", bound)
	}
	if fo.Started != nil {
		fo.Started(bound)
	}
	err := front(h)
	s.draining.Store(true)
	return err
}
