package tokencache

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentcore-proxy/agentcore-proxy/internal/inprocess"
)

const (
	testClientID = "3n4b5urk1ft4fl3mg5e62d9ado"
	testSecret   = "s3cr3t-do-not-leak-1q2w3e4r5t6y7u8i9o0p"
)

// reply is a scripted answer from the fake token endpoint.
type reply struct {
	status int
	body   string
}

// issued records one token the fake endpoint handed out.
type issued struct {
	token string
	at    time.Time
}

// fakeIdP is a token endpoint that behaves like Cognito's /oauth2/token:
// form POST, client auth by Basic or form fields, JSON tokens, 400 with an
// OAuth error code on bad requests.
type fakeIdP struct {
	url      string       // the server's base URL
	client   *http.Client // reaches the endpoint in process; nil: over loopback
	lifetime int          // expires_in, seconds

	hits    atomic.Int64
	entered chan struct{} // receives once per request, if non-nil (buffered by the test)
	gate    chan struct{} // if non-nil, requests wait until it is closed

	mu       sync.Mutex
	script   []reply // answers to give before issuing tokens
	tokens   []issued
	auth     []string // "basic" or "post", per request
	problems []string // protocol violations seen by the handler
}

// newFakeIdP starts a fake token endpoint issuing tokens with the given
// lifetime in seconds. It is closed when the test ends.
func newFakeIdP(t *testing.T, lifetime int) *fakeIdP {
	t.Helper()
	f := &fakeIdP{lifetime: lifetime}
	srv := httptest.NewServer(http.HandlerFunc(f.serveToken))
	f.url = srv.URL
	t.Cleanup(func() {
		srv.Close()
		f.report(t)
	})
	return f
}

// newBubbleIdP returns the same fake token endpoint for a test inside a
// testing/synctest bubble: no listener, since a goroutine waiting on a
// socket is not durably blocked and would keep the bubble's clock still.
// The cache reaches the handler through an in-process transport (set by
// newTestCache), so fake time passes whenever every goroutine waits.
func newBubbleIdP(t *testing.T, lifetime int) *fakeIdP {
	t.Helper()
	f := &fakeIdP{lifetime: lifetime, url: "http://127.0.0.1"}
	tr := &inprocess.Transport{Handler: http.HandlerFunc(f.serveToken), RemoteAddr: "127.0.0.1:1"}
	f.client = &http.Client{Timeout: 10 * time.Second, Transport: tr}
	t.Cleanup(func() {
		tr.Close()
		f.report(t)
	})
	return f
}

// report fails t with the protocol violations the handler saw.
func (f *fakeIdP) report(t *testing.T) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, p := range f.problems {
		t.Errorf("fake token endpoint: %s", p)
	}
}

// tokenURL returns the URL of the fake token endpoint.
func (f *fakeIdP) tokenURL() string { return f.url + "/oauth2/token" }

// push queues scripted answers.
func (f *fakeIdP) push(r ...reply) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.script = append(f.script, r...)
}

// issuedTokens returns the tokens issued so far.
func (f *fakeIdP) issuedTokens() []issued {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]issued(nil), f.tokens...)
}

// authStyles returns how each request authenticated.
func (f *fakeIdP) authStyles() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.auth...)
}

func (f *fakeIdP) problem(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.problems = append(f.problems, fmt.Sprintf(format, args...))
}

func (f *fakeIdP) serveToken(w http.ResponseWriter, r *http.Request) {
	f.hits.Add(1)
	if f.entered != nil {
		f.entered <- struct{}{}
	}
	if f.gate != nil {
		<-f.gate
	}
	oauthError := func(code string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"error":%q}`, code)
	}
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		f.problem("got %s with Content-Type %q, want a form POST", r.Method, r.Header.Get("Content-Type"))
		oauthError("invalid_request")
		return
	}
	if err := r.ParseForm(); err != nil {
		f.problem("ParseForm: %v", err)
		oauthError("invalid_request")
		return
	}
	id, secret, basic := r.BasicAuth()
	style := "basic"
	if !basic {
		id, secret, style = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret"), "post"
	} else if r.PostForm.Has("client_secret") {
		f.problem("client secret sent both in the header and the form")
	}
	f.mu.Lock()
	f.auth = append(f.auth, style)
	var scripted *reply
	if len(f.script) > 0 {
		scripted = &f.script[0]
		f.script = f.script[1:]
	}
	f.mu.Unlock()

	switch {
	case scripted != nil:
		if scripted.body != "" && scripted.body[0] == '{' {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(scripted.status)
		fmt.Fprint(w, scripted.body)
		return
	case r.PostForm.Get("grant_type") != "client_credentials":
		oauthError("unsupported_grant_type")
		return
	case id != testClientID || secret != testSecret:
		oauthError("invalid_client")
		return
	}

	f.mu.Lock()
	tok := fmt.Sprintf("access-%d-%d", len(f.tokens)+1, time.Now().UnixNano())
	f.tokens = append(f.tokens, issued{token: tok, at: time.Now()})
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	json.NewEncoder(w).Encode(map[string]any{
		"access_token": tok,
		"token_type":   "Bearer",
		"expires_in":   f.lifetime,
	})
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// newTestCache returns a Cache for f whose background goroutine stops, and
// is waited for, when the test ends. It logs at debug level into logs.
func newTestCache(t *testing.T, f *fakeIdP, logs *syncBuffer, edit func(*Config)) *Cache {
	t.Helper()
	cfg := Config{
		TokenURL:     f.tokenURL(),
		ClientID:     testClientID,
		ClientSecret: testSecret,
		Scopes:       []string{"agentcore/invoke"},
		Logger:       slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		HTTPClient:   f.client,
	}
	if edit != nil {
		edit(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c, err := New(ctx, cfg)
	if err != nil {
		cancel()
		t.Fatalf("New() = %v, want no error", err)
	}
	t.Cleanup(func() {
		cancel()
		select {
		case <-c.Done():
		case <-time.After(5 * time.Second):
			t.Error("Done() not closed within 5s of cancelling the context")
		}
	})
	return c
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waiters returns how many callers are blocked in c.Token.
func (c *Cache) waiters() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.waiting
}
