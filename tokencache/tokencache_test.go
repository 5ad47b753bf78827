package tokencache

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/agentcore-proxy/agentcore-proxy/internal/redact"
)

func TestTokenSequentialCallsFetchOnce(t *testing.T) {
	f := newFakeIdP(t, 3600)
	c := newTestCache(t, f, &syncBuffer{}, nil)

	first, err := c.Token(t.Context())
	if err != nil {
		t.Fatalf("Token() = %v, want a token", err)
	}
	for i := range 49 {
		got, err := c.Token(t.Context())
		if err != nil || got != first {
			t.Fatalf("Token() call %d = %q, %v; want %q, nil", i+2, redact.Fingerprint(got), err, redact.Fingerprint(first))
		}
	}
	if got := f.hits.Load(); got != 1 {
		t.Errorf("token requests after 50 Token calls = %d, want 1", got)
	}
}

func TestTokenConcurrentColdCallsShareOneFetch(t *testing.T) {
	f := newFakeIdP(t, 3600)
	f.gate = make(chan struct{})
	c := newTestCache(t, f, &syncBuffer{}, nil)

	const callers = 100
	tokens := make([]string, callers)
	errs := make([]error, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() { tokens[i], errs[i] = c.Token(t.Context()) })
	}
	waitFor(t, "100 callers waiting in Token", 10*time.Second, func() bool { return c.waiters() == callers })
	close(f.gate)
	wg.Wait()

	for i := range callers {
		if errs[i] != nil || tokens[i] != tokens[0] {
			t.Errorf("Token() caller %d = %q, %v; want %q, nil", i, redact.Fingerprint(tokens[i]), errs[i], redact.Fingerprint(tokens[0]))
		}
	}
	if got := f.hits.Load(); got != 1 {
		t.Errorf("token requests for %d concurrent cold callers = %d, want 1", callers, got)
	}
}

// TestTokenRefreshesAheadOfExpiry runs an hour-long token's life in a
// synctest bubble: the background loop fetches its successor at 80% of the
// lifetime (±5% jitter), and no caller is ever handed an expired token.
func TestTokenRefreshesAheadOfExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const lifetime = time.Hour
		f := newBubbleIdP(t, int(lifetime/time.Second))
		c := newTestCache(t, f, &syncBuffer{}, nil)

		first, err := c.Token(t.Context())
		if err != nil {
			t.Fatalf("Token() = %v, want a token", err)
		}
		issuedAt := map[string]time.Time{}
		seen := map[string]bool{}
		end := f.issuedTokens()[0].at.Add(lifetime + 30*time.Minute)
		for time.Now().Before(end) {
			tok, err := c.Token(t.Context())
			now := time.Now()
			if err != nil {
				t.Fatalf("Token() = %v, want a token", err)
			}
			for _, is := range f.issuedTokens() {
				issuedAt[is.token] = is.at
			}
			at, ok := issuedAt[tok]
			if !ok {
				t.Fatalf("Token() = %q, a token the endpoint never issued", redact.Fingerprint(tok))
			}
			if expiry := at.Add(lifetime); !now.Before(expiry) {
				t.Fatalf("Token() at %v = %q, which expired at %v", now, redact.Fingerprint(tok), expiry)
			}
			seen[tok] = true
			time.Sleep(10 * time.Second) // the bubble's clock: a probe every 10 s of fake time
		}

		got := f.issuedTokens()
		if len(got) < 2 {
			t.Fatalf("token requests within %v of a %v token = %d, want a background refresh", lifetime+30*time.Minute, lifetime, len(got))
		}
		lo, hi := time.Duration(0.75*float64(lifetime)), time.Duration(0.85*float64(lifetime))
		if ahead := got[1].at.Sub(got[0].at); ahead < lo || ahead > hi {
			t.Errorf("refresh %v after the first fetch, want within [%v, %v] (RefreshAhead 0.8, Jitter 0.05)", ahead, lo, hi)
		}
		if !seen[first] || !seen[got[1].token] {
			t.Errorf("Token() returned %d distinct tokens, want both the first and its refresh", len(seen))
		}
		if s := c.State(); !s.Valid || s.Fingerprint != redact.Fingerprint(got[len(got)-1].token) {
			t.Errorf("State() = %+v, want valid with the latest token's fingerprint", s)
		}
	})
}

func TestInvalidateConcurrentFetchesOnce(t *testing.T) {
	f := newFakeIdP(t, 3600)
	c := newTestCache(t, f, &syncBuffer{}, nil)
	old, err := c.Token(t.Context())
	if err != nil {
		t.Fatalf("Token() = %v, want a token", err)
	}

	const callers = 20
	tokens := make([]string, callers)
	errs := make([]error, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			c.Invalidate(old)
			tokens[i], errs[i] = c.Token(t.Context())
		})
	}
	wg.Wait()

	for i := range callers {
		if errs[i] != nil || tokens[i] == old || tokens[i] != tokens[0] {
			t.Errorf("Token() after Invalidate, caller %d = %q, %v; want one new token %q (old %q)",
				i, redact.Fingerprint(tokens[i]), errs[i], redact.Fingerprint(tokens[0]), redact.Fingerprint(old))
		}
	}
	if got := f.hits.Load(); got != 2 {
		t.Errorf("token requests after %d Invalidate calls = %d, want 2", callers, got)
	}

	c.Invalidate(old) // stale: must not drop the new token
	if got, err := c.Token(t.Context()); err != nil || got != tokens[0] {
		t.Errorf("Token() after a stale Invalidate = %q, %v; want %q", redact.Fingerprint(got), err, redact.Fingerprint(tokens[0]))
	}
	if got := f.hits.Load(); got != 2 {
		t.Errorf("token requests after a stale Invalidate = %d, want 2", got)
	}
}

func TestTokenRetriesServerErrors(t *testing.T) {
	synctest.Test(t, testTokenRetriesServerErrors)
}

func testTokenRetriesServerErrors(t *testing.T) {
	f := newBubbleIdP(t, 3600)
	f.push(reply{http.StatusInternalServerError, "oops"}, reply{http.StatusServiceUnavailable, `{"message":"slow down"}`})
	var (
		mu      sync.Mutex
		results []FetchResult
	)
	c := newTestCache(t, f, &syncBuffer{}, func(cfg *Config) {
		cfg.OnFetch = func(r FetchResult) {
			mu.Lock()
			defer mu.Unlock()
			results = append(results, r)
		}
	})

	tok, err := c.Token(t.Context())
	if err != nil || tok != f.issuedTokens()[0].token {
		t.Fatalf("Token() = %q, %v; want the token issued after two 5xx", redact.Fingerprint(tok), err)
	}
	if got := f.hits.Load(); got != 3 {
		t.Errorf("token requests = %d, want 3", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(results) != 1 || results[0].Trigger != TriggerCold || results[0].Err != nil || results[0].ExpiresAt.IsZero() {
		t.Fatalf("OnFetch results = %+v, want one successful cold fetch", results)
	}
	// Two pauses, 200 ms then 400 ms, each ±20%: all the fetch's time in
	// the bubble, where requests take none.
	if d, lo, hi := results[0].Duration, 480*time.Millisecond, 720*time.Millisecond; d < lo || d > hi {
		t.Errorf("OnFetch Duration = %v, want the two backoff pauses within [%v, %v]", d, lo, hi)
	}
}

func TestTokenEndpointErrors(t *testing.T) {
	tests := []struct {
		name     string
		reply    reply
		maxTries int
		want     error
		wantHits int64
		wantText string
	}{
		{name: "invalid_client", reply: reply{400, `{"error":"invalid_client"}`}, want: ErrInvalidClient, wantHits: 1, wantText: "rejected the client id or secret"},
		{name: "invalid_scope", reply: reply{400, `{"error":"invalid_scope"}`}, want: ErrInvalidScope, wantHits: 1, wantText: "rejected the requested scopes (HTTP 400 invalid_scope"},
		{name: "unauthorized_client", reply: reply{400, `{"error":"unauthorized_client"}`}, want: ErrUnauthorizedClient, wantHits: 1, wantText: "client_credentials"},
		{name: "unsupported_grant_type", reply: reply{400, `{"error":"unsupported_grant_type"}`}, want: ErrUnsupportedGrantType, wantHits: 1, wantText: "client_credentials"},
		{name: "403 html", reply: reply{403, "<html>Forbidden " + testSecret + "</html>"}, want: ErrTokenEndpoint, wantHits: 1, wantText: "HTTP 403"},
		{name: "body echoing a token", reply: reply{400, `{"access_token":"leaked-token"}`}, want: ErrTokenEndpoint, wantHits: 1, wantText: "withheld"},
		{name: "200 truncated json", reply: reply{200, `{"token_type":`}, want: ErrTokenEndpoint, wantHits: 1, wantText: "cannot parse"},
		{name: "200 without access_token", reply: reply{200, `{"token_type":"Bearer"}`}, want: ErrTokenEndpoint, wantHits: 1, wantText: "missing access_token"},
		{name: "5xx exhausts attempts", reply: reply{502, "bad gateway"}, maxTries: 2, want: ErrTokenEndpoint, wantHits: 2, wantText: "HTTP 502"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newBubbleIdP(t, 3600)
				for range 5 {
					f.push(tt.reply)
				}
				logs := &syncBuffer{}
				c := newTestCache(t, f, logs, func(cfg *Config) { cfg.MaxAttempts = tt.maxTries })

				_, err := c.Token(t.Context())
				if !errors.Is(err, tt.want) {
					t.Fatalf("Token() = %v, want errors.Is %v", err, tt.want)
				}
				if got := f.hits.Load(); got != tt.wantHits {
					t.Errorf("token requests = %d, want %d", got, tt.wantHits)
				}
				if !strings.Contains(err.Error(), tt.wantText) {
					t.Errorf("Token() error = %q, want it to mention %q", err, tt.wantText)
				}
				for _, leak := range []string{testSecret, "leaked-token"} {
					if strings.Contains(err.Error(), leak) || strings.Contains(logs.String(), leak) {
						t.Errorf("error or logs contain %q:\nerror: %v\nlogs: %s", leak, err, logs)
					}
				}

				// Within a second of the failure Token answers from memory
				// (the bubble's clock has not moved since the failure).
				hits := f.hits.Load()
				if _, again := c.Token(t.Context()); again == nil || again.Error() != err.Error() {
					t.Errorf("Token() right after a failure = %v, want %v", again, err)
				}
				if got := f.hits.Load(); got != hits {
					t.Errorf("token requests after an immediate second Token = %d, want %d", got, hits)
				}
				if s := c.State(); s.Valid || !errors.Is(s.LastError, tt.want) {
					t.Errorf("State() = %+v, want invalid with LastError %v", s, tt.want)
				}
			})
		})
	}
}

func TestBackgroundRetryRecovers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newBubbleIdP(t, 3600)
		f.push(reply{400, `{"error":"invalid_client"}`})
		c := newTestCache(t, f, &syncBuffer{}, nil)

		failed := time.Now()
		if _, err := c.Token(t.Context()); !errors.Is(err, ErrInvalidClient) {
			t.Fatalf("Token() = %v, want %v", err, ErrInvalidClient)
		}
		// The fix "at the IdP" is the empty script: the loop retries on its
		// own, after the first retry delay (1 s, +20% jitter at most).
		time.Sleep(retryMin - time.Millisecond)
		synctest.Wait()
		if s := c.State(); s.Valid || f.hits.Load() != 1 {
			t.Fatalf("just before %v: State().Valid = %v after %d requests, want no retry yet", retryMin, s.Valid, f.hits.Load())
		}
		waitFor(t, "a background retry to succeed", 2*time.Second, func() bool { return c.State().Valid })
		if took := time.Since(failed); took > retryMin*12/10 {
			t.Errorf("background retry after %v, want within %v", took, retryMin*12/10)
		}
		if _, err := c.Token(t.Context()); err != nil {
			t.Errorf("Token() after recovery = %v, want a token", err)
		}
		if got := f.hits.Load(); got != 2 {
			t.Errorf("token requests = %d, want 2 (the failure and one retry)", got)
		}
	})
}

func TestAuthStyles(t *testing.T) {
	tests := []struct {
		name  string
		style AuthStyle
		want  string
	}{
		{name: "basic", style: AuthStyleBasic, want: "basic"},
		{name: "post", style: AuthStylePost, want: "post"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeIdP(t, 3600)
			c := newTestCache(t, f, &syncBuffer{}, func(cfg *Config) { cfg.AuthStyle = tt.style })
			if _, err := c.Token(t.Context()); err != nil {
				t.Fatalf("Token() = %v, want a token", err)
			}
			if got := f.authStyles(); len(got) != 1 || got[0] != tt.want {
				t.Errorf("client auth seen by the endpoint for %v = %v, want [%s]", tt.style, got, tt.want)
			}
		})
	}
}

func TestTokenWaitBoundedByCallerContext(t *testing.T) {
	f := newFakeIdP(t, 3600)
	f.gate = make(chan struct{})
	c := newTestCache(t, f, &syncBuffer{}, nil)

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := c.Token(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Token(cancelled ctx) = %v, want context.Canceled", err)
	}
	close(f.gate) // the fetch carries on for other callers
	if _, err := c.Token(t.Context()); err != nil {
		t.Errorf("Token() = %v, want a token", err)
	}
	if got := f.hits.Load(); got != 1 {
		t.Errorf("token requests = %d, want 1", got)
	}
}

func TestWarm(t *testing.T) {
	f := newFakeIdP(t, 3600)
	c := newTestCache(t, f, &syncBuffer{}, nil)
	if s := c.State(); s.Valid {
		t.Fatalf("State() before Warm = %+v, want invalid", s)
	}
	c.Warm()
	waitFor(t, "Warm to fetch a token", 5*time.Second, func() bool { return c.State().Valid })
	c.Warm()
	if got := f.hits.Load(); got != 1 {
		t.Errorf("token requests after Warm twice = %d, want 1", got)
	}
}

func TestDoneClosesOnCancel(t *testing.T) {
	f := newFakeIdP(t, 3600)
	ctx, cancel := context.WithCancel(t.Context())
	c, err := New(ctx, Config{TokenURL: f.tokenURL(), ClientID: testClientID, ClientSecret: testSecret})
	if err != nil {
		t.Fatalf("New() = %v, want no error", err)
	}
	select {
	case <-c.Done():
		t.Fatal("Done() closed before the context was cancelled")
	default:
	}
	cancel()
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("Done() not closed within 5s of cancelling the context")
	}
	if _, err := c.Token(t.Context()); !errors.Is(err, ErrClosed) {
		t.Errorf("Token() after cancel = %v, want %v", err, ErrClosed)
	}
	if got := f.hits.Load(); got != 0 {
		t.Errorf("token requests = %d, want 0", got)
	}
}

func TestNewValidatesConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want []string // every problem must be reported
	}{
		{name: "empty", cfg: Config{}, want: []string{"TokenURL is empty", "ClientID", "ClientSecret"}},
		{name: "relative url", cfg: Config{TokenURL: "/oauth2/token", ClientID: "id", ClientSecret: "s"}, want: []string{`TokenURL "/oauth2/token"`}},
		{name: "ftp url", cfg: Config{TokenURL: "ftp://idp/token", ClientID: "id", ClientSecret: "s"}, want: []string{"not an absolute http(s) URL"}},
		{name: "bad fractions", cfg: Config{TokenURL: "https://idp/token", ClientID: "id", ClientSecret: "s", RefreshAhead: 1.5, Jitter: -1, MaxAttempts: -1}, want: []string{"RefreshAhead", "Jitter", "MaxAttempts"}},
		{name: "bad auth style", cfg: Config{TokenURL: "https://idp/token", ClientID: "id", ClientSecret: "s", AuthStyle: 7}, want: []string{"AuthStyle 7"}},
		{name: "plain http off loopback", cfg: Config{TokenURL: "http://10.1.2.3/token", ClientID: "id", ClientSecret: "s"}, want: []string{`TokenURL "http://10.1.2.3/token": plain http is allowed only to a loopback address`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(t.Context(), tt.cfg)
			if !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("New(%+v) = %v, want %v", tt.cfg, err, ErrInvalidConfig)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("New(%+v) = %q, want it to mention %q", tt.cfg, err, w)
				}
			}
		})
	}
}

func TestLogLimiter(t *testing.T) {
	l := logLimiter{last: map[string]time.Time{}}
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		msg  string
		at   time.Duration
		want bool
	}{
		{msg: "refused", at: 0, want: true},
		{msg: "refused", at: 30 * time.Second, want: false},
		{msg: "HTTP 500", at: 31 * time.Second, want: true},
		{msg: "HTTP 502", at: 32 * time.Second, want: false},
		{msg: "read tcp 127.0.0.1:50123: reset", at: 33 * time.Second, want: true},
		{msg: "read tcp 127.0.0.1:50999: reset", at: 34 * time.Second, want: false},
		{msg: "refused", at: 60 * time.Second, want: true},
		{msg: "HTTP 500", at: 61 * time.Second, want: false},
		{msg: "HTTP 503", at: 91 * time.Second, want: true},
	}
	for _, tt := range tests {
		if got := l.allow(tt.msg, t0.Add(tt.at)); got != tt.want {
			t.Errorf("allow(%q, t0+%v) = %v, want %v", tt.msg, tt.at, got, tt.want)
		}
	}
}

func TestRetryDelay(t *testing.T) {
	for n := 1; n <= 40; n++ {
		if got := retryDelay(n); got < retryMin || got > retryMax {
			t.Errorf("retryDelay(%d) = %v, want within [%v, %v]", n, got, retryMin, retryMax)
		}
	}
	if got := retryDelay(10); got < retryMax*8/10 {
		t.Errorf("retryDelay(10) = %v, want near %v", got, retryMax)
	}
}

// TestConfigNow: the cache judges a token by Config.Now, not the wall
// clock: moved past the usable end, Token fetches a successor at once and
// State reports the held token invalid meanwhile.
func TestConfigNow(t *testing.T) {
	var (
		mu  sync.Mutex
		now = time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	)
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return now
	}
	advance := func(d time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(d)
	}
	var (
		fmu     sync.Mutex
		fetches []FetchResult
	)
	f := newFakeIdP(t, 3600)
	c := newTestCache(t, f, &syncBuffer{}, func(cfg *Config) {
		cfg.Now = clock
		cfg.OnFetch = func(r FetchResult) {
			fmu.Lock()
			defer fmu.Unlock()
			fetches = append(fetches, r)
		}
	})
	first, err := c.Token(t.Context())
	if err != nil {
		t.Fatalf("Token() = %v, want a token", err)
	}
	if s := c.State(); !s.Valid || !s.FetchedAt.Equal(clock()) || !s.ExpiresAt.Equal(clock().Add(time.Hour)) {
		t.Fatalf("State() = %+v, want valid, fetched at the fake now %v and expiring an hour later", s, clock())
	}
	// The usable end is expiry minus min(10 s, lifetime/10).
	advance(time.Hour - maxMargin)
	if s := c.State(); s.Valid {
		t.Errorf("State() at the usable end by Config.Now = %+v, want not valid", s)
	}
	second, err := c.Token(t.Context())
	if err != nil || second == first {
		t.Fatalf("Token() past the usable end = %q, %v; want a new token (first %q)", redact.Fingerprint(second), err, redact.Fingerprint(first))
	}
	fmu.Lock()
	defer fmu.Unlock()
	if len(fetches) != 2 || fetches[1].Trigger != TriggerCold || !fetches[1].ExpiresAt.Equal(clock().Add(time.Hour)) {
		t.Errorf("OnFetch results = %+v, want a second, cold fetch expiring an hour after the fake now", fetches)
	}
}
