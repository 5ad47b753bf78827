package tokencache

import (
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/agentcore-proxy/agentcore-proxy/internal/redact"
)

// TestCheckRejectsToken: a token that Check rejects is never handed out,
// the reason is kept for readiness, and the background retry picks up a
// token that passes once the IdP side is fixed.
func TestCheckRejectsToken(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		errAud := errors.New("token has no aud claim")
		var reject atomic.Bool
		reject.Store(true)
		idp := newBubbleIdP(t, 3600)
		c := newTestCache(t, idp, &syncBuffer{}, func(cfg *Config) {
			cfg.Check = func(string) error {
				if reject.Load() {
					return errAud
				}
				return nil
			}
		})
		tok, err := c.Token(t.Context())
		if !errors.Is(err, ErrTokenRejected) || !errors.Is(err, errAud) || tok != "" {
			t.Fatalf("Token() = %q, %v; want no token and an error that Is ErrTokenRejected and the check's error", tok, err)
		}
		if st := c.State(); st.Valid || !errors.Is(st.LastError, errAud) {
			t.Errorf("State() = %+v, want not valid with the check's error", st)
		}
		reject.Store(false)
		// The background retry comes after the first retry delay (at most
		// 1.2 s); the bubble's clock gets there as soon as all wait.
		time.Sleep(retryMin * 12 / 10)
		synctest.Wait()
		tok, err = c.Token(t.Context())
		if err != nil {
			t.Fatalf("Token() %v after the fix = %v, want the background retry's token", retryMin*12/10, err)
		}
		if got := len(idp.issuedTokens()); got != 2 || tok != idp.issuedTokens()[got-1].token {
			t.Errorf("after the fix: %d tokens issued, got %q; want the second", got, redact.Fingerprint(tok))
		}
	})
}
