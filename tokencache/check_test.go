package tokencache

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// TestCheckRejectsToken: a token that Check rejects is never handed out,
// the reason is kept for readiness, and the background retry picks up a
// token that passes once the IdP side is fixed.
func TestCheckRejectsToken(t *testing.T) {
	errAud := errors.New("token has no aud claim")
	var reject atomic.Bool
	reject.Store(true)
	idp := newFakeIdP(t, 3600)
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
	deadline := time.Now().Add(10 * time.Second)
	for {
		tok, err = c.Token(t.Context())
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Token() still failing 10 s after the fix: %v", err)
		}
		time.Sleep(50 * time.Millisecond) // polling for the background retry
	}
	if got := len(idp.issuedTokens()); got < 2 || tok != idp.issuedTokens()[got-1].token {
		t.Errorf("after the fix: %d tokens issued, got %q; want the newest of at least 2", got, tok)
	}
}
