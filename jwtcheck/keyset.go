package jwtcheck

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/agentcore-proxy/agentcore-proxy/internal/backoff"
	"github.com/agentcore-proxy/agentcore-proxy/internal/capped"
	"github.com/golang-jwt/jwt/v5"
)

// Key set timing. Cognito rotates keys rarely and publishes the next key
// before signing with it, so a slow periodic refresh plus a refresh on an
// unknown kid keeps up.
const (
	fetchTimeout           = 10 * time.Second
	defaultRefreshInterval = 15 * time.Minute
	unknownKIDInterval     = time.Minute // at most one refresh per minute for unknown kids
	retryMin               = 250 * time.Millisecond
	retryMax               = 30 * time.Second
	// maxKeySetBytes bounds a key set document. jwkset decodes the answer
	// with no limit, so an identity provider answering without end would
	// otherwise grow the proxy's memory for the whole fetch timeout. A
	// Cognito key set is about 1 KB.
	maxKeySetBytes = 1 << 20
)

// errKeySetTooLarge fails a key set fetch whose answer passes maxKeySetBytes.
var errKeySetTooLarge = fmt.Errorf("the key set document is larger than %d bytes", maxKeySetBytes)

// errNotLoaded is returned by keySet.key before the first successful fetch.
var errNotLoaded = errors.New("no key set loaded")

// keySet holds the keys published at jwks_uri and keeps them fresh.
//
// Fetching and parsing are jwkset's; the schedule is ours. jwkset's own
// refresh goroutine (HTTPClientStorageOptions.RefreshInterval) does not suit
// a proxy: its first fetch blocks the constructor for up to HTTPTimeout, a
// failed first fetch is not retried until the next interval, success is not
// reported, and the goroutine cannot be waited for. So each fetch calls
// jwkset.NewStorageFromHTTP without RefreshInterval, which (as documented)
// performs one request into the given storage and starts no goroutine, and
// replaces the stored keys only on success.
type keySet struct {
	url       string
	client    *http.Client
	store     *jwkset.MemoryJWKSet
	kf        keyfunc.Keyfunc
	ctx       context.Context // the Checker's lifetime
	interval  time.Duration
	log       *slog.Logger
	onRefresh func(error)
	now       func() time.Time

	fetchMu sync.Mutex // one fetch at a time: OnRefresh calls never overlap, an old answer never replaces a newer one
	kidMu   sync.Mutex // one unknown-kid refresh at a time; the others wait for its result
	lastKID time.Time  // when an unknown kid last caused a refresh; guarded by kidMu

	mu       sync.Mutex
	loaded   bool
	attempts int
	lastErr  error

	firstTry chan struct{} // closed when the first fetch has finished, successful or not
	ready    chan struct{} // closed at the first successful fetch
	done     chan struct{} // closed when run returns
}

func newKeySet(ctx context.Context, cfg Config) (*keySet, error) {
	store := jwkset.NewMemoryStorage()
	kf, err := keyfunc.New(keyfunc.Options{Ctx: ctx, Storage: store})
	if err != nil {
		return nil, fmt.Errorf("jwtcheck: key set: %w", err)
	}
	client := *cfg.HTTPClient
	client.Transport = capped.Transport{Base: client.Transport, Max: maxKeySetBytes, Err: errKeySetTooLarge}
	return &keySet{
		url: cfg.JWKSURI, client: &client, store: store, kf: kf, ctx: ctx,
		interval: cfg.RefreshInterval, log: cfg.Logger, onRefresh: cfg.OnRefresh, now: cfg.Now,
		firstTry: make(chan struct{}), ready: make(chan struct{}), done: make(chan struct{}),
	}, nil
}

// run fetches the key set now, then every interval; after a failure it
// retries with exponential backoff and jitter, keeping the keys it has. It returns when
// ctx is done.
func (k *keySet) run(ctx context.Context) {
	defer close(k.done)
	retry := backoff.Policy{Base: retryMin, Max: retryMax}
	failures := 0
	for {
		wait := k.interval
		if err := k.fetch(ctx); err != nil {
			failures++
			wait = retry.Delay(failures)
		} else {
			failures = 0
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// fetch loads the key set once and records the outcome.
func (k *keySet) fetch(ctx context.Context) error {
	k.fetchMu.Lock()
	defer k.fetchMu.Unlock()
	_, err := jwkset.NewStorageFromHTTP(k.url, jwkset.HTTPClientStorageOptions{
		Client: k.client, Ctx: ctx, HTTPTimeout: fetchTimeout, Storage: k.store,
	})
	n := 0
	if err == nil {
		keys, _ := k.store.KeyReadAll(ctx)
		if n = len(keys); n == 0 {
			err = fmt.Errorf("the key set at %s has no supported key", k.url)
		}
	}

	k.mu.Lock()
	k.attempts++
	if k.attempts == 1 {
		close(k.firstTry)
	}
	k.lastErr = err
	if err == nil && !k.loaded {
		k.loaded = true
		close(k.ready)
	}
	k.mu.Unlock()

	if err != nil {
		k.log.Warn("jwtcheck: key set fetch failed", "url", k.url, "err", err)
	} else {
		k.log.Debug("jwtcheck: key set loaded", "url", k.url, "keys", n)
	}
	if k.onRefresh != nil {
		k.onRefresh(err)
	}
	return err
}

// readyErr is nil once a key set has loaded, else ErrKeySetNotLoaded with the
// last fetch error.
func (k *keySet) readyErr() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	switch {
	case k.loaded:
		return nil
	case k.lastErr == nil:
		return fmt.Errorf("%w from %s: the first fetch has not finished", ErrKeySetNotLoaded, k.url)
	default:
		return fmt.Errorf("%w from %s (attempt %d): %w", ErrKeySetNotLoaded, k.url, k.attempts, k.lastErr)
	}
}

// key returns the verification key for t. A kid the key set does not hold
// causes one refresh (see refreshForKID), since the provider may have rotated
// its keys since the last fetch.
func (k *keySet) key(t *jwt.Token) (any, error) {
	select {
	case <-k.ready:
	default:
		// Wait for the first fetch so that a Check right after New does not
		// fail for nothing; never for the retries after it.
		select {
		case <-k.firstTry:
		case <-k.done:
		}
		if k.readyErr() != nil {
			return nil, errNotLoaded
		}
	}
	key, err := k.kf.Keyfunc(t)
	if !errors.Is(err, jwkset.ErrKeyNotFound) {
		return key, err
	}
	kid, _ := t.Header["kid"].(string)
	if k.refreshForKID(kid) {
		return k.kf.Keyfunc(t)
	}
	return nil, err
}

// refreshForKID fetches the key set if kid is still unknown and no unknown
// kid caused a fetch in the last unknownKIDInterval, so that a stream of
// forged kids cannot hammer jwks_uri. It reports whether kid may now be known.
func (k *keySet) refreshForKID(kid string) bool {
	k.kidMu.Lock()
	defer k.kidMu.Unlock()
	if _, err := k.store.KeyRead(k.ctx, kid); err == nil {
		return true // fetched while we waited for kidMu
	}
	now := k.now()
	if !k.lastKID.IsZero() && now.Sub(k.lastKID) < unknownKIDInterval {
		return false
	}
	k.lastKID = now
	return k.fetch(k.ctx) == nil
}
