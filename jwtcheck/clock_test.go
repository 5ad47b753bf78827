package jwtcheck

import (
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/agentcore-proxy/agentcore-proxy/internal/inprocess"
)

// fakeClock is a Config.Now that moves only when told.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// TestConfigNow: exp and the once-a-minute refresh for an unknown kid follow
// Config.Now, so an hour and a minute pass without waiting for them.
func TestConfigNow(t *testing.T) {
	emu := startEmulator(t)
	clock := &fakeClock{now: time.Now()}
	var fetches atomic.Int32
	c := newReadyChecker(t, emu, Config{Now: clock.Now, OnRefresh: func(error) { fetches.Add(1) }})
	token := accessToken(t, emu) // an hour's lifetime
	if _, err := c.Check(token); err != nil {
		t.Fatalf("Check(fresh token) = %v, want nil", err)
	}

	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	forged := func(kid string) string {
		return sign(t, key, kid, jwt.MapClaims{"iss": emu.Issuer(), "client_id": demoClient, "exp": clock.Now().Add(time.Hour).Unix()})
	}
	for i, tt := range []struct {
		wait        time.Duration
		wantFetches int32
	}{
		{wait: 0, wantFetches: 2},                                // the first unknown kid refreshes
		{wait: unknownKIDInterval - time.Second, wantFetches: 2}, // within the minute: no refresh
		{wait: time.Second, wantFetches: 3},                      // a minute after the last: one more
	} {
		clock.advance(tt.wait)
		if _, err := c.Check(forged("forged")); !errors.Is(err, ErrUnknownKey) {
			t.Errorf("Check(unknown kid #%d) = %v, want %v", i+1, err, ErrUnknownKey)
		}
		if got := fetches.Load(); got != tt.wantFetches {
			t.Errorf("key set fetches after unknown kid #%d (+%v by Config.Now) = %d, want %d", i+1, tt.wait, got, tt.wantFetches)
		}
	}

	clock.advance(time.Hour + 5*time.Second) // past exp plus the default leeway
	_, err = c.Check(token)
	if !errors.Is(err, ErrExpired) {
		t.Errorf("Check(token) an hour later by Config.Now = %v, want %v", err, ErrExpired)
	}
}

// TestKeySetRetriesInBubble: a key set that answers 503 is fetched again
// with backoff from 250 ms, and the Checker is ready at the first fetch
// after the provider comes up. The bubble's clock measures the pauses; the
// key set is the emulator's, served in process.
func TestKeySetRetriesInBubble(t *testing.T) {
	emu := startEmulator(t)
	token := accessToken(t, emu)
	resp, err := http.Get(jwksURI(emu))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d, %v", jwksURI(emu), resp.StatusCode, err)
	}

	synctest.Test(t, func(t *testing.T) {
		var up atomic.Bool
		var mu sync.Mutex
		var at []time.Time // when each request came
		tr := &inprocess.Transport{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			at = append(at, time.Now())
			mu.Unlock()
			if !up.Load() {
				http.Error(w, "starting", http.StatusServiceUnavailable)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.Write(doc)
		})}
		t.Cleanup(func() { tr.Close() })
		c, err := New(t.Context(), Config{Issuer: emu.Issuer(), JWKSURI: "http://127.0.0.1/jwks", HTTPClient: &http.Client{Transport: tr}})
		if err != nil {
			t.Fatalf("New() = %v, want nil", err)
		}
		start := time.Now()
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if err := c.Ready(); !errors.Is(err, ErrKeySetNotLoaded) || !strings.Contains(err.Error(), "503") {
			t.Errorf("Ready() = %v, want %v mentioning 503", err, ErrKeySetNotLoaded)
		}
		mu.Lock()
		tries := append([]time.Time(nil), at...)
		mu.Unlock()
		// 0, then pauses of 250 ms, 500 ms, 1 s (±20%): 4 requests in 2 s.
		if len(tries) != 4 {
			t.Fatalf("key set requests in the first 2 s = %d at %v, want 4 (backoff from %v)", len(tries), tries, retryMin)
		}
		for i, want := range []time.Duration{retryMin, 2 * retryMin, 4 * retryMin} {
			if gap := tries[i+1].Sub(tries[i]); gap < want*8/10 || gap > want*12/10 {
				t.Errorf("pause before request %d = %v, want %v ±20%%", i+2, gap, want)
			}
		}

		up.Store(true)
		if err := c.WaitReady(t.Context()); err != nil {
			t.Fatalf("WaitReady() = %v, want nil once the key set answers", err)
		}
		if took, most := time.Since(start), 2*time.Second+8*retryMin*12/10; took > most {
			t.Errorf("ready %v after New, want within %v (the next retry)", took, most)
		}
		if _, err := c.Check(token); err != nil {
			t.Errorf("Check() = %v, want nil", err)
		}
	})
}
