package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/agentcore-proxy/agentcore-proxy/internal/config"
	"github.com/agentcore-proxy/agentcore-proxy/jwtcheck"
	"github.com/agentcore-proxy/agentcore-proxy/proxy"
	"github.com/agentcore-proxy/agentcore-proxy/tokencache"
)

// server is the running proxy: one handler per route, their token caches,
// and the health endpoints.
type server struct {
	routes []*route
	caches []*tokencache.Cache
	logger *slog.Logger
	// stop ends the token caches' lifetime; run calls it after draining.
	stop context.CancelFunc
	// upstream is shared by every route so that routes to one AgentCore
	// host share connections; run closes its idle ones at the end.
	upstream *http.Transport
	metrics  *metrics
}

type route struct {
	config.Resolved
	handler http.Handler
	tokens  *tokencache.Cache // nil for routes without auth
}

// discoveryTimeout bounds each discovery fetch at start-up.
const discoveryTimeout = 15 * time.Second

// newServer discovers each route's token endpoint, builds one token cache
// per (token URL, client id, scopes), and one proxy per route. ctx bounds
// start-up; the token caches live until run has drained the server, so that
// requests finishing after a signal still get tokens. Every problem is
// reported, each naming its setting.
func newServer(ctx context.Context, routes []config.Resolved, logger *slog.Logger) (_ *server, err error) {
	life, stop := context.WithCancel(context.WithoutCancel(ctx))
	defer func() {
		if err != nil {
			stop()
		}
	}()
	s := &server{logger: logger, stop: stop, upstream: proxy.NewTransport(), metrics: newMetrics()}
	client := &http.Client{Timeout: discoveryTimeout, Transport: proxy.NewTransport()}
	defer client.CloseIdleConnections()
	discovered := map[string]*tokencache.Discovery{}
	caches := map[string]*tokencache.Cache{}
	var errs []error
	for _, r := range routes {
		rt := &route{Resolved: r}
		var err error
		if a := r.Auth; a != nil {
			rt.tokens, err = s.tokenCache(ctx, life, r, client, discovered, caches)
			if err != nil {
				errs = append(errs, err)
				continue
			}
		}
		opts := proxy.Options{
			Route:     r.Name,
			Target:    r.Upstream,
			UserAgent: UserAgent(),
			Transport: s.upstream,
			Logger:    logger,
			Upstream:  upstreamContext(r),

			OnDiagnosis: s.metrics.onDiagnosis(r.Name),
		}
		if rt.tokens != nil {
			opts.Tokens = rt.tokens
		}
		p, err := proxy.New(opts)
		if err != nil {
			errs = append(errs, fmt.Errorf("route %s: %w", r.Name, err))
			continue
		}
		rt.handler = p
		s.routes = append(s.routes, rt)
	}
	if err := errors.Join(errs...); err != nil {
		for _, c := range s.caches {
			stop()
			<-c.Done()
		}
		return nil, err
	}
	for _, c := range s.caches {
		c.Warm()
	}
	return s, nil
}

// tokenCache returns the token cache for route r, shared with earlier routes
// that have the same token URL, client, scopes and authorizer rules. Each
// fetched token is checked against the rules before it is cached. ctx bounds
// discovery; the cache and key set live as long as life.
func (s *server) tokenCache(ctx, life context.Context, r config.Resolved, client *http.Client, discovered map[string]*tokencache.Discovery, caches map[string]*tokencache.Cache) (*tokencache.Cache, error) {
	a := r.Auth
	d, err := discover(ctx, client, a, discovered)
	if err != nil {
		return nil, err
	}
	cfg, err := cacheConfig(r, d, s.logger.With("route", r.Name))
	if err != nil {
		return nil, err
	}
	scopes := slices.Clone(a.Scopes)
	slices.Sort(scopes)
	key := fmt.Sprintf("%s\x00%s\x00%v\x00%q\x00%+v", cfg.TokenURL, a.ClientID, a.PostAuth, scopes, r.Rules)
	if c := caches[key]; c != nil {
		return c, nil
	}
	if d.Issuer != "" {
		checker, err := jwtcheck.New(life, jwtcheck.Config{
			Issuer:    d.Issuer,
			JWKSURI:   d.JWKSURI,
			Rules:     r.Rules,
			Logger:    s.logger.With("route", r.Name),
			OnRefresh: s.metrics.onJWKSRefresh(r.Name),
		})
		if err != nil {
			return nil, fmt.Errorf("route %s: %w", r.Name, err)
		}
		cfg.Check = func(token string) error {
			_, err := checker.Check(token)
			return err
		}
	} else {
		s.logger.Warn("tokens are not checked before sending: give --discovery-url for the issuer and key set", "route", r.Name)
	}
	c, err := tokencache.New(life, cfg)
	if err != nil {
		return nil, fmt.Errorf("route %s: %w", r.Name, err)
	}
	caches[key] = c
	s.caches = append(s.caches, c)
	return c, nil
}

// discover fetches the route's discovery document once per URL; a route
// with only a token URL gets an empty one.
func discover(ctx context.Context, client *http.Client, a *config.ResolvedAuth, cache map[string]*tokencache.Discovery) (*tokencache.Discovery, error) {
	if a.DiscoveryURL == "" {
		return &tokencache.Discovery{}, nil
	}
	if d := cache[a.DiscoveryURL]; d != nil {
		return d, nil
	}
	dctx, cancel := context.WithTimeout(ctx, discoveryTimeout)
	defer cancel()
	d, err := tokencache.Discover(dctx, client, a.DiscoveryURL)
	if err != nil {
		return nil, fmt.Errorf("%s %q: %w (check the URL: https://cognito-idp.REGION.amazonaws.com/POOL_ID/.well-known/openid-configuration)",
			a.Field("auth.discovery_url", "--discovery-url"), a.DiscoveryURL, err)
	}
	cache[a.DiscoveryURL] = d
	return d, nil
}

// upstreamContext describes route r for the proxy's explanations.
func upstreamContext(r config.Resolved) proxy.UpstreamContext {
	uc := proxy.UpstreamContext{Qualifier: r.Qualifier, Endpoint: r.Upstream.Host}
	if r.ARN != nil {
		uc.ARN, uc.Region = r.ARN.String(), r.ARN.Region
	}
	if r.Auth != nil {
		uc.ClientID = r.Auth.ClientID
	}
	return uc
}

// handler routes requests: each route's path, /healthz, /readyz, and a JSON
// 404 that lists the routes for anything else.
func (s *server) handler() http.Handler {
	mux := http.NewServeMux()
	for _, r := range s.routes {
		mux.Handle(r.Path, r.handler)
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("GET /metrics", s.metrics.handler())
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
	ready := true
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
	json.NewEncoder(w).Encode(map[string]any{"ready": ready, "routes": report})
}

// run listens on addr, calls started with the bound address, and serves
// until ctx is done; then it stops accepting, lets open requests finish for
// up to drain, cancels the rest, and waits for the token caches to stop.
func (s *server) run(ctx context.Context, addr string, drain time.Duration, started func(addr string)) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		s.stop()
		return fmt.Errorf("--listen %q: %w", addr, err)
	}
	// Request contexts derive from base, which is cancelled when the drain
	// time is up so that streams end instead of holding Shutdown forever.
	base, cancelBase := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelBase()
	srv := &http.Server{
		Handler:           s.handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    1 << 20,
		BaseContext:       func(net.Listener) context.Context { return base },
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
	}
	started(ln.Addr().String())
	s.logger.Info("listening", "addr", ln.Addr().String(), "routes", len(s.routes))
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		s.stop()
		return fmt.Errorf("serving on %s: %w", addr, err)
	case <-ctx.Done():
	}
	s.logger.Info("shutting down", "drain_timeout", drain.String())
	dctx, cancel := context.WithTimeout(context.Background(), drain)
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
