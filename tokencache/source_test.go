package tokencache

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/oauth2"
)

// TestSourceRefreshAhead: a Cache over a Source hands out the source's
// token, fetches once for many callers, and refreshes in the background
// ahead of expiry, so that callers never wait after the first fetch.
func TestSourceRefreshAhead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int32
		var fetches []FetchResult
		const lifetime = 100 * time.Second
		src := func(ctx context.Context) (*oauth2.Token, error) {
			n := calls.Add(1)
			return &oauth2.Token{AccessToken: fmt.Sprintf("source-token-%d", n), Expiry: time.Now().Add(lifetime)}, nil
		}
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		c, err := New(ctx, Config{Source: src, SourceName: "test source", Jitter: 0.01,
			OnFetch: func(r FetchResult) { fetches = append(fetches, r) }})
		if err != nil {
			t.Fatalf("New = %v", err)
		}
		done := make(chan string, 5)
		for range 5 {
			go func() {
				tok, err := c.Token(t.Context())
				if err != nil {
					tok = "error: " + err.Error()
				}
				done <- tok
			}()
		}
		for range 5 {
			if got := <-done; got != "source-token-1" {
				t.Errorf("Token = %q, want source-token-1", got)
			}
		}
		if n := calls.Load(); n != 1 {
			t.Fatalf("Source called %d times for 5 concurrent callers, want 1", n)
		}
		// Past the refresh point (0.8 of the lifetime, ±1%), before expiry.
		time.Sleep(85 * time.Second)
		synctest.Wait()
		if n := calls.Load(); n != 2 {
			t.Fatalf("Source called %d times after 85 s of a 100 s token, want 2 (refresh ahead)", n)
		}
		tok, err := c.Token(t.Context())
		if err != nil || tok != "source-token-2" {
			t.Errorf("Token after refresh = %q, %v; want source-token-2", tok, err)
		}
		if len(fetches) != 2 || fetches[1].Trigger != TriggerAhead {
			t.Errorf("OnFetch saw %+v, want a cold fetch then an ahead fetch", fetches)
		}
		cancel()
		<-c.Done()
	})
}

// sourceFailure is a typed error of a token source.
type sourceFailure struct{ reason string }

func (e *sourceFailure) Error() string { return "source failed: " + e.reason }

// TestSourceError: a source's error reaches the caller wrapped in
// ErrTokenSource with its own type intact, and Check still vets tokens.
func TestSourceError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		c, err := New(ctx, Config{Source: func(context.Context) (*oauth2.Token, error) {
			return nil, &sourceFailure{reason: "federation disabled"}
		}, SourceName: "sts:GetWebIdentityToken"})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Token(t.Context())
		var sf *sourceFailure
		if !errors.Is(err, ErrTokenSource) || !errors.As(err, &sf) || sf.reason != "federation disabled" {
			t.Errorf("Token error = %v, want ErrTokenSource wrapping *sourceFailure", err)
		}
		if err != nil && !strings.Contains(err.Error(), "sts:GetWebIdentityToken") {
			t.Errorf("Token error = %q, want it to name the source", err)
		}

		rejected, err := New(ctx, Config{Source: func(context.Context) (*oauth2.Token, error) {
			return &oauth2.Token{AccessToken: "x", Expiry: time.Now().Add(time.Hour)}, nil
		}, Check: func(string) error { return errors.New("wrong audience") }})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := rejected.Token(t.Context()); !errors.Is(err, ErrTokenRejected) {
			t.Errorf("Token with a failing Check = %v, want ErrTokenRejected", err)
		}
		cancel()
		<-c.Done()
		<-rejected.Done()
	})
}

// TestSourceConfig: a Source excludes the client_credentials settings and
// needs none of them.
func TestSourceConfig(t *testing.T) {
	src := func(context.Context) (*oauth2.Token, error) { return nil, nil }
	tests := []struct {
		name    string
		cfg     Config
		wantErr []string
	}{
		{name: "source alone", cfg: Config{Source: src}},
		{name: "with a secret", cfg: Config{Source: src, ClientID: "id", ClientSecret: "s"}, wantErr: []string{"ClientID is set", "ClientSecret is set"}},
		{name: "with a token URL and scopes", cfg: Config{Source: src, TokenURL: "https://idp.example/token", Scopes: []string{"a"}}, wantErr: []string{"TokenURL is set", "Scopes is set"}},
		{name: "with an audience parameter", cfg: Config{Source: src, Audience: "api"}, wantErr: []string{"Audience is set"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.validate()
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Errorf("validate() = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("validate() = %v, want ErrInvalidConfig", err)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("validate() = %q, want it to contain %q", err, w)
				}
			}
		})
	}
}
