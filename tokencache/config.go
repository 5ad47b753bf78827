package tokencache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"golang.org/x/oauth2"

	"github.com/agentcore-proxy/agentcore-proxy/internal/secureurl"
)

// Defaults applied by [New] to zero fields of [Config].
const (
	DefaultRefreshAhead = 0.8
	DefaultJitter       = 0.05
	DefaultMaxAttempts  = 3
)

// AuthStyle says how the client authenticates to the token endpoint.
type AuthStyle int

const (
	// AuthStyleBasic sends the client id and secret in an HTTP Basic
	// Authorization header (client_secret_basic). It is the default.
	AuthStyleBasic AuthStyle = iota
	// AuthStylePost sends the client id and secret as form fields
	// (client_secret_post).
	AuthStylePost
	// AuthStylePrivateKeyJWT sends a client assertion signed with
	// Config.ClientKey instead of a secret (private_key_jwt, RFC 7523).
	AuthStylePrivateKeyJWT
)

// String returns the OpenID Connect name of s, such as "client_secret_basic".
func (s AuthStyle) String() string {
	switch s {
	case AuthStyleBasic:
		return "client_secret_basic"
	case AuthStylePost:
		return "client_secret_post"
	case AuthStylePrivateKeyJWT:
		return "private_key_jwt"
	}
	return fmt.Sprintf("AuthStyle(%d)", int(s))
}

// ParseAuthStyle parses an OpenID Connect token endpoint auth method name,
// "client_secret_basic", "client_secret_post" or "private_key_jwt", as found
// in a discovery document's token_endpoint_auth_methods_supported.
func ParseAuthStyle(name string) (AuthStyle, error) {
	switch name {
	case "client_secret_basic":
		return AuthStyleBasic, nil
	case "client_secret_post":
		return AuthStylePost, nil
	case "private_key_jwt":
		return AuthStylePrivateKeyJWT, nil
	}
	return 0, fmt.Errorf("tokencache: unknown token endpoint auth method %q (want client_secret_basic, client_secret_post or private_key_jwt)", name)
}

// oauth2 maps s to the golang.org/x/oauth2 style; never auto-detect, which
// would send the secret twice to an endpoint that rejects the first try.
func (s AuthStyle) oauth2() oauth2.AuthStyle {
	if s == AuthStylePost || s == AuthStylePrivateKeyJWT {
		return oauth2.AuthStyleInParams
	}
	return oauth2.AuthStyleInHeader
}

// Config configures a [Cache]. TokenURL, ClientID and ClientSecret are
// required, unless Source replaces the client_credentials exchange; zero
// values of the other fields select defaults.
type Config struct {
	// Source, if set, fetches each token instead of a client_credentials
	// request, e.g. from AWS STS GetWebIdentityToken: the cache, its refresh
	// ahead of expiry, single flight, Check and OnFetch stay the same. The
	// token's Expiry should be set (a JWT's exp also counts; neither means
	// five minutes). TokenURL, ClientID, the client's credentials and the
	// request parameters must be empty with it. Its errors are not retried
	// within one fetch (AWS SDK clients retry on their own); the cache
	// retries failed fetches with backoff as always.
	Source func(ctx context.Context) (*oauth2.Token, error)
	// SourceName names Source in logs and errors, such as
	// "sts:GetWebIdentityToken"; default "token source".
	SourceName string
	// TokenURL is the OAuth2 token endpoint, an absolute http or https URL,
	// such as https://DOMAIN.auth.REGION.amazoncognito.com/oauth2/token.
	TokenURL string
	// ClientID is the app client's id.
	ClientID string
	// ClientSecret is the app client's secret. It never appears in errors or logs.
	ClientSecret string
	// Scopes are requested as a space-separated scope parameter; none
	// requests all the scopes the client may have (Cognito's behaviour).
	Scopes []string
	// AuthStyle says how to send the client id and secret; default Basic.
	AuthStyle AuthStyle
	// ClientKey signs the client assertions of AuthStylePrivateKeyJWT;
	// required with that style, when ClientSecret is not needed.
	ClientKey *ClientKey
	// AssertionAudience is the aud of client assertions: the authorization
	// server's issuer (RFC 7523bis and the MCP client-credentials extension),
	// or its token endpoint for servers that want that (Entra ID, Okta).
	// Required with AuthStylePrivateKeyJWT.
	AssertionAudience string
	// Resource, if set, is sent as the resource parameter (RFC 8707) of
	// every token request, refreshes included.
	Resource string
	// Audience, if set, is sent as the audience parameter of every token
	// request (Auth0, Okta custom authorization servers).
	Audience string
	// Params are sent with every token request as extra form parameters.
	// They may not set what the other fields set: grant_type, scope,
	// resource, audience, client_id, client_secret or client_assertion*.
	Params url.Values
	// HTTPClient makes the token requests. Nil selects a client with a
	// 10 s timeout on a clone of http.DefaultTransport. Its CheckRedirect
	// is replaced: token requests never follow a redirect
	// ([ErrTokenRedirect]).
	HTTPClient *http.Client
	// RefreshAhead is the fraction of a token's lifetime after which it is
	// refreshed in the background; it must lie in (0, 1). Zero selects 0.8.
	RefreshAhead float64
	// Jitter is the fraction of a token's lifetime by which the refresh
	// point varies either way, so that many processes do not refresh at
	// once; it must lie in [0, RefreshAhead). Zero selects 0.05.
	Jitter float64
	// MaxAttempts is how many times one fetch tries on network errors,
	// timeouts and 5xx answers, with backoff; 4xx answers are never retried.
	// Zero selects 3.
	MaxAttempts int
	// Logger receives fetch failures (warn) and successes (debug). Nil
	// discards logs.
	Logger *slog.Logger
	// Check, if set, vets every freshly fetched token before it is cached,
	// e.g. with a jwtcheck.Checker. A token it rejects is never handed out:
	// the fetch fails with ErrTokenRejected wrapping Check's error, and is
	// retried with backoff, so a fix at the IdP takes effect without a
	// restart.
	Check func(token string) error
	// OnFetch, if set, is called after every fetch, on the background
	// goroutine, before the callers waiting for that fetch are woken; it
	// should return quickly.
	OnFetch func(FetchResult)
	// SecretSource, if set, supplies the client secret as it changes
	// (rotation): each fetch uses its current value, and an invalid_client
	// answer makes the cache ask it to re-read its origin and, if the secret
	// changed, try once more. ClientSecret is still required: the value
	// read at start.
	SecretSource SecretSource
	// Redactor, if set, receives every credential the cache holds and
	// cleans the text it quotes; share one among the credential holders of
	// a program. Nil gives the cache a Redactor of its own.
	Redactor Redactor
	// Now is the cache's clock: it dates fetches and client assertions and
	// decides when a token is usable, due for refresh or worth retrying.
	// Nil means time.Now. The background loop still sleeps with Go's
	// timers, so a clock that jumps ahead takes effect at the next Token,
	// Warm or Invalidate call; tests that need both fake time and timers
	// run the cache inside a testing/synctest bubble instead.
	Now func() time.Time
}

// validate reports every problem with c at once.
func (c *Config) validate() error {
	var errs []error
	add := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...))
	}
	if c.Source != nil {
		errs = append(errs, c.validateSource()...)
	} else {
		if c.TokenURL == "" {
			add("TokenURL is empty: set the token endpoint URL, or take it from a discovery document's token_endpoint")
		} else if !isAbsoluteHTTP(c.TokenURL) {
			add("TokenURL %q: not an absolute http(s) URL", c.TokenURL)
		} else if _, err := secureurl.Check(c.TokenURL); err != nil {
			add("TokenURL %q: %v", c.TokenURL, err)
		}
		if c.ClientID == "" {
			add("ClientID is empty: set the client id")
		}
		switch c.AuthStyle {
		case AuthStyleBasic, AuthStylePost:
			if c.ClientSecret == "" {
				add("ClientSecret is empty: set the client secret")
			}
		case AuthStylePrivateKeyJWT:
			errs = append(errs, c.validateAssertion()...)
		default:
			add("AuthStyle %d: want AuthStyleBasic, AuthStylePost or AuthStylePrivateKeyJWT", int(c.AuthStyle))
		}
		errs = append(errs, c.validateParams()...)
	}
	ahead := c.RefreshAhead
	if ahead == 0 {
		ahead = DefaultRefreshAhead
	}
	if ahead <= 0 || ahead >= 1 {
		add("RefreshAhead %v: want a fraction of the token lifetime in (0, 1)", c.RefreshAhead)
	}
	if c.Jitter < 0 || (c.Jitter > 0 && c.Jitter >= ahead) {
		add("Jitter %v: want a fraction in [0, RefreshAhead)", c.Jitter)
	}
	if c.MaxAttempts < 0 {
		add("MaxAttempts %d: want 1 or more (0 selects %d)", c.MaxAttempts, DefaultMaxAttempts)
	}
	return errors.Join(errs...)
}

// isAbsoluteHTTP reports whether s is an absolute http or https URL with a host.
func isAbsoluteHTTP(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// withDefaults returns a copy of c with defaults for zero fields and its own
// copy of Scopes.
func (c Config) withDefaults() Config {
	if c.HTTPClient == nil {
		c.HTTPClient = defaultClient()
	}
	// A token request carries the secret or an assertion: a redirect would
	// send it again to wherever the token endpoint points.
	c.HTTPClient = secureurl.WithRedirects(c.HTTPClient, secureurl.NoRedirects)
	if c.RefreshAhead == 0 {
		c.RefreshAhead = DefaultRefreshAhead
	}
	if c.Jitter == 0 {
		c.Jitter = min(DefaultJitter, c.RefreshAhead/2)
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Source != nil && c.SourceName == "" {
		c.SourceName = "token source"
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	c.Scopes = append([]string(nil), c.Scopes...)
	c.Params = cloneValues(c.Params)
	return c
}

// Timing of fetches and of a token's use.
const (
	attemptBackoff = 200 * time.Millisecond // first pause between attempts of one fetch
	attemptTimeout = 30 * time.Second       // bound on one attempt, whatever the HTTP client's timeout
	retryMin       = time.Second            // first pause between failed fetches
	retryMax       = 30 * time.Second       // longest pause between failed fetches
	maxMargin      = 10 * time.Second       // longest safety margin before expiry
	missingExpiry  = 5 * time.Minute        // assumed lifetime when expires_in is absent (Cognito's minimum)
)

// validateSource reports settings that a Source makes meaningless: the
// client_credentials exchange and the credentials it would send.
func (c *Config) validateSource() []error {
	var errs []error
	unused := func(field string) {
		errs = append(errs, fmt.Errorf("%w: %s is set, but Source fetches the tokens: leave it empty", ErrInvalidConfig, field))
	}
	for _, f := range []struct {
		name string
		set  bool
	}{
		{"TokenURL", c.TokenURL != ""},
		{"ClientID", c.ClientID != ""},
		{"ClientSecret", c.ClientSecret != ""},
		{"ClientKey", c.ClientKey != nil},
		{"SecretSource", c.SecretSource != nil},
		{"AuthStyle", c.AuthStyle != AuthStyleBasic},
		{"AssertionAudience", c.AssertionAudience != ""},
		{"Scopes", len(c.Scopes) > 0},
		{"Resource", c.Resource != ""},
		{"Audience", c.Audience != ""},
		{"Params", len(c.Params) > 0},
	} {
		if f.set {
			unused(f.name)
		}
	}
	return errs
}
