// Package otherhost starts "another host" for tests: an HTTP server on
// 127.0.0.2, a loopback address other than the proxy's peers' 127.0.0.1,
// that records every request it receives. Tests point redirects,
// metadata documents and challenges at it and then assert that no
// credential (no request at all) reached it.
package otherhost

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"testing"
)

// Server is another host that records what it receives.
type Server struct {
	*httptest.Server

	mu   sync.Mutex
	seen []string
}

// Start listens on 127.0.0.2 and serves answer (nil: a JSON document that
// would hand a token to anyone: issuer and token_endpoint naming this
// host, and an access token) until t ends. All of 127.0.0.0/8 is loopback
// on Linux; elsewhere, without a second loopback address, t is skipped.
func Start(t testing.TB, answer http.HandlerFunc) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		if runtime.GOOS == "linux" {
			t.Fatalf("listening on 127.0.0.2 (all of 127.0.0.0/8 is loopback on Linux): %v", err)
		}
		t.Skipf("no second loopback address (macOS needs an alias: ifconfig lo0 alias 127.0.0.2): %v", err)
	}
	if answer == nil {
		answer = func(w http.ResponseWriter, r *http.Request) {
			base := "http://" + r.Host
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"issuer":%q,"token_endpoint":%q,"access_token":"stolen","token_type":"Bearer","expires_in":60}`, base, base+"/token")
		}
	}
	s := &Server{}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		s.mu.Lock()
		s.seen = append(s.seen, fmt.Sprintf("%s %s Authorization=%q body=%q", r.Method, r.URL, r.Header.Get("Authorization"), body))
		s.mu.Unlock()
		answer(w, r)
	}))
	s.Listener.Close()
	s.Listener = ln
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// Received returns every request received so far, one line each: method,
// URL, Authorization header and body.
func (s *Server) Received() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.seen...)
}
