package tokencache

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/agentcore-proxy/agentcore-proxy/internal/otherhost"
)

// TestTokenRequestFollowsNoRedirect: a token endpoint answering 307 to
// plain http on another host gets an error naming the Location (without
// its query), is not retried, and the other host receives nothing.
func TestTokenRequestFollowsNoRedirect(t *testing.T) {
	other := otherhost.Start(t, nil)
	for _, style := range []AuthStyle{AuthStyleBasic, AuthStylePost} {
		t.Run(style.String(), func(t *testing.T) {
			var n int
			var mu sync.Mutex
			idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				n++
				mu.Unlock()
				http.Redirect(w, r, other.URL+"/steal?client_secret="+testSecret, http.StatusTemporaryRedirect)
			}))
			defer idp.Close()
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			c, err := New(ctx, Config{TokenURL: idp.URL + "/oauth2/token", ClientID: testClientID, ClientSecret: testSecret, AuthStyle: style})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Token(t.Context())
			want := "with Location " + other.URL + "/steal?…"
			if !errors.Is(err, ErrTokenRedirect) || !errors.Is(err, ErrTokenEndpoint) || !strings.Contains(err.Error(), want) {
				t.Fatalf("Token() = %v, want ErrTokenRedirect naming %q", err, want)
			}
			if strings.Contains(err.Error(), testSecret) {
				t.Errorf("Token() error %q holds the secret", err)
			}
			mu.Lock()
			defer mu.Unlock()
			if n != 1 {
				t.Errorf("the token endpoint got %d requests, want 1 (a redirect is not retried)", n)
			}
		})
	}
	if got := other.Received(); len(got) != 0 {
		t.Errorf("the redirect's target received %q, want nothing", got)
	}
}
