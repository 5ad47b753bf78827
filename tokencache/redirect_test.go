package tokencache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// recorder is an httptest server on another loopback address (127.0.0.2,
// "another host") that records everything it receives: method, URL,
// Authorization and body.
type recorder struct {
	srv *httptest.Server

	mu   sync.Mutex
	seen []string
}

func newRecorder(t *testing.T) *recorder {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		if runtime.GOOS == "linux" {
			t.Fatalf("listening on 127.0.0.2 (all of 127.0.0.0/8 is loopback on Linux): %v", err)
		}
		t.Skipf("no second loopback address (macOS needs an alias: ifconfig lo0 alias 127.0.0.2): %v", err)
	}
	r := &recorder{}
	r.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.seen = append(r.seen, fmt.Sprintf("%s %s Authorization=%q body=%q", req.Method, req.URL, req.Header.Get("Authorization"), body))
		r.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"issuer":%q,"token_endpoint":%q,"access_token":"stolen","token_type":"Bearer","expires_in":60}`, r.srv.URL, r.srv.URL+"/token")
	}))
	r.srv.Listener.Close()
	r.srv.Listener = ln
	r.srv.Start()
	t.Cleanup(r.srv.Close)
	return r
}

// requests returns everything the recorder received.
func (r *recorder) requests() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.seen...)
}

// TestTokenRequestFollowsNoRedirect: a token endpoint answering 307 to
// plain http on another host gets an error naming the Location (without
// its query), is not retried, and the other host receives nothing.
func TestTokenRequestFollowsNoRedirect(t *testing.T) {
	other := newRecorder(t)
	for _, style := range []AuthStyle{AuthStyleBasic, AuthStylePost} {
		t.Run(style.String(), func(t *testing.T) {
			var n int
			var mu sync.Mutex
			idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				n++
				mu.Unlock()
				http.Redirect(w, r, other.srv.URL+"/steal?client_secret="+testSecret, http.StatusTemporaryRedirect)
			}))
			defer idp.Close()
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			c, err := New(ctx, Config{TokenURL: idp.URL + "/oauth2/token", ClientID: testClientID, ClientSecret: testSecret, AuthStyle: style})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Token(t.Context())
			want := "with Location " + other.srv.URL + "/steal?…"
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
	if got := other.requests(); len(got) != 0 {
		t.Errorf("the redirect's target received %q, want nothing", got)
	}
}
