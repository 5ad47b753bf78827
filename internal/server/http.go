package server

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"strings"
	"time"

	"github.com/agentcore-proxy/agentcore-proxy/internal/drain"
	"github.com/agentcore-proxy/agentcore-proxy/internal/route"
	"github.com/agentcore-proxy/agentcore-proxy/internal/statuspage"
	"github.com/agentcore-proxy/agentcore-proxy/proxy"
)

// handler routes requests: each route's path, /healthz, /readyz, /metrics
// (unless it has a listener of its own), the status page at / and /status,
// and a JSON 404 that lists the routes for anything else.
func (s *Server) handler(withMetrics bool) http.Handler {
	mux := http.NewServeMux()
	for _, r := range s.routes {
		mux.Handle(r.Path, r.Handler)
	}
	mux.HandleFunc("GET /healthz", healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	if withMetrics {
		mux.Handle("GET /metrics", s.metrics.handler())
	}
	page := statuspage.Handler(s.snapshot)
	mux.Handle("GET /{$}", page)
	mux.Handle("GET /status", page)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		var paths []string
		for _, rt := range s.routes {
			paths = append(paths, rt.Path)
		}
		proxy.WriteError(w, http.StatusNotFound, nil, proxy.CodeInvalidRequest,
			fmt.Sprintf("agentcore-proxy: no route at %s; MCP endpoints here: %s", r.URL.Path, strings.Join(paths, ", ")))
	})
	return mux
}

// readyz answers 200 when every route that needs a token holds a valid one.
func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	ready := !s.draining.Load()
	report := map[string]route.Readiness{}
	for _, r := range s.routes {
		rr := route.Readiness{Ready: true}
		if r.SigV4 != nil {
			rr = r.SigV4.Readiness()
			rr.Reason = s.opts.Redactor.Redact(rr.Reason)
		}
		if st, ok := r.TokenState(); ok {
			rr = route.Readiness{Ready: st.Valid, ExpiresAt: st.ExpiresAt, Fingerprint: st.Fingerprint}
			if !st.Valid {
				rr.Reason = "no valid access token yet"
				if st.LastError != nil {
					rr.Reason = s.opts.Redactor.Redact(st.LastError.Error())
				}
			}
		}
		ready = ready && rr.Ready
		report[r.Name] = rr
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if !ready {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	json.NewEncoder(w).Encode(map[string]any{"ready": ready, "draining": s.draining.Load(), "routes": report})
}

// ListenOptions say where and how Run serves. Zero durations and sizes
// take the defaults.
type ListenOptions struct {
	// Addr is host:port or unix:/path.
	Addr string
	// MetricsAddr, if set, serves /metrics and the probes on a listener of
	// their own; "" serves /metrics on Addr.
	MetricsAddr string
	// Drain is how long open requests may finish after ctx is done.
	Drain time.Duration
	// Guard, if set, checks every request on Addr.
	Guard *Guard
	// MetricsGuard checks every request on MetricsAddr; nil: one with
	// GuardConfig.Metrics and nothing else allowed.
	MetricsGuard *Guard
	// Pprof serves net/http/pprof's /debug/pprof/ on MetricsAddr (only
	// there).
	Pprof bool

	ReadHeaderTimeout, IdleTimeout time.Duration
	MaxHeaderBytes                 int
	// BodyReadTimeout bounds how long a request body may take to arrive,
	// on both listeners (proxy.LimitBodyRead); default 30 s.
	BodyReadTimeout time.Duration
}

// DefaultBodyReadTimeout is ListenOptions.BodyReadTimeout's default: a
// 100 MB body (AgentCore's limit) takes about a second over loopback.
const DefaultBodyReadTimeout = 30 * time.Second

// ListenError is a failure to listen on one of the addresses.
type ListenError struct {
	// Metrics says it was ListenOptions.MetricsAddr, not Addr.
	Metrics bool
	Addr    string
	Err     error
}

func (e *ListenError) Error() string { return fmt.Sprintf("listening on %q: %v", e.Addr, e.Err) }
func (e *ListenError) Unwrap() error { return e.Err }

// Run listens, calls started with the bound addresses, and serves until ctx
// is done; then it stops accepting, lets open requests finish for up to the
// drain time, cancels the rest, and waits for the token caches to stop.
func (s *Server) Run(ctx context.Context, lo ListenOptions, started func(addr, metricsAddr string)) error {
	defer s.auth.CloseIdleConnections()
	ln, err := listen(lo.Addr)
	if err != nil {
		s.stop()
		return &ListenError{Addr: lo.Addr, Err: err}
	}
	if network, path := ListenNetwork(lo.Addr); network == "unix" {
		defer os.Remove(path)
	}
	bodyRead := cmp.Or(lo.BodyReadTimeout, DefaultBodyReadTimeout)
	metricsBound := ""
	if lo.MetricsAddr != "" {
		mln, err := net.Listen("tcp", lo.MetricsAddr)
		if err != nil {
			ln.Close()
			s.stop()
			return &ListenError{Metrics: true, Addr: lo.MetricsAddr, Err: err}
		}
		mh := metricsGuard(lo.MetricsGuard).Wrap(s.metricsHandler(lo.Pprof))
		msrv := &http.Server{Handler: proxy.LimitBodyRead(mh, bodyRead), ReadHeaderTimeout: 10 * time.Second}
		go msrv.Serve(mln)
		defer msrv.Close()
		metricsBound = mln.Addr().String()
		s.logger.Info("metrics listening", "addr", metricsBound)
	}
	// Request contexts derive from base, which is cancelled when the drain
	// time is up so that streams end instead of holding Shutdown forever.
	base, cancelBase := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelBase()
	handler := s.handler(lo.MetricsAddr == "")
	if lo.Guard != nil {
		handler = lo.Guard.Wrap(handler)
	}
	// Outermost: the guard and the 404 answer without reading the body.
	handler = proxy.LimitBodyRead(handler, bodyRead)
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: cmp.Or(lo.ReadHeaderTimeout, 10*time.Second),
		IdleTimeout:       cmp.Or(lo.IdleTimeout, 2*time.Minute),
		MaxHeaderBytes:    cmp.Or(lo.MaxHeaderBytes, 1<<20),
		BaseContext:       func(net.Listener) context.Context { return base },
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
	}
	bound := ln.Addr().String()
	if ln.Addr().Network() == "unix" {
		bound = "unix:" + bound
	}
	drain.CloseUnusedOnShutdown(srv)
	started(bound, metricsBound)
	s.logger.Info("listening", "addr", ln.Addr().String(), "routes", len(s.routes))
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		s.stop()
		return fmt.Errorf("serving on %s: %w", lo.Addr, err)
	case <-ctx.Done():
	}
	s.draining.Store(true)
	s.logger.Info("shutting down", "drain_timeout", lo.Drain.String())
	dctx, cancel := context.WithTimeout(context.Background(), lo.Drain)
	defer cancel()
	if err := srv.Shutdown(dctx); err != nil {
		s.logger.Warn("drain time up; cancelling open requests", "err", err)
		cancelBase()
		srv.Close()
	}
	<-errc
	s.upstream.CloseIdleConnections()
	s.stop()
	s.auth.Wait()
	return nil
}

// metricsHandler serves --metrics-listen: /metrics and the probes. This
// listener stays up while the main one drains, so that /readyz reports the
// drain to probes at once.
func (s *Server) metricsHandler(withPprof bool) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", s.metrics.handler())
	mux.HandleFunc("GET /healthz", healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	if withPprof {
		// Only here: the metrics listener is the operator's port, never the
		// one MCP clients (or a browser page) reach.
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return mux
}

// metricsGuard returns g, or the default guard of a metrics listener.
func metricsGuard(g *Guard) *Guard {
	if g == nil {
		return NewGuard(GuardConfig{Metrics: true})
	}
	return g
}

func healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintln(w, "ok")
}

// ListenNetwork splits "unix:/path" from a TCP host:port.
func ListenNetwork(listen string) (network, addr string) {
	if path, ok := strings.CutPrefix(listen, "unix:"); ok {
		return "unix", path
	}
	return "tcp", listen
}

// listen opens a TCP address, or a unix socket for "unix:/path" (see
// listenUnix).
func listen(addr string) (net.Listener, error) {
	network, path := ListenNetwork(addr)
	if network == "tcp" {
		return net.Listen("tcp", addr)
	}
	return listenUnix(path)
}
