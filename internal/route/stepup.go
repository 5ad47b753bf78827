package route

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/agentcore-proxy/agentcore-proxy/tokencache"
)

// Step-up limits, per route. A route's scope sets only grow (each step-up
// asks for the union of the scopes held and those challenged), so the first
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

// errStepUpRefused means the route may not request the scopes an
// insufficient_scope challenge asks for: step-up is off, a limit is hit, or
// the route's scope list does not allow them.
var errStepUpRefused = errors.New("route: step-up refused")

// scopeStepper gets tokens with more scopes when the upstream answers 403
// insufficient_scope (MCP 2025-11-25). There is one per route, never shared
// with another route even when their base token is. After a step-up the
// route keeps using the larger token, so the 403 comes once; a step-up the
// identity provider refuses leaves the route as it was.
type scopeStepper struct {
	life  context.Context
	base  tokencache.Config
	route string
	log   *slog.Logger
	// off is set when step-up is turned off for the route; offName names
	// that setting in the user's words.
	off     bool
	offName string
	// newCache starts a token cache (tokencache.New; a seam for tests).
	newCache func(context.Context, tokencache.Config) (*tokencache.Cache, error)

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
	cache  *tokencache.Cache
	scopes []string // sorted
	stop   context.CancelFunc
}

// newScopeStepper returns route's stepper: its tokens come from caches like
// cfg's, whose scope list (empty: any scope) bounds what it may request.
// The caches live as long as life.
func newScopeStepper(life context.Context, cfg tokencache.Config, route string, log *slog.Logger) *scopeStepper {
	cfg.Scopes = slices.Clone(cfg.Scopes)
	return &scopeStepper{life: life, base: cfg, route: route, log: log, newCache: tokencache.New, step: make(chan struct{}, 1),
		refused: map[string]time.Time{}, now: time.Now}
}

// cache returns the cache the route uses now: the stepped-up one, if any.
func (s *scopeStepper) cache(base *tokencache.Cache) *tokencache.Cache {
	if s == nil {
		return base
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.current != nil {
		return s.current.cache
	}
	return base
}

// stepUp returns a token with the union of the scopes held and want, and
// makes it the route's from then on. When it fails, whether refused here or
// by the identity provider, the route keeps the token it had.
func (s *scopeStepper) stepUp(ctx context.Context, want []string) (string, error) {
	if s == nil {
		return "", errStepUpRefused
	}
	if s.off {
		s.log.Info("step-up is off: the upstream's insufficient_scope answer goes to the client", "route", s.route, "setting", s.offName)
		return "", fmt.Errorf("%w: step-up is off", errStepUpRefused)
	}
	// Bound the work before looking at the scopes: the challenge comes from
	// the upstream and may be as large as a response header.
	if n := len(strings.Join(want, " ")); n > MaxStepUpScopeBytes {
		return "", s.refuse("scope_bytes", "the scopes asked for are longer than a step-up may request", "bytes", n)
	}
	if allowed := s.base.Scopes; len(allowed) > 0 {
		var missing []string
		for _, w := range want {
			if !slices.Contains(allowed, w) {
				missing = append(missing, w)
			}
		}
		if len(missing) > 0 {
			s.log.Warn("the upstream asks for scopes the route may not request", "route", s.route,
				"missing", strings.Join(missing, " "), "allowed", strings.Join(allowed, " "))
			return "", fmt.Errorf("%w: %s", errStepUpRefused, strings.Join(missing, " "))
		}
	}

	select {
	case s.step <- struct{}{}:
		defer func() { <-s.step }()
	case <-ctx.Done():
		return "", ctx.Err()
	}
	s.mu.Lock()
	held, cur := s.base.Scopes, s.current
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
		s.log.Warn("the upstream asks for scopes the route's token was requested with", "route", s.route, "scopes", strings.Join(want, " "))
		return "", fmt.Errorf("%w: the token was requested with these scopes", errStepUpRefused)
	}
	key := strings.Join(union, " ")
	if len(key) > MaxStepUpScopeBytes {
		return "", s.refuse("scope_bytes", "the scopes held and asked for are longer than a step-up may request", "bytes", len(key))
	}
	if sets >= MaxStepUpSets {
		return "", s.refuse("scope_sets", "the route has stepped up to as many scope sets as it may", "sets", sets)
	}
	if s.refusedLately(key) {
		return "", s.refuse("refused_lately", "the identity provider refused these scopes within the last "+StepUpRefusedFor.String(), "scopes", key)
	}

	cfg := s.base
	cfg.Scopes = union
	cctx, stop := context.WithCancel(s.life)
	c, err := s.newCache(cctx, cfg)
	if err != nil {
		stop()
		return "", err
	}
	s.log.Info("stepping up: requesting a token with more scopes", "route", s.route, "scopes", key)
	tok, err := c.Token(ctx)
	if err != nil {
		// The cache would keep retrying in the background: stop it, so that
		// a refused step-up leaves nothing behind.
		stop()
		<-c.Done()
		if ctx.Err() == nil {
			s.remember(key)
		}
		s.log.Warn("step-up failed: the route keeps its token", "route", s.route, "scopes", key, "err", err)
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
func (s *scopeStepper) refusedLately(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	at, ok := s.refused[key]
	return ok && s.now().Sub(at) < StepUpRefusedFor
}

// remember notes that the identity provider refused the scope set key,
// forgetting the oldest refusal when MaxStepUpSets are held.
func (s *scopeStepper) remember(key string) {
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

// refuse logs that a step-up hit limit and returns errStepUpRefused.
func (s *scopeStepper) refuse(limit, msg string, attrs ...any) error {
	s.log.Warn("step-up refused: "+msg, append([]any{"route", s.route, "limit", limit,
		"max_sets", MaxStepUpSets, "max_scope_bytes", MaxStepUpScopeBytes}, attrs...)...)
	return fmt.Errorf("%w: %s limit", errStepUpRefused, limit)
}

// wait waits for the stepped-up cache to stop, once life is done.
func (s *scopeStepper) wait() {
	s.mu.Lock()
	cur := s.current
	s.mu.Unlock()
	if cur != nil {
		<-cur.cache.Done()
	}
}
