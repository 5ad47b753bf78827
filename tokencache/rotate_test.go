package tokencache

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/agentcore-proxy/agentcore-proxy/internal/redact"
)

// rotatingSource is a SecretSource whose Reload moves to next.
type rotatingSource struct {
	mu            sync.Mutex
	value, next   string
	reloads, gets int
}

func (s *rotatingSource) Secret(context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gets++
	return s.value, nil
}

func (s *rotatingSource) Reload(context.Context) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reloads++
	changed := s.next != "" && s.next != s.value
	if changed {
		s.value = s.next
	}
	return changed, nil
}

func (s *rotatingSource) counts() (reloads, gets int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reloads, s.gets
}

func TestSecretSourceRotation(t *testing.T) {
	tests := []struct {
		name        string
		src         *rotatingSource
		wantErr     error
		wantReloads int
	}{
		{name: "invalid_client, then the re-read secret works", src: &rotatingSource{value: "stale-secret", next: testSecret}, wantReloads: 1},
		{name: "invalid_client and the source has nothing new", src: &rotatingSource{value: "stale-secret"}, wantErr: ErrInvalidClient, wantReloads: 1},
		{name: "the source already holds the new secret", src: &rotatingSource{value: testSecret}, wantReloads: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeIdP(t, 3600)
			var logs syncBuffer
			c := newTestCache(t, f, &logs, func(cfg *Config) {
				cfg.ClientSecret = "stale-secret"
				cfg.SecretSource = tt.src
			})
			_, err := c.Token(t.Context())
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("Token() = %v, want %v", err, tt.wantErr)
			}
			reloads, gets := tt.src.counts()
			if reloads != tt.wantReloads || gets == 0 {
				t.Errorf("source reloads, gets = %d, %d; want %d, > 0", reloads, gets, tt.wantReloads)
			}
			if l := logs.String(); strings.Contains(l, testSecret) || strings.Contains(l, "stale-secret") {
				t.Errorf("logs hold a secret:\n%s", l)
			}
			if tt.wantReloads == 1 && tt.wantErr == nil && !strings.Contains(logs.String(), redact.Fingerprint(testSecret)) {
				t.Errorf("logs = %s, want the new secret's fingerprint", logs.String())
			}
		})
	}
}
