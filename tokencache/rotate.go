package tokencache

import (
	"context"
	"errors"

	"github.com/agentcore-proxy/agentcore-proxy/internal/redact"
	"golang.org/x/oauth2"
)

// SecretSource supplies a client secret that may change while a [Cache]
// runs: a file a secret volume updates, or a secret store that rotates it.
type SecretSource interface {
	// Secret returns the current value. A source may re-read a cheap
	// origin (a file that changed) here.
	Secret(ctx context.Context) (string, error)
	// Reload reads the origin again and reports whether the value changed.
	// A source may throttle it (returning false, nil).
	Reload(ctx context.Context) (changed bool, err error)
}

// syncSecret takes the source's current secret for the next request. A
// source that fails keeps the secret in use: the token endpoint decides.
// Only the background loop calls it, as it alone makes requests.
func (c *Cache) syncSecret(ctx context.Context) {
	src := c.cfg.SecretSource
	if src == nil {
		return
	}
	s, err := src.Secret(ctx)
	if err != nil {
		c.log.Warn("could not read the client secret; using the one held", "err", err)
		return
	}
	c.setSecret(s)
}

// rotated reports whether err is an invalid_client answer after which the
// source yielded a new secret, worth one more try.
func (c *Cache) rotated(ctx context.Context, err error) bool {
	src := c.cfg.SecretSource
	var re *oauth2.RetrieveError
	if src == nil || !errors.As(err, &re) || re.ErrorCode != "invalid_client" {
		return false
	}
	changed, rerr := src.Reload(ctx)
	if rerr != nil {
		c.log.Warn("the token endpoint answered invalid_client and re-reading the client secret failed", "err", rerr)
		return false
	}
	if !changed {
		return false
	}
	s, serr := src.Secret(ctx)
	if serr != nil || s == "" {
		return false
	}
	old := c.cfg.ClientSecret
	c.setSecret(s)
	c.log.Info("the token endpoint answered invalid_client; retrying with the re-read client secret",
		"old_fingerprint", redact.Fingerprint(old), "fingerprint", redact.Fingerprint(s), "token_url", c.cfg.TokenURL)
	return true
}

// setSecret uses s from the next request on, and redacts it from errors.
func (c *Cache) setSecret(s string) {
	if s == "" || s == c.cfg.ClientSecret {
		return
	}
	c.red.AddSecret(c.cfg.ClientID, s)
	c.cfg.ClientSecret = s
	c.cc.ClientSecret = s
}
