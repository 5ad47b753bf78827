package jwtcheck

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"

	"github.com/agentcore-proxy/agentcore-proxy/internal/secureurl"
)

// validMethods are the signing algorithms a Checker accepts. Cognito, and so
// AgentCore behind it, signs with RS256; the other RSA and ECDSA algorithms
// are what other OpenID providers a runtime may trust (Okta, Entra ID, Auth0)
// use. HMAC is refused, as is "none": the key set holds only public keys, and
// accepting HS256 would let anyone sign with a public key as the secret.
var validMethods = []string{"RS256", "RS384", "RS512", "ES256", "ES384"}

// Config configures a [Checker].
type Config struct {
	Issuer     string        // the discovery document's issuer; the token's iss must equal it
	JWKSURI    string        // the discovery document's jwks_uri
	Rules      Rules         // the runtime's authorizer rules
	HTTPClient *http.Client  // for the JWKS; nil: a client with a 10 s timeout; redirects are followed only on the same host
	Leeway     time.Duration // for exp and nbf; zero: 5 s (we check our own token, so stay strict)
	Logger     *slog.Logger  // nil: discard
	// OnRefresh, if set, is called after each JWKS fetch with its error (nil
	// on success), for metrics. Calls never overlap.
	OnRefresh func(err error)
	// RefreshInterval is how often the JWKS is fetched again; zero: 15 min.
	// An unknown kid also causes a fetch, at most once a minute, and a failed
	// fetch is retried with backoff from 250 ms to 30 s.
	RefreshInterval time.Duration
	// Now is the clock for exp, nbf and the once-a-minute refresh on an
	// unknown kid; nil means time.Now. The key set's periodic refresh and
	// its retries sleep with Go's timers: to fake those as well, run the
	// Checker inside a testing/synctest bubble.
	Now func() time.Time
}

// Checker checks tokens against one runtime's authorizer. Its methods are
// safe for concurrent use.
type Checker struct {
	issuer string
	rules  Rules
	leeway time.Duration
	now    func() time.Time
	parser *jwt.Parser
	keys   *keySet
}

// New validates cfg and starts loading the key set at cfg.JWKSURI in a
// goroutine that lives until ctx is done (see [Checker.Done]). It does not
// wait for the key set and does not fail when it is unreachable:
// [Checker.Ready] reports the problem until a fetch succeeds, and fetches
// are retried with backoff. New fails only for a bad Config, with every
// problem wrapping [ErrInvalidConfig] or [ErrInvalidRules].
func New(ctx context.Context, cfg Config) (*Checker, error) {
	var errs []error
	for _, u := range []struct{ field, value, example string }{
		{"Issuer", cfg.Issuer, "issuer"},
		{"JWKSURI", cfg.JWKSURI, "jwks_uri"},
	} {
		if p, err := url.Parse(u.value); err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
			errs = append(errs, fmt.Errorf("%w: %s %q: not an absolute http(s) URL (want the discovery document's %s)",
				ErrInvalidConfig, u.field, u.value, u.example))
		}
	}
	// The key set is fetched: plain http only to a loopback host.
	if _, err := secureurl.Check(cfg.JWKSURI); errors.Is(err, secureurl.ErrPlainHTTP) {
		errs = append(errs, fmt.Errorf("%w: JWKSURI %q: %w", ErrInvalidConfig, cfg.JWKSURI, err))
	}
	if cfg.Leeway < 0 {
		errs = append(errs, fmt.Errorf("%w: Leeway %s: must not be negative", ErrInvalidConfig, cfg.Leeway))
	}
	if cfg.RefreshInterval < 0 {
		errs = append(errs, fmt.Errorf("%w: RefreshInterval %s: must not be negative", ErrInvalidConfig, cfg.RefreshInterval))
	}
	errs = append(errs, cfg.Rules.Validate())
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: fetchTimeout}
	}
	// Key-set GETs follow redirects only to a secure URL on the same host.
	cfg.HTTPClient = secureurl.WithRedirects(cfg.HTTPClient, secureurl.SameHostGET)
	if cfg.Leeway == 0 {
		cfg.Leeway = 5 * time.Second
	}
	if cfg.RefreshInterval == 0 {
		cfg.RefreshInterval = defaultRefreshInterval
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	keys, err := newKeySet(ctx, cfg)
	if err != nil {
		return nil, err
	}
	c := &Checker{
		issuer: cfg.Issuer,
		rules:  cfg.Rules,
		leeway: cfg.Leeway,
		now:    cfg.Now,
		parser: jwt.NewParser(
			jwt.WithValidMethods(validMethods),
			jwt.WithIssuer(cfg.Issuer),
			jwt.WithExpirationRequired(),
			jwt.WithLeeway(cfg.Leeway),
			jwt.WithTimeFunc(cfg.Now),
		),
		keys: keys,
	}
	go keys.run(ctx)
	return c, nil
}

// Ready returns nil once a key set has been loaded from jwks_uri (later
// failed refreshes keep the loaded keys and do not change it), else an error
// wrapping [ErrKeySetNotLoaded] and the last fetch error.
func (c *Checker) Ready() error { return c.keys.readyErr() }

// WaitReady waits until a key set has loaded, ctx is done or the Checker's
// context is done. It returns nil once loaded, else [Checker.Ready]'s error.
func (c *Checker) WaitReady(ctx context.Context) error {
	select {
	case <-c.keys.ready:
		return nil
	case <-ctx.Done():
	case <-c.keys.done:
	}
	if err := c.Ready(); err != nil {
		return fmt.Errorf("%w (stopped waiting: %w)", err, context.Cause(ctx))
	}
	return nil
}

// Done returns a channel closed when the key set's refresh goroutine has
// returned, after the context given to [New] is done.
func (c *Checker) Done() <-chan struct{} { return c.keys.done }

// Check checks token as AgentCore's authorizer would: it must parse, be
// signed by a key of the key set (an unknown kid causes one rate-limited
// refresh first) with an accepted algorithm, have the issuer, an exp in the
// future and no nbf in the future, and satisfy the Rules. Every failure is a
// [*RuleError]. The claims are returned whenever the signature verified,
// even with an error, so that callers can show them. Right after [New], Check
// waits for the first key set fetch to finish.
func (c *Checker) Check(token string) (*Claims, error) {
	var keyErr error
	keyCalled := false
	tok, err := c.parser.Parse(token, func(t *jwt.Token) (any, error) {
		keyCalled = true
		var key any
		key, keyErr = c.keys.key(t)
		return key, keyErr
	})
	if err != nil && !errors.Is(err, jwt.ErrTokenInvalidClaims) {
		return nil, c.tokenError(token, tok, err, keyCalled, keyErr)
	}
	// The signature verified; only claims can be wrong now.
	raw, _ := tok.Claims.(jwt.MapClaims)
	claims, cerr := claimsFrom(tok.Header, raw)
	if cerr != nil {
		return claims, cerr
	}
	if cerr := CheckClaims(claims, c.issuer, c.rules, c.now(), c.leeway); cerr != nil {
		return claims, cerr
	}
	if err != nil {
		// The parser saw a claim problem CheckClaims did not (a clock tick
		// between the two, say): report the parser's view.
		return claims, parserClaimError(err)
	}
	return claims, nil
}

// tokenError explains a failure before the claims: parsing, algorithm, key
// lookup or signature.
func (c *Checker) tokenError(token string, tok *jwt.Token, err error, keyCalled bool, keyErr error) *RuleError {
	var kid, alg string
	if tok != nil {
		kid, _ = tok.Header["kid"].(string)
		alg, _ = tok.Header["alg"].(string)
	}
	algError := func(problem string) *RuleError {
		return &RuleError{Err: ErrSignature, Claim: "alg", Got: alg, Want: fmt.Sprint(validMethods),
			Problem: problem, Fix: fmt.Sprintf("use a token from the runtime's identity provider, signed with one of %v", validMethods)}
	}
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return malformed(token, strings.TrimPrefix(err.Error(), jwt.ErrTokenMalformed.Error()+": "))
	case !keyCalled && errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return algError(fmt.Sprintf("token is signed with %q, which is not accepted (want one of %v)", alg, validMethods))
	case !keyCalled:
		return algError(fmt.Sprintf("token header alg %q is not a known signing algorithm", alg))
	case errors.Is(keyErr, errNotLoaded):
		return &RuleError{Err: ErrKeySetNotLoaded, Claim: "kid", Got: kid,
			Problem: "cannot verify the signature: " + trimPrefix(c.Ready()),
			Fix:     "check that jwks_uri is reachable from here and the discovery URL is right, or wait for the key set (Checker.WaitReady)"}
	case errors.Is(keyErr, jwkset.ErrKeyNotFound):
		return &RuleError{Err: ErrUnknownKey, Claim: "kid", Got: kid, Want: "a kid published at " + c.keys.url,
			Problem: fmt.Sprintf("token's kid %q is not in the key set at %s, even after a refresh", kid, c.keys.url), Fix: fixKey}
	case keyErr != nil:
		return &RuleError{Err: ErrSignature, Claim: "kid", Got: kid,
			Problem: fmt.Sprintf("no usable key for kid %q: %v", kid, keyErr), Fix: fixKey}
	default:
		return &RuleError{Err: ErrSignature, Claim: "kid", Got: kid,
			Problem: fmt.Sprintf("signature does not verify with key %q of %s", kid, c.keys.url), Fix: fixKey}
	}
}

// parserClaimError maps a claim error of golang-jwt's parser.
func parserClaimError(err error) *RuleError {
	e := &RuleError{Err: ErrMalformed, Problem: err.Error(), Fix: "request a new token"}
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		e.Err, e.Claim = ErrExpired, "exp"
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		e.Err, e.Claim = ErrNotYetValid, "nbf"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		e.Err, e.Claim, e.Fix = ErrIssuer, "iss", fixIssuer
	}
	return e
}

// trimPrefix drops the package prefix of one of our errors' text, for
// embedding it in a RuleError's problem.
func trimPrefix(err error) string {
	if err == nil {
		return ""
	}
	return strings.TrimPrefix(err.Error(), "jwtcheck: ")
}
