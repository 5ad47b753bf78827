package server

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/agentcore-proxy/agentcore-proxy/tokencache"
)

// errStepUpRefused means the route may not request the scopes an
// insufficient_scope challenge asks for.
var errStepUpRefused = errors.New("server: the route's scope list does not allow the scopes the upstream asks for")

// scopeStepper gets tokens with more scopes when the upstream answers 403
// insufficient_scope (MCP 2025-11-25): one token cache per scope set, the
// route's settings otherwise. After a step-up the route keeps using the
// larger token, so the 403 comes once.
type scopeStepper struct {
	setup *AuthSetup
	life  context.Context
	base  tokencache.Config
	route string
	// allowed is the route's scope list; empty allows any scope.
	allowed []string

	mu      sync.Mutex
	caches  map[string]*tokencache.Cache
	current *tokencache.Cache // nil until a step-up
}

func newScopeStepper(a *AuthSetup, life context.Context, cfg tokencache.Config, route string) *scopeStepper {
	return &scopeStepper{setup: a, life: life, base: cfg, route: route, allowed: slices.Clone(cfg.Scopes), caches: map[string]*tokencache.Cache{}}
}

// cache returns the cache the route uses now: the stepped-up one, if any.
func (s *scopeStepper) cache(base *tokencache.Cache) *tokencache.Cache {
	if s == nil {
		return base
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.current != nil {
		return s.current
	}
	return base
}

// stepUp returns a token with the union of the scopes held and want.
func (s *scopeStepper) stepUp(ctx context.Context, want []string) (string, error) {
	if s == nil {
		return "", errStepUpRefused
	}
	if len(s.allowed) > 0 {
		var missing []string
		for _, w := range want {
			if !slices.Contains(s.allowed, w) {
				missing = append(missing, w)
			}
		}
		if len(missing) > 0 {
			s.setup.opts.Logger.Warn("the upstream asks for scopes the route may not request", "route", s.route,
				"missing", strings.Join(missing, " "), "allowed", strings.Join(s.allowed, " "))
			return "", fmt.Errorf("%w: %s", errStepUpRefused, strings.Join(missing, " "))
		}
	}
	s.mu.Lock()
	held := s.base.Scopes
	if s.current != nil {
		held = s.currentScopes()
	}
	union := slices.Clone(held)
	for _, w := range want {
		if !slices.Contains(union, w) {
			union = append(union, w)
		}
	}
	slices.Sort(union)
	key := strings.Join(union, " ")
	c := s.caches[key]
	if c == nil {
		cfg := s.base
		cfg.Scopes = union
		var err error
		if c, err = s.setup.newCache(s.life, s.route, cfg); err != nil {
			s.mu.Unlock()
			return "", err
		}
		s.caches[key] = c
		s.setup.opts.Logger.Info("stepping up: requesting a token with more scopes", "route", s.route, "scopes", key)
	}
	s.current = c
	s.mu.Unlock()
	return c.Token(ctx)
}

// currentScopes returns the scopes of the current cache; s.mu is held.
func (s *scopeStepper) currentScopes() []string {
	for k, c := range s.caches {
		if c == s.current {
			return strings.Fields(k)
		}
	}
	return s.base.Scopes
}
