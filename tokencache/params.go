package tokencache

import (
	"fmt"
	"maps"
	"net/url"
	"slices"
	"time"

	"golang.org/x/oauth2/clientcredentials"
)

// reservedParams are the token request parameters Config.Params may not set:
// the cache or another Config field owns them.
var reservedParams = []string{
	"grant_type", "scope", "resource", "audience",
	"client_id", "client_secret", "client_assertion", "client_assertion_type",
}

// validateAssertion checks the fields private_key_jwt needs.
func (c *Config) validateAssertion() []error {
	var errs []error
	if c.ClientKey == nil {
		errs = append(errs, fmt.Errorf("%w: ClientKey is nil: private_key_jwt needs a private key to sign client assertions", ErrInvalidConfig))
	}
	if c.AssertionAudience == "" {
		errs = append(errs, fmt.Errorf("%w: AssertionAudience is empty: private_key_jwt needs the assertion's aud, the authorization server's issuer or token endpoint", ErrInvalidConfig))
	}
	return errs
}

// validateParams checks Resource and Params.
func (c *Config) validateParams() []error {
	var errs []error
	if c.Resource != "" {
		if u, err := url.Parse(c.Resource); err != nil || !u.IsAbs() || u.Fragment != "" {
			errs = append(errs, fmt.Errorf("%w: Resource %q: not an absolute URI without fragment (RFC 8707 §2)", ErrInvalidConfig, c.Resource))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(c.Params)) {
		switch {
		case k == "":
			errs = append(errs, fmt.Errorf("%w: Params has an empty parameter name", ErrInvalidConfig))
		case slices.Contains(reservedParams, k):
			errs = append(errs, fmt.Errorf("%w: Params may not set %q: the cache sets it from its own fields", ErrInvalidConfig, k))
		}
	}
	return errs
}

// requestConfig returns the client_credentials configuration for one token
// request made at now: the fixed parameters and, for private_key_jwt, a
// new client assertion, since an assertion's jti may be used only once.
func (c *Cache) requestConfig(now time.Time) (*clientcredentials.Config, error) {
	cc := c.cc
	params := cloneValues(c.cfg.Params)
	if c.cfg.Resource != "" {
		params.Set("resource", c.cfg.Resource)
	}
	if c.cfg.Audience != "" {
		params.Set("audience", c.cfg.Audience)
	}
	if c.cfg.AuthStyle == AuthStylePrivateKeyJWT {
		a, err := c.cfg.ClientKey.Assertion(c.cfg.ClientID, c.cfg.AssertionAudience, now)
		if err != nil {
			return nil, &TokenError{Err: ErrTokenEndpoint, TokenURL: c.cfg.TokenURL, cause: err,
				msg: fmt.Sprintf("%v: %v", ErrTokenEndpoint, err)}
		}
		c.red.AddToken(a) // an IdP may echo the form it got
		params.Set("client_assertion_type", ClientAssertionType)
		params.Set("client_assertion", a)
		cc.ClientSecret = "" // never sent alongside an assertion
	}
	cc.EndpointParams = params
	return &cc, nil
}

// cloneValues returns a deep copy of v, never nil.
func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}
