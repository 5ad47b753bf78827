package tokencache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
)

// Step-up limits, per StepUpSource (one per route). A route's scope sets
// only grow (each step-up asks for the union of the scopes held and those
// challenged), so the first
// limit bounds how many times a route can step up and the second how large
// the scope list can grow, whatever an upstream asks for.
const (
	// MaxStepUpSets is how many scope sets a route may step up to, besides
	// its own.
	MaxStepUpSets = 8
	// MaxStepUpScopeBytes is the longest scope parameter a step-up may
	// send: the space-separated union of the scopes.
	MaxStepUpScopeBytes = 1024
	// StepUpRefusedFor is how long a scope set the identity provider
	// refused is not asked for again: an upstream that keeps challenging
	// for it must not turn every client request into a token request,
	// which would spend the client's token quota (Cognito throttles it) and
	// so starve the route's own refreshes.
	StepUpRefusedFor = time.Minute
)

// ErrStepUpRefused means a StepUpSource may not request the scopes asked
// for: step-up is off, a limit is hit, the scope list does not allow them,
// or the identity provider refused them lately.
var ErrStepUpRefused = errors.New("tokencache: step-up refused")

// StepUpConfig shapes a StepUpSource.
type StepUpConfig struct {
	// Config is the base cache's configuration as this source's user sees
	// it (its Logger and OnFetch, say, name the route): a step-up starts a
	// cache like it with more scopes. Its Scopes, if any, bound what a
	// step-up may request; none: any scope.
	Config Config
	// Off refuses every step-up at once: the upstream's insufficient_scope
	// answer goes to the client.
	Off bool
}

// StepUpSource is a token source that starts as a Cache and can step up to
// a token with more scopes when the upstream answers 403
// insufficient_scope (MCP 2025-11-25), the way x/oauth2's
// ReuseTokenSource wraps a TokenSource. After a step-up it hands out the
// larger token from then on, so the 403 comes once; a step-up the identity
// provider refuses leaves it as it was. Give each route its own, even when
// routes share the base cache.
type StepUpSource struct {
	base *Cache
	cfg  Config
	log  *slog.Logger
	off  bool
	// newCache starts a token cache (New; a seam for tests).
	newCache func(context.Context, Config) (*Cache, error)

	// step lets one step-up run at a time, so that concurrent 403s for the
	// same scopes make one token request.
	step chan struct{}

	mu      sync.Mutex
	current *steppedCache // nil until a step-up succeeds
	sets    int           // scope sets stepped up to so far
	// refused holds when the identity provider last refused each scope
	// set (its scope parameter), at most MaxStepUpSets of them.
	refused map[string]time.Time
	now     func() time.Time
}

// steppedCache is a token cache for a stepped-up scope set.
type steppedCache struct {
	cache  *Cache
	scopes []string // sorted
	stop   context.CancelFunc
}

// StepUp returns a StepUpSource over base. Stepped-up caches live as long
// as base does.
func StepUp(base *Cache, cfg StepUpConfig) *StepUpSource {
	c := cfg.Config
	c.Scopes = slices.Clone(c.Scopes)
	log := c.Logger
	if log == nil {
		log = base.log
	}
	return &StepUpSource{base: base, cfg: c, log: log, off: cfg.Off, newCache: New, step: make(chan struct{}, 1),
		refused: map[string]time.Time{}, now: base.cfg.Now}
}

// cache returns the cache in use now: the stepped-up one, if any.
func (s *StepUpSource) cache() *Cache {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.current != nil {
		return s.current.cache
	}
	return s.base
}

// Token returns a valid token from the cache in use: the stepped-up one
// after a step-up, the base one before.
func (s *StepUpSource) Token(ctx context.Context) (string, error) { return s.cache().Token(ctx) }

// Invalidate drops token from the cache in use (see Cache.Invalidate).
func (s *StepUpSource) Invalidate(token string) { s.cache().Invalidate(token) }

// State reports the cache in use.
func (s *StepUpSource) State() State { return s.cache().State() }

// StepUp returns a token with the union of the scopes held and want, and
// hands it out from then on. When it fails, whether refused here
// (ErrStepUpRefused) or by the identity provider, the source keeps the
// token it had.
func (s *StepUpSource) StepUp(ctx context.Context, want []string) (string, error) {
	if s.off {
		s.log.Info("step-up is off: the upstream's insufficient_scope answer goes to the client")
		return "", fmt.Errorf("%w: step-up is off", ErrStepUpRefused)
	}
	// Bound the work before looking at the scopes: the challenge comes from
	// the upstream and may be as large as a response header.
	if n := len(strings.Join(want, " ")); n > MaxStepUpScopeBytes {
		return "", s.refuse("scope_bytes", "the scopes asked for are longer than a step-up may request", "bytes", n)
	}
	if allowed := s.cfg.Scopes; len(allowed) > 0 {
		var missing []string
		for _, w := range want {
			if !slices.Contains(allowed, w) {
				missing = append(missing, w)
			}
		}
		if len(missing) > 0 {
			s.log.Warn("the upstream asks for scopes the route may not request",
				"missing", strings.Join(missing, " "), "allowed", strings.Join(allowed, " "))
			return "", fmt.Errorf("%w: %s", ErrStepUpRefused, strings.Join(missing, " "))
		}
	}

	select {
	case s.step <- struct{}{}:
		defer func() { <-s.step }()
	case <-ctx.Done():
		return "", ctx.Err()
	}
	s.mu.Lock()
	held, cur := s.cfg.Scopes, s.current
	if cur != nil {
		held = cur.scopes
	}
	sets := s.sets
	s.mu.Unlock()

	union := slices.Clone(held)
	for _, w := range want {
		if !slices.Contains(union, w) {
			union = append(union, w)
		}
	}
	slices.Sort(union)
	if len(union) == len(held) {
		if cur != nil {
			// Another request stepped up to these scopes meanwhile.
			return cur.cache.Token(ctx)
		}
		s.log.Warn("the upstream asks for scopes the route's token was requested with", "scopes", strings.Join(want, " "))
		return "", fmt.Errorf("%w: the token was requested with these scopes", ErrStepUpRefused)
	}
	key := strings.Join(union, " ")
	if len(key) > MaxStepUpScopeBytes {
		return "", s.refuse("scope_bytes", "the scopes held and asked for are longer than a step-up may request", "bytes", len(key))
	}
	if sets >= MaxStepUpSets {
		return "", s.refuse("scope_sets", "the source has stepped up to as many scope sets as it may", "sets", sets)
	}
	if s.refusedLately(key) {
		return "", s.refuse("refused_lately", "the identity provider refused these scopes within the last "+StepUpRefusedFor.String(), "scopes", key)
	}

	cfg := s.cfg
	cfg.Scopes = union
	cctx, stop := context.WithCancel(s.base.ctx)
	c, err := s.newCache(cctx, cfg)
	if err != nil {
		stop()
		return "", err
	}
	s.log.Info("stepping up: requesting a token with more scopes", "scopes", key)
	tok, err := c.Token(ctx)
	if err != nil {
		// The cache would keep retrying in the background: stop it, so that
		// a refused step-up leaves nothing behind.
		stop()
		<-c.Done()
		if ctx.Err() == nil {
			s.remember(key)
		}
		s.log.Warn("step-up failed: the route keeps its token", "scopes", key, "err", err)
		return "", err
	}
	s.mu.Lock()
	s.current = &steppedCache{cache: c, scopes: union, stop: stop}
	s.sets++
	s.mu.Unlock()
	if cur != nil {
		// Sets only grow, so the route never asks for the smaller one again.
		cur.stop()
		<-cur.cache.Done()
	}
	return tok, nil
}

// refusedLately reports whether the identity provider refused the scope
// set key within StepUpRefusedFor.
func (s *StepUpSource) refusedLately(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	at, ok := s.refused[key]
	return ok && s.now().Sub(at) < StepUpRefusedFor
}

// remember notes that the identity provider refused the scope set key,
// forgetting the oldest refusal when MaxStepUpSets are held.
func (s *StepUpSource) remember(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.refused[key]; !ok && len(s.refused) >= MaxStepUpSets {
		oldest := ""
		for k, at := range s.refused {
			if oldest == "" || at.Before(s.refused[oldest]) {
				oldest = k
			}
		}
		delete(s.refused, oldest)
	}
	s.refused[key] = s.now()
}

// refuse logs that a step-up hit limit and returns ErrStepUpRefused.
func (s *StepUpSource) refuse(limit, msg string, attrs ...any) error {
	s.log.Warn("step-up refused: "+msg, append([]any{"limit", limit,
		"max_sets", MaxStepUpSets, "max_scope_bytes", MaxStepUpScopeBytes}, attrs...)...)
	return fmt.Errorf("%w: %s limit", ErrStepUpRefused, limit)
}

// Wait waits for the stepped-up cache to stop, once the base cache's
// context is done.
func (s *StepUpSource) Wait() {
	s.mu.Lock()
	cur := s.current
	s.mu.Unlock()
	if cur != nil {
		<-cur.cache.Done()
	}
}
