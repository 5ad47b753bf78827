package tokencache

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/agentcore-proxy/agentcore-proxy/internal/backoff"
	"github.com/agentcore-proxy/agentcore-proxy/internal/secureurl"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/oauth2"
)

// Errors returned by [New] and [Cache.Token]. Each is wrapped with details such as the
// HTTP status, so test for them with errors.Is.
var (
	// ErrInvalidClient means the token endpoint answered invalid_client.
	ErrInvalidClient = errors.New("tokencache: the token endpoint rejected the client id or secret")
	// ErrInvalidScope means the token endpoint answered invalid_scope.
	ErrInvalidScope = errors.New("tokencache: the token endpoint rejected the requested scopes: each must be resourceServer/scope allowed for this app client")
	// ErrUnauthorizedClient means the token endpoint answered unauthorized_client.
	ErrUnauthorizedClient = errors.New("tokencache: the app client may not use the client_credentials grant: enable the client_credentials flow for this app client")
	// ErrUnsupportedGrantType means the token endpoint answered unsupported_grant_type.
	ErrUnsupportedGrantType = errors.New("tokencache: the token endpoint does not support the client_credentials grant: check the token URL and enable the client_credentials flow for this app client")
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
	c.syncSecret(ctx)
	cc, err := c.requestConfig(c.cfg.Now())
	if err != nil {
		return nil, err
	}
	tok, err := cc.Token(ctx)
	if err != nil {
		return nil, err
	}
	now := c.cfg.Now()
	// oauth2 dates expires_in by the wall clock; the cache's clock decides.
	switch {
	case tok.ExpiresIn > 0:
		tok.Expiry = now.Add(time.Duration(tok.ExpiresIn) * time.Second)
	case !tok.Expiry.IsZero(): // a form-encoded answer: no ExpiresIn kept
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
		return nil, fmt.Errorf("%w: %s answered a token that has already expired (expires_in %v)",
			ErrTokenEndpoint, c.cfg.TokenURL, tok.Expiry.Sub(now).Round(time.Second))
	}
	return tok, nil
}

// explain turns an error from the oauth2 package into one that names the
// setting to fix, and reports whether trying again could help.
func (c *Cache) explain(err error) (error, bool) {
	if errors.Is(err, ErrTokenEndpoint) {
		return err, false // already explained by attempt
	}
	var rd *secureurl.RedirectError
	if errors.As(err, &rd) {
		// Not retried: the endpoint is misconfigured or hostile. The
		// Location is shown without its query, where a hostile server could
		// echo the secret.
		return fmt.Errorf("%w: %s answered HTTP %d with Location %s; give the token endpoint itself (the URL the redirect points to, if you trust it)",
			ErrTokenRedirect, c.cfg.TokenURL, rd.Status, rd.Location), false
	}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		status := 0
		if re.Response != nil {
			status = re.Response.StatusCode
		}
		if sentinel, ok := oauthErrors[re.ErrorCode]; ok {
			detail := fmt.Sprintf("HTTP %d %s from %s", status, re.ErrorCode, c.cfg.TokenURL)
			if re.ErrorDescription != "" {
				detail += ": " + c.redact(re.ErrorDescription)
			}
			return fmt.Errorf("%w (%s)", sentinel, detail), false
		}
		detail := fmt.Sprintf("%s answered HTTP %d", c.cfg.TokenURL, status)
		if re.ErrorCode != "" {
			detail += " " + c.redact(re.ErrorCode)
		}
		if body := c.excerpt(re.Body); body != "" {
			detail += ": " + body
		}
		return fmt.Errorf("%w: %s", ErrTokenEndpoint, detail), status >= 500
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		// Unreachable, refused, reset or timed out: worth another try. The
		// message names the URL already.
		return c.scrub(fmt.Errorf("%w: %w", ErrTokenEndpoint, err)), true
	}
	if errors.Is(err, context.DeadlineExceeded) && c.ctx.Err() == nil {
		return fmt.Errorf("%w: %s: no answer within %v: %w", ErrTokenEndpoint, c.cfg.TokenURL, attemptTimeout, err), true
	}
	// A 2xx answer the oauth2 package could not use, such as malformed JSON
	// or a missing access_token.
	return c.scrub(fmt.Errorf("%w: %s: %w", ErrTokenEndpoint, c.cfg.TokenURL, err)), false
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

// scrub returns err unchanged unless its message holds a credential, in
// which case it returns an error with the credential redacted that still
// matches ErrTokenEndpoint but hides the original chain.
func (c *Cache) scrub(err error) error {
	msg := err.Error()
	if clean := c.redact(msg); clean != msg {
		return redactedError{msg: clean}
	}
	return err
}

// redactedError is an error whose original message held a credential.
type redactedError struct{ msg string }

func (e redactedError) Error() string { return e.msg }
func (e redactedError) Unwrap() error { return ErrTokenEndpoint }

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
