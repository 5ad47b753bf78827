package route

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/agentcore-proxy/agentcore-proxy/agentcore"
	"github.com/agentcore-proxy/agentcore-proxy/discovery"
	"github.com/agentcore-proxy/agentcore-proxy/internal/config"
	"github.com/agentcore-proxy/agentcore-proxy/internal/redact"
	"github.com/agentcore-proxy/agentcore-proxy/internal/secureurl"
	"github.com/agentcore-proxy/agentcore-proxy/jwtcheck"
	"github.com/agentcore-proxy/agentcore-proxy/proxy"
	"github.com/agentcore-proxy/agentcore-proxy/tokencache"
)

// DiscoveryTimeout bounds each discovery fetch.
const DiscoveryTimeout = 15 * time.Second

// AuthOptions shape an AuthSetup. Zero values take the defaults.
type AuthOptions struct {
	// Logger receives the token caches' and checkers' logs; nil discards.
	Logger *slog.Logger
	// FetchTimeout bounds one discovery, token or key-set request
	// (default 10 s).
	FetchTimeout time.Duration
	// Transport bounds dialing and the TLS handshake.
	Transport proxy.TransportOptions
	// OnFetch and OnJWKSRefresh, if set, return a route's hooks for token
	// fetches and key-set refreshes (metrics).
	OnFetch       func(route string) func(tokencache.FetchResult)
	OnJWKSRefresh func(route string) func(error)
	// AWSCredentials, if set, sign SigV4 routes instead of the default AWS
	// credential chain (the demo's in-process key).
	AWSCredentials aws.CredentialsProvider
	// AWSEndpoint, if set, is where AWS API calls of secretless routes
	// (STS) go instead of the SDK's endpoint resolution: the demo's fake
	// AWS host.
	AWSEndpoint string
	// Redactor receives the client secrets, tokens, keys and AWS
	// credentials of the routes; nil: one of the AuthSetup's own.
	Redactor *redact.Redactor
	// CallerChecks leaves the check of each fetched token to the caller
	// (RouteAuth.ReadyChecker): the caches keep a token the rules refuse,
	// so that doctor and token can show it and say which rule it fails.
	// Serving leaves it false: a refused token is never cached or sent.
	CallerChecks bool
}

// AuthSetup builds the token machinery of routes, in one place for serve,
// demo, doctor and token: discovery (once per URL) → token cache (one per
// token URL, client, scopes and authorizer rules) → token checker. Every
// request to the identity provider goes through one HTTP client.
type AuthSetup struct {
	opts   AuthOptions
	client *http.Client
	shared map[string]*RouteAuth
	all    []*RouteAuth
	caches []*tokencache.Cache
	// steppers are the routes' step-up sources, one per route.
	steppers []*tokencache.StepUpSource
	discoveryState
	aws *awsState // secrets.go
	// awsCreds registers the AWS credentials handed out (sigv4.go).
	awsCreds *redact.Set
	// runtimeFetched and runtimeNotRead hold each route's runtime read and
	// why it was passed over (runtime.go).
	runtimeFetched map[string]runtimeFetch
	// runtimeNoCredentials holds, by profile and wait, a failure to find
	// AWS credentials for reading a runtime.
	runtimeNoCredentials map[string]error
	// runtimeLogged holds the lines ReadRuntime logged, by route.
	runtimeLogged  map[string]bool
	runtimeNotRead map[string]error
}

// NewAuthSetup returns an AuthSetup for opts.
func NewAuthSetup(opts AuthOptions) *AuthSetup {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Redactor == nil {
		opts.Redactor = redact.New()
	}
	t := proxy.NewTransport(proxy.TransportOptions{DialTimeout: opts.Transport.DialTimeout, TLSHandshakeTimeout: opts.Transport.TLSHandshakeTimeout})
	return &AuthSetup{
		opts: opts,
		// Token requests replace the redirect policy with none at all
		// (tokencache); everything else, such as doctor's metadata GET,
		// follows redirects only to a secure URL on the same host.
		client: &http.Client{Timeout: cmp.Or(opts.FetchTimeout, 10*time.Second), Transport: t, CheckRedirect: secureurl.SameHostGET},
		shared: map[string]*RouteAuth{},
		// Temporary AWS credentials change hourly: keep the last few.
		awsCreds: opts.Redactor.NewSet(0),
	}
}

// Redactor returns the Redactor the routes' credentials are registered with.
func (a *AuthSetup) Redactor() *redact.Redactor { return a.opts.Redactor }

// Client is the HTTP client for requests to the identity provider.
func (a *AuthSetup) Client() *http.Client { return a.client }

// CloseIdleConnections closes the identity provider client's idle
// connections.
func (a *AuthSetup) CloseIdleConnections() { a.client.CloseIdleConnections() }

// Discover finds route r's authorization server, once per starting point:
// from its discovery URL, or from its upstream's 401 when it has neither a
// discovery URL nor a token URL (see Found). A route with only a token URL
// gets an empty document.
func (a *AuthSetup) Discover(ctx context.Context, r config.Resolved) (*discovery.Discovery, error) {
	if err := a.ReadSources(ctx, r); err != nil {
		return nil, err
	}
	return a.discover(ctx, r)
}

// TokenConfig returns the token cache configuration of route r, whose
// discovery document is d: the token URL from the route or discovery.
func (a *AuthSetup) TokenConfig(r config.Resolved, d *discovery.Discovery) (tokencache.Config, error) {
	ra, names := r.Auth, r.Names()
	tokenURL := cmp.Or(ra.TokenURL, d.TokenEndpoint)
	if tokenURL == "" {
		return tokencache.Config{}, fmt.Errorf("%s %q: the discovery document has no token_endpoint: give %s",
			DiscoverySetting(r), ra.DiscoveryURL, names(agentcore.SettingTokenURL))
	}
	if _, err := proxy.CheckSecureURL(tokenURL); err != nil {
		return tokencache.Config{}, fmt.Errorf("token endpoint %q from %s: %w", tokenURL, DiscoverySetting(r), err)
	}
	cfg := tokencache.Config{
		TokenURL: tokenURL, ClientID: ra.ClientID, ClientSecret: ra.Secret, Scopes: ra.Scopes,
		Logger: a.opts.Logger.With("route", r.Name), HTTPClient: a.client, SecretSource: ra.AWS.Source,
		Redactor: a.opts.Redactor.NewSet(0),
	}
	a.tokenRequest(&cfg, r, d)
	if a.opts.OnFetch != nil {
		cfg.OnFetch = a.opts.OnFetch(r.Name)
	}
	return cfg, nil
}

// Checker starts a checker of route r's tokens against its authorizer
// rules, with the issuer and key set of d. It returns nil, nil when d has no
// issuer (a route with only a token URL) or no key set (opaque tokens). The checker's key set lives as
// long as life.
func (a *AuthSetup) Checker(life context.Context, r config.Resolved, d *discovery.Discovery) (*jwtcheck.Checker, error) {
	if d.Issuer == "" || d.JWKSURI == "" {
		return nil, nil // no key set: opaque tokens, not checked locally
	}
	if len(r.Rules.AllowedClients)+len(r.Rules.AllowedAudience)+len(r.Rules.AllowedScopes)+len(r.Rules.CustomClaims) == 0 && r.Auth != nil && r.Auth.ClientID != "" {
		r.Rules.AllowedClients = []string{r.Auth.ClientID} // a client id read from SSM
	}
	cfg := jwtcheck.Config{Issuer: d.Issuer, JWKSURI: d.JWKSURI, Rules: r.Rules, Logger: a.opts.Logger.With("route", r.Name), HTTPClient: a.client}
	if a.opts.OnJWKSRefresh != nil {
		cfg.OnRefresh = a.opts.OnJWKSRefresh(r.Name)
	}
	c, err := jwtcheck.New(life, cfg)
	if err != nil {
		return nil, fmt.Errorf("route %s: %w", r.Name, err)
	}
	return c, nil
}

// RouteAuth is a route's token machinery: its discovery document, token
// cache and checker. Routes with the same token URL, client, scopes and
// rules share one.
type RouteAuth struct {
	Discovery *discovery.Discovery
	Cache     *tokencache.Cache
	// Checker is nil when tokens are not checked (no issuer known).
	Checker *jwtcheck.Checker
	// claims summarises the claims of the last token that passed the
	// checks, for the status page.
	claims atomic.Pointer[string]
	// opaque is set once a token that is not a JWT went unchecked.
	opaque atomic.Bool
	// Resource is the resource parameter the token requests carry.
	Resource string
	// cfg is the cache's configuration, which each route's step-up starts
	// from (and lives as long as the cache).
	cfg tokencache.Config
	// rediscover re-probes a zero-config upstream after a refused token.
	rediscover *rediscovery
	// key signs private_key_jwt assertions; nil with a secret.
	key *tokencache.ClientKey
}

// Route returns route r's token machinery, shared with earlier routes that
// have the same token URL, client, scopes and authorizer rules. Each fetched
// token is checked against the rules before it is cached. ctx bounds
// discovery; the cache and key set live as long as life.
func (a *AuthSetup) Route(ctx, life context.Context, r config.Resolved) (*RouteAuth, error) {
	d, err := a.Discover(ctx, r)
	if err != nil {
		return nil, err
	}
	cfg, err := a.TokenConfig(r, d)
	if err != nil {
		return nil, err
	}
	key := shareKey(cfg, r)
	if ra, ok := a.shared[key]; ok {
		return ra, nil
	}
	ra := &RouteAuth{Discovery: d, Resource: cfg.Resource, key: cfg.ClientKey}
	if ra.Checker, err = a.Checker(life, r, d); err != nil {
		return nil, err
	}
	if ra.Checker != nil && !a.opts.CallerChecks {
		cfg.Check = func(token string) error {
			if !tokencache.IsJWT(token) {
				if !ra.opaque.Swap(true) {
					a.opts.Logger.Info("the access token is opaque (not a JWT): "+LocalCheckOpaque, "route", r.Name)
				}
				return nil
			}
			return ra.check(token)
		}
	} else if d.Issuer != "" {
		ra.opaque.Store(true)
		a.opts.Logger.Info("the authorization server publishes no jwks_uri: "+LocalCheckOpaque, "route", r.Name, "issuer", d.Issuer)
	} else {
		a.opts.Logger.Warn("tokens are not checked before sending: give "+agentcore.Render("{discovery_url}", r.Names())+" for the issuer and key set", "route", r.Name)
	}
	if ra.Cache, err = a.newCache(life, r.Name, cfg); err != nil {
		return nil, err
	}
	ra.cfg = cfg
	if f := a.Found(r); f != nil && f.Source == SourceUpstream {
		ra.rediscover = &rediscovery{setup: a, life: life, r: r}
	}
	a.shared[key] = ra
	a.all = append(a.all, ra)
	return ra, nil
}

func (a *AuthSetup) newCache(life context.Context, route string, cfg tokencache.Config) (*tokencache.Cache, error) {
	c, err := tokencache.New(life, cfg)
	if err != nil {
		return nil, fmt.Errorf("route %s: %w", route, err)
	}
	a.caches = append(a.caches, c)
	return c, nil
}

// KeySetWait bounds how long ReadyChecker waits for the key set.
const KeySetWait = 15 * time.Second

// ReadyChecker returns the route's checker once its key set has loaded,
// waiting up to KeySetWait. A route without an issuer is an error naming
// the discovery URL setting by names; an issuer without a key set gives
// nil, nil (LocalCheckOpaque).
func (ra *RouteAuth) ReadyChecker(ctx context.Context, names agentcore.Namer) (*jwtcheck.Checker, error) {
	if ra.Checker == nil && ra.Discovery.Issuer != "" {
		return nil, nil
	}
	if ra.Checker == nil {
		return nil, fmt.Errorf("no discovery document: give %s to check tokens", agentcore.Render("{discovery_url}", names))
	}
	wctx, cancel := context.WithTimeout(ctx, KeySetWait)
	defer cancel()
	return ra.Checker, ra.Checker.WaitReady(wctx)
}

// Warm starts the first token fetch of every cache.
func (a *AuthSetup) Warm() {
	for _, ra := range a.all {
		ra.Cache.Warm()
	}
}

// Wait waits for every token cache and re-discovery to stop, once life is
// done.
func (a *AuthSetup) Wait() {
	a.probes.Wait()
	for _, c := range a.caches {
		<-c.Done()
	}
	for _, s := range a.steppers {
		s.Wait()
	}
}

// Claims summarises the claims of the last token that passed the checks,
// or "" if none has.
func (ra *RouteAuth) Claims() string {
	if c := ra.claims.Load(); c != nil {
		return *c
	}
	return ""
}

// check checks token with the route's checker and keeps its claims for
// the status page.
func (ra *RouteAuth) check(token string) error {
	claims, err := ra.Checker.Check(token)
	if err == nil {
		summary := claims.Summary()
		ra.claims.Store(&summary)
	}
	return err
}

// Tokens returns the token source route r's proxy uses: ra's cache, whose
// failures carry their reason code and a fix naming the settings in r's
// words, and r's own step-up, which no other route shares even when they
// share ra. Call it once per route, before serving.
func (a *AuthSetup) Tokens(r config.Resolved, ra *RouteAuth) proxy.TokenSource {
	cfg := ra.cfg
	cfg.Logger = a.opts.Logger.With("route", r.Name)
	if a.opts.OnFetch != nil {
		cfg.OnFetch = a.opts.OnFetch(r.Name)
	}
	// A secretless route (r.Auth nil) has no step-up: STS tokens carry no
	// scopes to ask more of.
	step := tokencache.StepUp(ra.Cache, tokencache.StepUpConfig{Config: cfg, Off: r.Auth == nil || r.Auth.NoStepUp})
	a.steppers = append(a.steppers, step)
	return tokenSource{step: step, names: r.Names(), rediscover: ra.rediscover, key: ra.key}
}

// tokenSource is a route's token source for the proxy: its step-up
// source, whose failures it labels with their reason code and a fix naming
// the settings in the route's words.
type tokenSource struct {
	step  *tokencache.StepUpSource
	names agentcore.Namer
	// rediscover, if set, re-probes the upstream after a refused token.
	rediscover *rediscovery
	// key is the private_key_jwt client key, nil with a secret.
	key *tokencache.ClientKey
}

func (t tokenSource) Token(ctx context.Context) (string, error) {
	tok, err := t.step.Token(ctx)
	if err != nil {
		return "", t.explain(err)
	}
	return tok, nil
}

func (t tokenSource) Invalidate(token string) {
	t.step.Invalidate(token)
	t.rediscover.refused()
}

// StepUp gets a token with more scopes (proxy.ScopeStepper).
func (t tokenSource) StepUp(ctx context.Context, scopes []string) (string, error) {
	tok, err := t.step.StepUp(ctx, scopes)
	if err != nil && !errors.Is(err, tokencache.ErrStepUpRefused) {
		return "", t.explain(err)
	}
	return tok, err
}

// TokenFailure is a failure to obtain a token the proxy would send, with
// its reason code and a fix in the user's words.
type TokenFailure struct {
	// Code is the reason code from the agentcore catalogue.
	Code string
	// Fix names the settings to change; "" when the error says it all.
	Fix string
	Err error
	// problem, if set, says what Err says without the fix Fix replaces.
	problem string
}

func (e *TokenFailure) Error() string {
	msg := cmp.Or(e.problem, e.Err.Error())
	if e.Fix == "" {
		return msg
	}
	return msg + ": " + e.Fix
}

// Unwrap returns the token cache's error.
func (e *TokenFailure) Unwrap() error { return e.Err }

// Reason returns the reason code, for proxy's diagnosis header and metrics.
func (e *TokenFailure) Reason() string { return e.Code }

// TokenReason returns the reason code of a failure to obtain a token:
// the Reason of the first error in err's chain that has one (a
// *tokencache.TokenError, a *jwtcheck.RuleError, a *TokenFailure), else
// agentcore.ReasonTokenEndpoint.
func TokenReason(err error) string {
	if code := awsJWTReason(err); code != "" {
		return code
	}
	var r interface{ Reason() string }
	if errors.As(err, &r) && r.Reason() != "" {
		return r.Reason()
	}
	return agentcore.ReasonTokenEndpoint
}

// ExplainTokenFailure labels err with its reason code and, when the
// catalogue's fix names settings, that fix in the words of names; a check
// failure's own fix gives way to it. The libraries state facts: when their
// error carries no fix (a token endpoint's refusal such as
// unauthorized_client, a rule whose fix depends on the identity provider),
// the catalogue's fix is given too.
func ExplainTokenFailure(err error, names agentcore.Namer) *TokenFailure {
	code := TokenReason(err)
	r, _ := agentcore.Lookup(code)
	if awsJWTReason(err) != "" {
		// The AWS SDK's message says what failed, not what to do.
		return &TokenFailure{Code: code, Fix: agentcore.Render(r.Fix, names), Err: err}
	}
	var re *jwtcheck.RuleError
	rule := errors.As(err, &re)
	var te *tokencache.TokenError
	refused := errors.As(err, &te) && te.Code != "" && code != agentcore.ReasonTokenEndpoint
	if !strings.Contains(r.Fix, "{") && !refused && !(rule && re.Fix == "") {
		return &TokenFailure{Code: code, Err: err}
	}
	f := &TokenFailure{Code: code, Fix: agentcore.Render(r.Fix, names), Err: err}
	if rule {
		f.problem = strings.Replace(err.Error(), re.Error(), "jwtcheck: "+re.Problem, 1)
	}
	return f
}

// explain labels a token failure; see ExplainRouteTokenFailure.
func (t tokenSource) explain(err error) error { return explainKeyed(err, t.names, t.key) }

// ExplainRouteTokenFailure is ExplainTokenFailure for route r: an
// invalid_client under private_key_jwt gets a fix about the key rather than
// the secret.
func ExplainRouteTokenFailure(err error, r config.Resolved) *TokenFailure {
	var key *tokencache.ClientKey
	if r.Auth != nil {
		key = r.Auth.ClientKey
	}
	return explainKeyed(err, r.Names(), key)
}

func explainKeyed(err error, names agentcore.Namer, key *tokencache.ClientKey) *TokenFailure {
	f := ExplainTokenFailure(err, names)
	if key != nil && f.Code == agentcore.ReasonTokenInvalidClient {
		f.Fix = fmt.Sprintf("the token endpoint rejected the client assertion: register the public key of %s for client %s at the identity provider, and check %s and %s (the issuer by default, or token_endpoint)",
			key, agentcore.Render("{client_id}", names), agentcore.Render("{client_key_file}", names), agentcore.Render("{client_assertion_aud}", names))
	}
	return f
}
