package route

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentcore-proxy/agentcore-proxy/tokencache"
)

// stepIdP is a token endpoint that issues opaque tokens naming their
// scopes, refuses the scopes in refuse with invalid_scope, and records the
// scope parameter of each request.
type stepIdP struct {
	*httptest.Server
	refuse []string

	mu        sync.Mutex
	requested []string
}

func newStepIdP(t *testing.T, refuse ...string) *stepIdP {
	p := &stepIdP{refuse: refuse}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		scope := r.PostForm.Get("scope")
		p.mu.Lock()
		p.requested = append(p.requested, scope)
		p.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		for _, s := range strings.Fields(scope) {
			if slices.Contains(p.refuse, s) {
				w.WriteHeader(http.StatusBadRequest)
				json.NewEncoder(w).Encode(map[string]any{"error": "invalid_scope"})
				return
			}
		}
		json.NewEncoder(w).Encode(map[string]any{"access_token": "opaque." + strings.ReplaceAll(scope, " ", "+"), "token_type": "Bearer", "expires_in": 3600})
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *stepIdP) scopes() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.requested)
}

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// newTestStepper returns a stepper for route "r" whose caches fetch from
// idp with base scopes, and its log. The caches stop when the test ends.
func newTestStepper(t *testing.T, idp *stepIdP, base ...string) (*scopeStepper, *syncBuffer) {
	t.Helper()
	life, stop := context.WithCancel(context.Background())
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	cfg := tokencache.Config{TokenURL: idp.URL, ClientID: "c1", ClientSecret: "s3cret-stepper", Scopes: base,
		HTTPClient: idp.Client(), Logger: log, MaxAttempts: 1}
	s := newScopeStepper(life, cfg, "r", log)
	t.Cleanup(func() {
		stop()
		s.wait()
	})
	return s, logs
}

// held returns the scopes of the stepper's current cache, nil for the
// route's own.
func (s *scopeStepper) held() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.current == nil {
		return nil
	}
	return s.current.scopes
}

func TestStepUpAtMostMaxSets(t *testing.T) {
	idp := newStepIdP(t)
	s, logs := newTestStepper(t, idp)
	var want []string
	for i := range MaxStepUpSets {
		scope := fmt.Sprintf("s%d", i)
		want = append(want, scope)
		tok, err := s.stepUp(t.Context(), []string{scope})
		if err != nil {
			t.Fatalf("stepUp(%s) = %v, want a token (step-up %d of %d)", scope, err, i+1, MaxStepUpSets)
		}
		if wantTok := "opaque." + strings.Join(want, "+"); tok != wantTok {
			t.Fatalf("stepUp(%s) = %q, want %q: the union of the scopes held and asked for", scope, tok, wantTok)
		}
	}
	_, err := s.stepUp(t.Context(), []string{"one-more"})
	if !errors.Is(err, errStepUpRefused) {
		t.Fatalf("stepUp after %d sets = %v, want errStepUpRefused", MaxStepUpSets, err)
	}
	if got := idp.scopes(); len(got) != MaxStepUpSets {
		t.Errorf("token requests = %d (%q), want %d: none for the refused set", len(got), got, MaxStepUpSets)
	}
	if got := s.held(); !slices.Equal(got, want) {
		t.Errorf("held scopes = %q, want %q (unchanged by the refusal)", got, want)
	}
	if !strings.Contains(logs.String(), "limit=scope_sets") {
		t.Errorf("log does not name the scope_sets limit:\n%s", logs)
	}
}

func TestStepUpScopeBytesLimit(t *testing.T) {
	long := strings.Repeat("x", MaxStepUpScopeBytes+1)
	half := strings.Repeat("h", MaxStepUpScopeBytes/2)
	tests := []struct {
		name      string
		first     []string // a step-up that succeeds first, if any
		want      []string
		requested int // token requests in all
	}{
		{name: "one scope too long", want: []string{long}},
		{name: "scopes too long together", want: []string{half, half + "2"}},
		{name: "union with the held scopes too long", first: []string{half}, want: []string{half + "2"}, requested: 1},
		{name: "exactly the limit", want: []string{strings.Repeat("e", MaxStepUpScopeBytes)}, requested: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			idp := newStepIdP(t)
			s, logs := newTestStepper(t, idp)
			if tt.first != nil {
				if _, err := s.stepUp(t.Context(), tt.first); err != nil {
					t.Fatalf("first stepUp = %v", err)
				}
			}
			_, err := s.stepUp(t.Context(), tt.want)
			refused := len(strings.Join(tt.want, " ")) > MaxStepUpScopeBytes || tt.first != nil
			if refused != errors.Is(err, errStepUpRefused) {
				t.Fatalf("stepUp(%d bytes) = %v, want refused %v", len(strings.Join(tt.want, " ")), err, refused)
			}
			if got := len(idp.scopes()); got != tt.requested {
				t.Errorf("token requests = %d, want %d", got, tt.requested)
			}
			if refused && !strings.Contains(logs.String(), "limit=scope_bytes") {
				t.Errorf("log does not name the scope_bytes limit:\n%s", logs)
			}
			if strings.Contains(logs.String(), long) {
				t.Errorf("log quotes the over-long scope")
			}
		})
	}
}

func TestStepUpRefusedByIdPLeavesRouteAsBefore(t *testing.T) {
	idp := newStepIdP(t, "denied")
	s, logs := newTestStepper(t, idp)
	base := &tokencache.Cache{}
	_, err := s.stepUp(t.Context(), []string{"denied"})
	if !errors.Is(err, tokencache.ErrInvalidScope) {
		t.Fatalf("stepUp(denied) = %v, want tokencache.ErrInvalidScope", err)
	}
	if c := s.cache(base); c != base {
		t.Errorf("after a refused step-up the route uses another cache, want its own")
	}
	if s.sets != 0 || s.held() != nil {
		t.Errorf("after a refused step-up: sets %d, held %q; want 0, none", s.sets, s.held())
	}
	// The refused set's cache is stopped before stepUp returns: no retry
	// in the background.
	if got := idp.scopes(); !slices.Equal(got, []string{"denied"}) {
		t.Errorf("token requests = %q, want one for [denied]", got)
	}
	if !strings.Contains(logs.String(), "step-up failed: the route keeps its token") {
		t.Errorf("log lacks the failed step-up:\n%s", logs)
	}
	// A later step-up to other scopes still works, and is the first set.
	if tok, err := s.stepUp(t.Context(), []string{"granted"}); err != nil || tok != "opaque.granted" {
		t.Fatalf("stepUp(granted) = %q, %v; want opaque.granted", tok, err)
	}
	if s.sets != 1 {
		t.Errorf("sets = %d, want 1: a refused step-up does not count", s.sets)
	}
}

func TestStepUpRefusedWithoutTokenRequest(t *testing.T) {
	tests := []struct {
		name string
		base []string
		off  bool
		want []string
	}{
		{name: "step-up off", off: true, want: []string{"mcp:write"}},
		{name: "outside the scope list", base: []string{"mcp:read"}, want: []string{"mcp:write"}},
		{name: "already requested", base: []string{"mcp:read", "mcp:write"}, want: []string{"mcp:write"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			idp := newStepIdP(t)
			s, _ := newTestStepper(t, idp, tt.base...)
			s.off = tt.off
			if _, err := s.stepUp(t.Context(), tt.want); !errors.Is(err, errStepUpRefused) {
				t.Fatalf("stepUp(%q) = %v, want errStepUpRefused", tt.want, err)
			}
			if got := idp.scopes(); len(got) != 0 {
				t.Errorf("token requests %q, want none", got)
			}
		})
	}
}

func TestStepUpConcurrentOneRequest(t *testing.T) {
	idp := newStepIdP(t)
	s, _ := newTestStepper(t, idp)
	var wg sync.WaitGroup
	toks := make([]string, 8)
	errs := make([]error, len(toks))
	for i := range toks {
		wg.Go(func() { toks[i], errs[i] = s.stepUp(t.Context(), []string{"mcp:write"}) })
	}
	wg.Wait()
	for i := range toks {
		if errs[i] != nil || toks[i] != "opaque.mcp:write" {
			t.Errorf("stepUp #%d = %q, %v; want opaque.mcp:write", i, toks[i], errs[i])
		}
	}
	if got := idp.scopes(); len(got) != 1 || s.sets != 1 {
		t.Errorf("token requests %q, sets %d; want one of each", got, s.sets)
	}
}

// TestStepUpRefusedScopesNotAskedAgain: an upstream that keeps challenging
// for scopes the identity provider refuses gets one token request per
// StepUpRefusedFor, not one per client request, and the memory of refusals
// stays bounded.
func TestStepUpRefusedScopesNotAskedAgain(t *testing.T) {
	idp := newStepIdP(t, "denied")
	s, logs := newTestStepper(t, idp)
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return now }
	for i := range 5 {
		_, err := s.stepUp(t.Context(), []string{"denied"})
		if i == 0 && !errors.Is(err, tokencache.ErrInvalidScope) {
			t.Fatalf("first stepUp(denied) = %v, want tokencache.ErrInvalidScope", err)
		}
		if i > 0 && !errors.Is(err, errStepUpRefused) {
			t.Fatalf("stepUp(denied) again = %v, want errStepUpRefused without asking", err)
		}
	}
	if got := idp.scopes(); len(got) != 1 {
		t.Errorf("token requests = %q, want 1 for five challenges within %s", got, StepUpRefusedFor)
	}
	if !strings.Contains(logs.String(), "limit=refused_lately") {
		t.Errorf("log does not say the scopes were refused lately:\n%s", logs)
	}
	now = now.Add(StepUpRefusedFor)
	if _, err := s.stepUp(t.Context(), []string{"denied"}); !errors.Is(err, tokencache.ErrInvalidScope) {
		t.Fatalf("stepUp(denied) after %s = %v, want a new token request refused by the identity provider", StepUpRefusedFor, err)
	}
	if got := idp.scopes(); len(got) != 2 {
		t.Errorf("token requests = %q, want 2: asked again once the refusal is old", got)
	}

	var names []string
	for i := range 3 * MaxStepUpSets {
		names = append(names, fmt.Sprintf("denied-%d", i))
	}
	many := newStepIdP(t, names...)
	s2, _ := newTestStepper(t, many)
	for _, n := range names {
		if _, err := s2.stepUp(t.Context(), []string{n}); !errors.Is(err, tokencache.ErrInvalidScope) {
			t.Fatalf("stepUp(%s) = %v, want tokencache.ErrInvalidScope", n, err)
		}
	}
	s2.mu.Lock()
	n := len(s2.refused)
	s2.mu.Unlock()
	if n > MaxStepUpSets {
		t.Errorf("refusals remembered = %d after %d refused sets, want at most %d", n, len(names), MaxStepUpSets)
	}
}
