package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync/atomic"
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
	// draining is set when shutdown starts, so that /readyz turns false at
	// once and load balancers stop sending new work.
	draining atomic.Bool
	opts     serverOptions
	// upstream is shared by every route so that routes to one AgentCore
	// host share connections; run closes its idle ones at the end.
	upstream *http.Transport
	metrics  *metrics
	recorder *recorder
}

type route struct {
	config.Resolved
	handler http.Handler
	tokens  *tokencache.Cache // nil for routes without auth
	// claims summarises the claims of the last token that passed the
	// checks, for the status page.
	claims *atomic.Pointer[string]
}

// serverOptions are the serve flags that shape the server.
type serverOptions struct {
	// maxToolNames caps distinct tool names in metrics; 0 leaves them out.
	maxToolNames int
	// transport bounds the upstream's dial, TLS and answer-header waits.
	transport proxy.TransportOptions
	// tokenFetchTimeout bounds one token or key-set request.
	tokenFetchTimeout time.Duration
	// maxRetries and retryToolCalls shape retries of 409 and 429.
	maxRetries     int
	retryToolCalls bool
	// maxBodyBytes and maxStreamDuration bound each request.
	maxBodyBytes      int64
	maxStreamDuration time.Duration
}

// sharedCache is a token cache and what the routes sharing it show.
type sharedCache struct {
	cache  *tokencache.Cache
	claims *atomic.Pointer[string]
}

// discoveryTimeout bounds each discovery fetch at start-up.
const discoveryTimeout = 15 * time.Second

// newServer discovers each route's token endpoint, builds one token cache
// per (token URL, client id, scopes), and one proxy per route. ctx bounds
// start-up; the token caches live until run has drained the server, so that
// requests finishing after a signal still get tokens. Every problem is
// reported, each naming its setting.
func newServer(ctx context.Context, routes []config.Resolved, logger *slog.Logger, opts serverOptions) (_ *server, err error) {
	life, stop := context.WithCancel(context.WithoutCancel(ctx))
	defer func() {
		if err != nil {
			stop()
		}
	}()
	s := &server{logger: logger, stop: stop, opts: opts, upstream: proxy.NewTransport(opts.transport),
		metrics: newMetrics(opts.maxToolNames), recorder: newRecorder()}
	client := &http.Client{Timeout: discoveryTimeout, Transport: proxy.NewTransport(proxy.TransportOptions{})}
	defer client.CloseIdleConnections()
	discovered := map[string]*tokencache.Discovery{}
	caches := map[string]sharedCache{}
	var errs []error
	for _, r := range routes {
		rt := &route{Resolved: r}
		var err error
		if r.Auth != nil {
			shared, err := s.tokenCache(ctx, life, r, client, discovered, caches)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			rt.tokens, rt.claims = shared.cache, shared.claims
		}
		opts := proxy.Options{
			Route:     r.Name,
			Target:    r.Upstream,
			UserAgent: UserAgent(),
			Transport: s.upstream,
			Logger:    logger,
			Upstream:  upstreamContext(r),

			MaxRetries:     s.opts.maxRetries,
			RetryToolCalls: s.opts.retryToolCalls,
			MaxBodyBytes:   s.opts.maxBodyBytes,

			OnDiagnosis: s.metrics.onDiagnosis(r.Name),
			OnStream:    s.metrics.onStream(r.Name),
			OnDone: func(sum proxy.Summary) {
				s.metrics.observe(sum)
				s.recorder.observe(sum)
				logRequest(logger, sum)
			},
		}
		if rt.tokens != nil {
			opts.Tokens = rt.tokens
		}
		p, err := proxy.New(opts)
		if err != nil {
			errs = append(errs, fmt.Errorf("route %s: %w", r.Name, err))
			continue
		}
		rt.handler = s.metrics.inflightHandler(r.Name, limitDuration(p, s.opts.maxStreamDuration))
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
func (s *server) tokenCache(ctx, life context.Context, r config.Resolved, client *http.Client, discovered map[string]*tokencache.Discovery, caches map[string]sharedCache) (sharedCache, error) {
	a := r.Auth
	d, err := discover(ctx, client, a, discovered)
	if err != nil {
		return sharedCache{}, err
	}
	cfg, err := cacheConfig(r, d, s.logger.With("route", r.Name))
	if err != nil {
		return sharedCache{}, err
	}
	cfg.OnFetch = s.metrics.onFetch(r.Name)
	cfg.HTTPClient = s.idpClient()
	scopes := slices.Clone(a.Scopes)
	slices.Sort(scopes)
	key := fmt.Sprintf("%s\x00%s\x00%v\x00%q\x00%+v", cfg.TokenURL, a.ClientID, a.PostAuth, scopes, r.Rules)
	if c, ok := caches[key]; ok {
		return c, nil
	}
	shared := sharedCache{claims: &atomic.Pointer[string]{}}
	if d.Issuer != "" {
		checker, err := jwtcheck.New(life, jwtcheck.Config{
			Issuer:     d.Issuer,
			JWKSURI:    d.JWKSURI,
			Rules:      r.Rules,
			Logger:     s.logger.With("route", r.Name),
			OnRefresh:  s.metrics.onJWKSRefresh(r.Name),
			HTTPClient: s.idpClient(),
		})
		if err != nil {
			return sharedCache{}, fmt.Errorf("route %s: %w", r.Name, err)
		}
		cfg.Check = func(token string) error {
			claims, err := checker.Check(token)
			if err == nil {
				summary := claims.Summary()
				shared.claims.Store(&summary)
			}
			return err
		}
	} else {
		s.logger.Warn("tokens are not checked before sending: give --discovery-url for the issuer and key set", "route", r.Name)
	}
	shared.cache, err = tokencache.New(life, cfg)
	if err != nil {
		return sharedCache{}, fmt.Errorf("route %s: %w", r.Name, err)
	}
	caches[key] = shared
	s.caches = append(s.caches, shared.cache)
	return shared, nil
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

// idpClient is the HTTP client for token and key-set requests.
func (s *server) idpClient() *http.Client {
	t := proxy.NewTransport(proxy.TransportOptions{DialTimeout: s.opts.transport.DialTimeout, TLSHandshakeTimeout: s.opts.transport.TLSHandshakeTimeout})
	return &http.Client{Timeout: cmp.Or(s.opts.tokenFetchTimeout, 10*time.Second), Transport: t}
}

// limitDuration caps how long a request (a stream included) may last.
func limitDuration(next http.Handler, maxDuration time.Duration) http.Handler {
	if maxDuration <= 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), maxDuration)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}
