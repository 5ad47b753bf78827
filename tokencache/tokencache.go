// Package tokencache obtains and caches OAuth2 machine-to-machine access
// tokens (the client_credentials grant) from any OAuth 2.0 authorization
// server, such as the Amazon Cognito user pool of an AWS Bedrock AgentCore
// runtime.
//
// A [Cache] holds one token for one (token URL, client id, scopes). It keeps
// exactly one fetch in flight however many callers wait, refreshes the token
// in the background ahead of its expiry so that callers holding a valid token
// never block, and drops a token the upstream rejected (see
// [Cache.Invalidate]). Fetches use the context given to [New], never a
// request's context, and an HTTP client with a timeout.
//
// Token requests are made by golang.org/x/oauth2/clientcredentials. A
// failed request is a [*TokenError]: errors.Is matches a sentinel such as
// [ErrInvalidClient], errors.As reaches the *oauth2.RetrieveError beneath,
// and [TokenError.Reason] gives a reason code whose fix a caller looks up
// (agentcore-proxy's reason catalogue): the package states what the token
// endpoint said, not what to change at a particular identity provider.
// Neither errors nor logs ever contain the client secret or a token; logs
// show a fingerprint of a token instead (the first 8 hex digits of its
// SHA-256). What the token endpoint says is quoted only through a
// [Redactor], which replaces the client secret (also URL-encoded and
// inside Basic credentials), tokens, client assertions and the private key
// with labels such as "[token sha256:1a2b3c4d]".
//
// Token requests follow no redirect ([ErrTokenRedirect]). Where the token
// endpoint is, and which client authentication methods it takes, is the
// business of package discovery.
//
// Clients authenticate with a secret (client_secret_basic or
// client_secret_post) or with a private key (private_key_jwt, RFC 7523; see
// [LoadClientKey]). Config.Resource (RFC 8707), Config.Audience and
// Config.Params go with every token request. Access tokens may be JWTs or
// opaque ([IsJWT]); the expiry of an opaque token comes from expires_in.
package tokencache

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"golang.org/x/oauth2/clientcredentials"
)

// Fetch triggers reported in [FetchResult.Trigger].
const (
	TriggerCold  = "cold"   // no token was held, or it had expired
	TriggerAhead = "ahead"  // background refresh ahead of expiry
	TriggerOn401 = "on_401" // the upstream rejected the token (see Cache.Invalidate)
	TriggerRetry = "retry"  // a previous fetch failed
)

// recentFailure is how long after a failed fetch Token returns that error at
// once rather than asking the token endpoint again.
const recentFailure = time.Second

// FetchResult describes one fetch: all attempts made for one token, including
// retries on network errors and 5xx answers. It is passed to [Config.OnFetch].
type FetchResult struct {
	// Trigger says why the fetch happened: "cold", "ahead", "on_401" or "retry".
	Trigger string
	// Err is nil on success, or the error a caller of Cache.Token would see.
	Err error
	// Duration is the time spent on all attempts, including backoff.
	Duration time.Duration
	// ExpiresAt is the new token's expiry; zero on failure.
	ExpiresAt time.Time
}

// State is a snapshot of a [Cache], for readiness checks and status pages.
type State struct {
	// Valid reports whether a usable token is held.
	Valid bool
	// ExpiresAt and FetchedAt describe the held token, even an expired one.
	ExpiresAt, FetchedAt time.Time
	// Fingerprint identifies the held token without revealing it.
	Fingerprint string
	// LastError is the most recent fetch error, kept after later successes;
	// compare LastErrorAt with FetchedAt to see whether it still matters.
	LastError error
	// LastErrorAt is when LastError happened.
	LastErrorAt time.Time
}

// Cache holds one token for one (token URL, client id, scopes). Its methods
// are safe for concurrent use. Create one with [New].
type Cache struct {
	ctx    context.Context // the process context: bounds every fetch
	cfg    Config          // validated, with defaults applied
	cc     clientcredentials.Config
	log    *slog.Logger
	kick   chan struct{} // wakes the background loop; buffered, size 1
	done   chan struct{} // closed when the background loop has exited
	limits logLimiter    // used by the background loop only
	red    Redactor

	mu        sync.Mutex
	tok       *held
	pending   *call // the fetch callers wait for, queued or running; nil if none
	failures  int   // consecutive failed fetches since the last success
	retryAt   time.Time
	lastErr   error
	lastErrAt time.Time
	waiting   int // callers blocked in Token; read by tests
}

// held is a fetched token and the times that govern its use.
type held struct {
	access      string
	fingerprint string
	fetchedAt   time.Time
	expiresAt   time.Time
	usableUntil time.Time // expiresAt minus a safety margin
	refreshAt   time.Time // when the background loop fetches a successor
}

// call is one fetch that callers of Token wait for.
type call struct {
	trigger string
	done    chan struct{} // closed when token or err is set
	token   string
	err     error
}

// New validates cfg and returns a Cache whose background goroutine lives as
// long as ctx. New does not fetch a token: call [Cache.Warm] to fetch one in
// the background, or [Cache.Token] to wait for one. Every fetch uses ctx, so
// it should be the process's context rather than a request's.
func New(ctx context.Context, cfg Config) (*Cache, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	c := &Cache{
		ctx: ctx,
		cfg: cfg,
		cc: clientcredentials.Config{
			ClientID:     cfg.ClientID,
			ClientSecret: cfg.ClientSecret,
			TokenURL:     cfg.TokenURL,
			Scopes:       cfg.Scopes,
			AuthStyle:    cfg.AuthStyle.oauth2(),
		},
		log:    cfg.Logger,
		kick:   make(chan struct{}, 1),
		done:   make(chan struct{}),
		limits: logLimiter{last: make(map[string]time.Time)},
		red:    cfg.Redactor,
	}
	if c.red == nil {
		c.red = newRedactor()
	}
	c.red.AddSecret(cfg.ClientID, cfg.ClientSecret)
	if k := cfg.ClientKey; k != nil {
		c.red.AddKey(k.fingerprint, k.der)
	}
	go c.run()
	return c, nil
}

// Token returns the cached token while it is usable, without blocking.
// Otherwise it waits for the one fetch in flight, starting one if none is.
// ctx bounds only this caller's wait: the fetch itself carries on under the
// context given to New, for other callers and the cache.
//
// If the last fetch failed less than a second ago and no usable token is
// held, Token returns that error at once; the background goroutine keeps
// retrying with backoff.
func (c *Cache) Token(ctx context.Context) (string, error) {
	c.mu.Lock()
	now := c.cfg.Now()
	if c.tok != nil && now.Before(c.tok.usableUntil) {
		token := c.tok.access
		c.mu.Unlock()
		return token, nil
	}
	cl := c.pending
	if cl == nil {
		if c.ctx.Err() != nil {
			c.mu.Unlock()
			return "", ErrClosed
		}
		if c.failures > 0 && now.Sub(c.lastErrAt) < recentFailure {
			err := c.lastErr
			c.mu.Unlock()
			return "", err
		}
		cl = c.startLocked(c.triggerLocked())
	}
	c.waiting++
	c.mu.Unlock()

	defer func() {
		c.mu.Lock()
		c.waiting--
		c.mu.Unlock()
	}()
	select {
	case <-cl.done:
		return cl.token, cl.err
	case <-ctx.Done():
		return "", waitError{ctx.Err()}
	case <-c.done:
		return "", ErrClosed
	}
}

// Invalidate tells the cache that the upstream answered 401 to token. If
// token is still the cached one, Invalidate drops it and starts fetching a
// new one, so the next Token waits for that. Many concurrent calls with the
// same token start one fetch; calls with a token already replaced do nothing.
func (c *Cache) Invalidate(token string) {
	c.mu.Lock()
	if c.tok == nil || c.tok.access != token {
		c.mu.Unlock()
		return
	}
	fp := c.tok.fingerprint
	c.tok = nil
	if c.pending == nil && c.ctx.Err() == nil {
		c.startLocked(TriggerOn401)
	}
	c.mu.Unlock()
	c.log.Info("token rejected upstream; fetching a new one", "fingerprint", fp, "token_url", c.origin())
}

// Warm starts fetching a token in the background if no usable token is held
// and no fetch is in flight, so that the cache is ready before the first
// request. It does not wait; poll [Cache.State] to learn the outcome.
func (c *Cache) Warm() {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.cfg.Now()
	switch {
	case c.tok != nil && now.Before(c.tok.usableUntil),
		c.pending != nil,
		c.ctx.Err() != nil,
		c.failures > 0 && now.Sub(c.lastErrAt) < recentFailure:
		return
	}
	c.startLocked(c.triggerLocked())
}

// State returns a snapshot of the cache.
func (c *Cache) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := State{LastError: c.lastErr, LastErrorAt: c.lastErrAt}
	if c.tok != nil {
		s.Valid = c.cfg.Now().Before(c.tok.usableUntil)
		s.ExpiresAt = c.tok.expiresAt
		s.FetchedAt = c.tok.fetchedAt
		s.Fingerprint = c.tok.fingerprint
	}
	return s
}

// Done returns a channel that is closed when the background goroutine has
// exited, which happens after the context given to New is done.
func (c *Cache) Done() <-chan struct{} {
	return c.done
}

// triggerLocked names why a caller-started fetch happens.
func (c *Cache) triggerLocked() string {
	if c.failures > 0 {
		return TriggerRetry
	}
	return TriggerCold
}

// startLocked queues a fetch for the background loop and wakes it.
func (c *Cache) startLocked(trigger string) *call {
	c.pending = &call{trigger: trigger, done: make(chan struct{})}
	select {
	case c.kick <- struct{}{}:
	default: // the loop is already due to wake
	}
	return c.pending
}

// waitError reports that a caller stopped waiting for a fetch.
type waitError struct{ err error }

func (e waitError) Error() string { return "tokencache: gave up waiting for a token: " + e.err.Error() }
func (e waitError) Unwrap() error { return e.err }

// defaultClient returns an HTTP client with a timeout on a clone of the
// default transport, so that a stuck token endpoint cannot stall a fetch.
func defaultClient() *http.Client {
	return &http.Client{
		Timeout:   10 * time.Second,
		Transport: http.DefaultTransport.(*http.Transport).Clone(),
	}
}
