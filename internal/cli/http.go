package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/agentcore-proxy/agentcore-proxy/internal/drain"
	"github.com/agentcore-proxy/agentcore-proxy/internal/statuspage"
	"github.com/agentcore-proxy/agentcore-proxy/proxy"
)

// handler routes requests: each route's path, /healthz, /readyz, /metrics
// (unless it has a listener of its own), the status page at / and /status,
// and a JSON 404 that lists the routes for anything else.
func (s *server) handler(withMetrics bool) http.Handler {
	mux := http.NewServeMux()
	for _, r := range s.routes {
		mux.Handle(r.Path, r.handler)
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

type routeReadiness struct {
	Ready       bool      `json:"ready"`
	Reason      string    `json:"reason,omitempty"`
	ExpiresAt   time.Time `json:"token_expires_at,omitzero"`
	Fingerprint string    `json:"token_fingerprint,omitempty"`
}

// readyz answers 200 when every route that needs a token holds a valid one.
func (s *server) readyz(w http.ResponseWriter, _ *http.Request) {
	ready := !s.draining.Load()
	report := map[string]routeReadiness{}
	for _, r := range s.routes {
		rr := routeReadiness{Ready: true}
		if r.tokens != nil {
			st := r.tokens.State()
			rr = routeReadiness{Ready: st.Valid, ExpiresAt: st.ExpiresAt, Fingerprint: st.Fingerprint}
			if !st.Valid {
				rr.Reason = "no valid access token yet"
				if st.LastError != nil {
					rr.Reason = st.LastError.Error()
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

// listenOptions say where and how run serves.
type listenOptions struct {
	addr        string // host:port or unix:/path
	metricsAddr string // "" serves /metrics on addr
	drain       time.Duration
	guard       *guard

	readHeaderTimeout, idleTimeout time.Duration
	maxHeaderBytes                 int
}

// run listens, calls started with the bound address, and serves until ctx
// is done; then it stops accepting, lets open requests finish for up to
// the drain time, cancels the rest, and waits for the token caches to stop.
func (s *server) run(ctx context.Context, lo listenOptions, started func(addr, metricsAddr string)) error {
	ln, err := listen(lo.addr)
	if err != nil {
		s.stop()
		return fmt.Errorf("--listen %q: %w", lo.addr, err)
	}
	if network, path := listenNetwork(lo.addr); network == "unix" {
		defer os.Remove(path)
	}
	metricsBound := ""
	if lo.metricsAddr != "" {
		mln, err := net.Listen("tcp", lo.metricsAddr)
		if err != nil {
			ln.Close()
			s.stop()
			return fmt.Errorf("--metrics-listen %q: %w", lo.metricsAddr, err)
		}
		msrv := &http.Server{Handler: s.metricsHandler(), ReadHeaderTimeout: 10 * time.Second}
		go msrv.Serve(mln)
		defer msrv.Close()
		metricsBound = mln.Addr().String()
		s.logger.Info("metrics listening", "addr", metricsBound)
	}
	// Request contexts derive from base, which is cancelled when the drain
	// time is up so that streams end instead of holding Shutdown forever.
	base, cancelBase := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelBase()
	handler := s.handler(lo.metricsAddr == "")
	if lo.guard != nil {
		handler = lo.guard.wrap(handler)
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: cmp.Or(lo.readHeaderTimeout, 10*time.Second),
		IdleTimeout:       cmp.Or(lo.idleTimeout, 2*time.Minute),
		MaxHeaderBytes:    cmp.Or(lo.maxHeaderBytes, 1<<20),
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
		return fmt.Errorf("serving on %s: %w", lo.addr, err)
	case <-ctx.Done():
	}
	s.draining.Store(true)
	s.logger.Info("shutting down", "drain_timeout", lo.drain.String())
	dctx, cancel := context.WithTimeout(context.Background(), lo.drain)
	defer cancel()
	if err := srv.Shutdown(dctx); err != nil {
		s.logger.Warn("drain time up; cancelling open requests", "err", err)
		cancelBase()
		srv.Close()
	}
	<-errc
	s.upstream.CloseIdleConnections()
	s.stop()
	for _, c := range s.caches {
		<-c.Done()
	}
	return nil
}

// metricsHandler serves --metrics-listen: /metrics and the probes. This
// listener stays up while the main one drains, so that /readyz reports the
// drain to probes at once.
func (s *server) metricsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", s.metrics.handler())
	mux.HandleFunc("GET /healthz", healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	return mux
}

func healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintln(w, "ok")
}

// listen opens a TCP address, or a unix socket for "unix:/path" with mode
// 0600 so that only this user can connect. A stale socket file is removed
// first; any other file at the path is an error.
func listen(addr string) (net.Listener, error) {
	network, path := listenNetwork(addr)
	if network == "tcp" {
		return net.Listen("tcp", addr)
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("%s exists and is not a socket: remove it or choose another path", path)
		}
		os.Remove(path)
	}
	// The umask makes the socket private from the start; chmod makes sure.
	old := syscall.Umask(0o177)
	ln, err := net.Listen("unix", path)
	syscall.Umask(old)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}
