package tokencache

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/agentcore-proxy/agentcore-proxy/internal/backoff"
	"github.com/agentcore-proxy/agentcore-proxy/internal/secureurl"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/oauth2"
)

// Errors returned by [New] and [Cache.Token]. A failed token request is a
// [*TokenError] wrapping one of the first six; test for them with
// errors.Is. They state what the token endpoint said; what to change at
// the identity provider is for the caller to say (agentcore-proxy's reason
// catalogue, via [TokenError.Reason]).
var (
	// ErrInvalidClient means the token endpoint answered invalid_client:
	// it did not accept the client's authentication.
	ErrInvalidClient = errors.New("tokencache: the token endpoint rejected the client id or secret")
	// ErrInvalidScope means the token endpoint answered invalid_scope.
	ErrInvalidScope = errors.New("tokencache: the token endpoint rejected the requested scopes")
	// ErrUnauthorizedClient means the token endpoint answered
	// unauthorized_client: the client may not use the client_credentials
	// grant.
	ErrUnauthorizedClient = errors.New("tokencache: the client may not use the client_credentials grant")
	// ErrUnsupportedGrantType means the token endpoint answered
	// unsupported_grant_type.
	ErrUnsupportedGrantType = errors.New("tokencache: the token endpoint does not support the client_credentials grant")
	// ErrTokenEndpoint means a token request failed for another reason: the
	// endpoint was unreachable or timed out, answered with another error, or
	// sent a response that is not a usable token.
	ErrTokenEndpoint = errors.New("tokencache: token request failed")
	// ErrTokenRedirect means the token endpoint answered a redirect, which
	// token requests never follow: the client's credentials would go again
	// to wherever it points. It wraps ErrTokenEndpoint.
	ErrTokenRedirect = fmt.Errorf("%w: the token endpoint answered a redirect, which a request carrying client credentials never follows", ErrTokenEndpoint)
	// ErrTokenRejected means Config.Check rejected a fetched token.
	ErrTokenRejected = errors.New("tokencache: the token endpoint's token would be rejected")
	// ErrClosed means the context given to New is done, so the cache no
	// longer fetches tokens.
	ErrClosed = errors.New("tokencache: cache stopped: its context is done")
	// ErrTokenSource means Config.Source failed; it wraps the source's
	// error, so that the source's own typed errors stay reachable with
	// errors.As.
	ErrTokenSource = errors.New("tokencache: token source failed")
	// ErrInvalidConfig wraps each problem New finds in a Config.
	ErrInvalidConfig = errors.New("tokencache: invalid config")
)

// oauthErrors maps RFC 6749 error codes to the sentinels that explain them.
var oauthErrors = map[string]error{
	"invalid_client":         ErrInvalidClient,
	"invalid_scope":          ErrInvalidScope,
	"unauthorized_client":    ErrUnauthorizedClient,
	"unsupported_grant_type": ErrUnsupportedGrantType,
}

// retrieve fetches one token, retrying network errors, timeouts and 5xx
// answers up to MaxAttempts times. Its error is safe to show: it holds
// neither the client secret nor a token.
func (c *Cache) retrieve() (*oauth2.Token, error) {
	ctx := context.WithValue(c.ctx, oauth2.HTTPClient, c.cfg.HTTPClient)
	for attempt := 1; ; attempt++ {
		tok, err := c.attempt(ctx)
		if err != nil && c.rotated(ctx, err) {
			tok, err = c.attempt(ctx)
		}
		if err == nil {
			return tok, nil
		}
		err, retry := c.explain(err)
		if !retry || attempt >= c.cfg.MaxAttempts || c.ctx.Err() != nil {
			return nil, err
		}
		pause := backoff.Policy{Base: attemptBackoff, Max: retryMax}.Delay(attempt)
		t := time.NewTimer(pause)
		select {
		case <-t.C:
		case <-c.ctx.Done():
			t.Stop()
			return nil, err
		}
	}
}

// attempt makes one token request and checks the token it gets.
func (c *Cache) attempt(ctx context.Context) (*oauth2.Token, error) {
	ctx, cancel := context.WithTimeout(ctx, attemptTimeout)
	defer cancel()
	tok, err := c.exchange(ctx)
	if err != nil {
		return nil, err
	}
	now := c.cfg.Now()
	// oauth2 dates expires_in by the wall clock; the cache's clock decides.
	switch {
	case tok.ExpiresIn > 0:
		tok.Expiry = now.Add(time.Duration(tok.ExpiresIn) * time.Second)
	case !tok.Expiry.IsZero() && c.cfg.Source == nil: // a form-encoded answer: no ExpiresIn kept
		tok.Expiry = now.Add(time.Until(tok.Expiry).Round(time.Second))
	}
	if tok.Expiry.IsZero() {
		// No expires_in: oauth2 would treat the token as eternal.
		tok.Expiry = now.Add(missingExpiry)
	}
	// expires_in counts from when the answer arrived, but a JWT's exp counts
	// from its iat, truncated to the second: trust whichever ends first, or
	// a token can expire up to a second before we think it does.
	if exp, ok := jwtExpiry(tok.AccessToken); ok && exp.Before(tok.Expiry) {
		tok.Expiry = exp
	}
	if !tok.Expiry.After(now) {
		return nil, &TokenError{Err: ErrTokenEndpoint, TokenURL: c.cfg.TokenURL, Status: http.StatusOK,
			msg: fmt.Sprintf("%v: %s answered a token that has already expired (expires_in %v)",
				ErrTokenEndpoint, c.origin(), tok.Expiry.Sub(now).Round(time.Second))}
	}
	return tok, nil
}

// exchange gets one token from Config.Source or, without one, by a
// client_credentials request.
func (c *Cache) exchange(ctx context.Context) (*oauth2.Token, error) {
	if c.cfg.Source != nil {
		tok, err := c.cfg.Source(ctx)
		if err != nil {
			return nil, sourceError{name: c.cfg.SourceName, err: err}
		}
		if tok == nil || tok.AccessToken == "" {
			return nil, fmt.Errorf("%w: %s returned no token", ErrTokenEndpoint, c.cfg.SourceName)
		}
		return tok, nil
	}
	c.syncSecret(ctx)
	cc, err := c.requestConfig(c.cfg.Now())
	if err != nil {
		return nil, err
	}
	return cc.Token(ctx)
}

// origin names where tokens come from, for logs and errors: the token
// endpoint, or Config.SourceName.
func (c *Cache) origin() string {
	if c.cfg.Source != nil {
		return c.cfg.SourceName
	}
	return c.cfg.TokenURL
}

// sourceError is a failure of Config.Source. It matches ErrTokenSource and
// keeps the source's error reachable.
type sourceError struct {
	name string
	err  error
}

func (e sourceError) Error() string {
	return ErrTokenSource.Error() + ": " + e.name + ": " + e.err.Error()
}
func (e sourceError) Unwrap() []error { return []error{ErrTokenSource, e.err} }

// explain turns an error from the oauth2 package into a [*TokenError] that
// says what failed, and reports whether trying again could help.
func (c *Cache) explain(err error) (error, bool) {
	if errors.Is(err, ErrTokenSource) {
		return err, false // the source's own error
	}
	var te *TokenError
	if errors.As(err, &te) {
		return te, te.retry // already explained by attempt
	}
	e := &TokenError{Err: ErrTokenEndpoint, TokenURL: c.cfg.TokenURL, cause: err}
	var rd *secureurl.RedirectError
	if errors.As(err, &rd) {
		// Not retried: the endpoint is misconfigured or hostile. The
		// Location is shown without its query, where a hostile server could
		// echo the secret.
		e.Err, e.Status, e.cause = ErrTokenRedirect, rd.Status, rd
		e.msg = fmt.Sprintf("%v: %s answered HTTP %d with Location %s; give the token endpoint itself (the URL the redirect points to, if you trust it)",
			ErrTokenRedirect, c.cfg.TokenURL, rd.Status, rd.Location)
		return e, false
	}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		e.cause, e.Code = re, re.ErrorCode
		if re.Response != nil {
			e.Status = re.Response.StatusCode
		}
		if sentinel, ok := oauthErrors[re.ErrorCode]; ok {
			detail := fmt.Sprintf("HTTP %d %s from %s", e.Status, re.ErrorCode, c.cfg.TokenURL)
			if re.ErrorDescription != "" {
				detail += ": " + c.redact(re.ErrorDescription)
			}
			e.Err, e.msg = sentinel, fmt.Sprintf("%v (%s)", sentinel, detail)
			return e, false
		}
		detail := fmt.Sprintf("%s answered HTTP %d", c.cfg.TokenURL, e.Status)
		if re.ErrorCode != "" {
			detail += " " + c.redact(re.ErrorCode)
		}
		if body := c.excerpt(re.Body); body != "" {
			detail += ": " + body
		}
		e.msg, e.retry = fmt.Sprintf("%v: %s", ErrTokenEndpoint, detail), e.Status >= 500
		return e, e.retry
	}
	var ue *url.Error
	switch {
	case errors.As(err, &ue):
		// Unreachable, refused, reset or timed out: worth another try. The
		// message names the URL already.
		e.msg, e.retry = fmt.Sprintf("%v: %v", ErrTokenEndpoint, err), true
	case errors.Is(err, context.DeadlineExceeded) && c.ctx.Err() == nil:
		e.msg, e.retry = fmt.Sprintf("%v: %s: no answer within %v: %v", ErrTokenEndpoint, c.cfg.TokenURL, attemptTimeout, err), true
	default:
		// A 2xx answer the oauth2 package could not use, such as malformed
		// JSON or a missing access_token.
		e.msg = fmt.Sprintf("%v: %s: %v", ErrTokenEndpoint, c.cfg.TokenURL, err)
	}
	return c.scrub(e), e.retry
}

// excerpt returns the start of an error response body fit for an error
// message, or "" if there is none or it might hold a token.
func (c *Cache) excerpt(body []byte) string {
	s := string(body)
	if strings.Contains(s, "access_token") {
		return "(body withheld: it mentions access_token)"
	}
	s = strings.Join(strings.FieldsFunc(strings.ToValidUTF8(s, "?"), func(r rune) bool {
		return unicode.IsSpace(r) || !unicode.IsPrint(r)
	}), " ")
	const limit = 200
	if len(s) > limit {
		s = strings.ToValidUTF8(s[:limit], "") + "..."
	}
	return c.redact(s)
}

// redact replaces the credentials the cache holds (the client secret in
// any encoding, tokens, client assertions, the key) with fingerprints.
func (c *Cache) redact(s string) string { return c.red.Redact(s) }

// scrub redacts the message of e and, if it held a credential, drops the
// cause that quoted it, so that no error in the chain holds it.
func (c *Cache) scrub(e *TokenError) *TokenError {
	if clean := c.redact(e.msg); clean != e.msg {
		e.msg, e.cause = clean, nil
	}
	return e
}

// retryDelay returns the pause after the n-th consecutive failed fetch:
// exponential from one second up to 30 s, with jitter.
func retryDelay(n int) time.Duration {
	return max(retryMin, backoff.Policy{Base: retryMin, Max: retryMax}.Delay(n))
}

// randFloat returns a pseudo-random number in [0, 1).
func randFloat() float64 {
	return rand.Float64()
}

// jwtExpiry returns the exp claim of token if it is a JWT. The signature is
// not checked: exp only tells the cache when to stop using the token.
func jwtExpiry(token string) (time.Time, bool) {
	claims := jwt.RegisteredClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(token, &claims); err != nil || claims.ExpiresAt == nil {
		return time.Time{}, false
	}
	return claims.ExpiresAt.Time, true
}
