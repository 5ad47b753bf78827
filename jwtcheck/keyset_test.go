package jwtcheck

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// closedURL returns a URL on a 127.0.0.1 port nothing listens on.
func closedURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return "http://" + addr + "/.well-known/jwks.json"
}

// refreshes returns an OnRefresh hook and the channel it reports to; it
// never blocks the fetcher.
func refreshes() (func(error), <-chan error) {
	ch := make(chan error, 100)
	return func(err error) {
		select {
		case ch <- err:
		default:
		}
	}, ch
}

func nextRefresh(t *testing.T, ch <-chan error) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("no JWKS fetch reported within 10s")
		return nil
	}
}

// TestNewWithUnreachableJWKS runs in a synctest bubble, so the retry after
// the first refused fetch comes without waiting for it. The dials are real
// (refused at once by a closed loopback port), on a transport of the
// bubble's own.
func TestNewWithUnreachableJWKS(t *testing.T) {
	emu := startEmulator(t)
	token := accessToken(t, emu)
	jwks := closedURL(t)
	synctest.Test(t, func(t *testing.T) {
		onRefresh, fetched := refreshes()
		tr := &http.Transport{}
		defer tr.CloseIdleConnections()
		c, err := New(t.Context(), Config{Issuer: emu.Issuer(), JWKSURI: jwks, OnRefresh: onRefresh, HTTPClient: &http.Client{Transport: tr}})
		if err != nil {
			t.Fatalf("New(unreachable JWKS) = %v, want nil", err)
		}
		if err := nextRefresh(t, fetched); err == nil {
			t.Fatalf("first fetch of a closed port = nil, want an error")
		}
		if err := c.Ready(); !errors.Is(err, ErrKeySetNotLoaded) || !strings.Contains(err.Error(), "refused") {
			t.Errorf("Ready() = %v, want %v with the connection error", err, ErrKeySetNotLoaded)
		}
		_, err = c.Check(token)
		if !errors.Is(err, ErrKeySetNotLoaded) {
			t.Fatalf("Check() = %v, want %v", err, ErrKeySetNotLoaded)
		}
		var re *RuleError
		if !errors.As(err, &re) || re.Fix == "" {
			t.Errorf("Check() = %#v, want a *RuleError with a fix", err)
		}
		// Retries go on in the background.
		first := time.Now()
		if err := nextRefresh(t, fetched); err == nil {
			t.Errorf("retried fetch of a closed port = nil, want an error")
		}
		if gap := time.Since(first); gap < retryMin*8/10 || gap > retryMin*12/10 {
			t.Errorf("retry %v after the first failure, want %v ±20%%", gap, retryMin)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		if err := c.WaitReady(ctx); !errors.Is(err, ErrKeySetNotLoaded) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("WaitReady(short ctx) = %v, want %v and %v", err, ErrKeySetNotLoaded, context.DeadlineExceeded)
		}
	})
}

func TestCheckRightAfterNew(t *testing.T) {
	emu := startEmulator(t)
	token := accessToken(t, emu)
	c, err := New(t.Context(), Config{Issuer: emu.Issuer(), JWKSURI: jwksURI(emu)})
	if err != nil {
		t.Fatalf("New() = %v, want nil", err)
	}
	// No WaitReady: Check waits for the first fetch itself.
	if _, err := c.Check(token); err != nil {
		t.Errorf("Check() right after New = %v, want nil", err)
	}
}

func TestRefreshGoroutineEndsWithContext(t *testing.T) {
	emu := startEmulator(t)
	for _, tt := range []struct {
		name string
		url  string
	}{
		{name: "loaded", url: jwksURI(emu)},
		{name: "retrying", url: closedURL(t)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			onRefresh, fetched := refreshes()
			c, err := New(ctx, Config{Issuer: emu.Issuer(), JWKSURI: tt.url, OnRefresh: onRefresh})
			if err != nil {
				t.Fatalf("New() = %v, want nil", err)
			}
			nextRefresh(t, fetched)
			select {
			case <-c.Done():
				t.Fatal("Done() closed before the context ended")
			default:
			}
			cancel()
			select {
			case <-c.Done():
			case <-time.After(5 * time.Second):
				t.Fatal("Done() not closed within 5s of cancelling the context")
			}
		})
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	good := Config{Issuer: "https://cognito-idp.us-west-2.amazonaws.com/us-west-2_x", JWKSURI: "https://cognito-idp.us-west-2.amazonaws.com/us-west-2_x/.well-known/jwks.json"}
	tests := []struct {
		name     string
		edit     func(*Config)
		wantErr  error
		wantText []string
	}{
		{name: "relative issuer", edit: func(c *Config) { c.Issuer = "us-west-2_x" }, wantErr: ErrInvalidConfig, wantText: []string{`Issuer "us-west-2_x"`}},
		{name: "empty JWKS URI", edit: func(c *Config) { c.JWKSURI = "" }, wantErr: ErrInvalidConfig, wantText: []string{`JWKSURI ""`}},
		{name: "plain-http JWKS URI off loopback", edit: func(c *Config) { c.JWKSURI = "http://10.1.2.3/jwks" }, wantErr: ErrInvalidConfig,
			wantText: []string{`JWKSURI "http://10.1.2.3/jwks": plain http is allowed only to a loopback address`}},
		{name: "negative leeway", edit: func(c *Config) { c.Leeway = -time.Second }, wantErr: ErrInvalidConfig, wantText: []string{"Leeway"}},
		{name: "bad rule", edit: func(c *Config) {
			c.Rules.CustomClaims = []CustomClaim{{Name: "g", Type: "STRING_ARRAY", Operator: "EQUALS", Values: []string{"a"}}}
		}, wantErr: ErrInvalidRules, wantText: []string{"EQUALS is for a STRING claim"}},
		{name: "every problem at once", edit: func(c *Config) { c.Issuer, c.JWKSURI = "x", "y" },
			wantErr: ErrInvalidConfig, wantText: []string{`Issuer "x"`, `JWKSURI "y"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := good
			tt.edit(&cfg)
			c, err := New(t.Context(), cfg)
			if !errors.Is(err, tt.wantErr) || c != nil {
				t.Fatalf("New() = %v, %v, want nil, %v", c, err, tt.wantErr)
			}
			for _, w := range tt.wantText {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("New() = %q, want it to contain %q", err, w)
				}
			}
		})
	}
}

// TestKeySetRedirects: a key-set GET follows a redirect on its own host, but
// not one to another host (127.0.0.2), which receives nothing.
func TestKeySetRedirects(t *testing.T) {
	emu := startEmulator(t)
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		if runtime.GOOS == "linux" {
			t.Fatalf("listening on 127.0.0.2 (all of 127.0.0.0/8 is loopback on Linux): %v", err)
		}
		t.Skipf("no second loopback address (macOS needs an alias: ifconfig lo0 alias 127.0.0.2): %v", err)
	}
	var otherHits atomic.Int32
	other := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { otherHits.Add(1) }))
	other.Listener.Close()
	other.Listener = ln
	other.Start()
	defer other.Close()
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/here":
			http.Redirect(w, r, "/keys", http.StatusFound)
		case "/away":
			http.Redirect(w, r, other.URL+"/keys", http.StatusFound)
		default:
			http.Redirect(w, r, jwksURI(emu), http.StatusFound) // 127.0.0.1 too: same host
		}
	}))
	defer jwks.Close()

	onRefresh, fetched := refreshes()
	if _, err := New(t.Context(), Config{Issuer: emu.Issuer(), JWKSURI: jwks.URL + "/here", OnRefresh: onRefresh}); err != nil {
		t.Fatal(err)
	}
	if err := nextRefresh(t, fetched); err != nil {
		t.Errorf("key set behind same-host redirects = %v, want loaded", err)
	}
	onRefresh, fetched = refreshes()
	if _, err := New(t.Context(), Config{Issuer: emu.Issuer(), JWKSURI: jwks.URL + "/away", OnRefresh: onRefresh}); err != nil {
		t.Fatal(err)
	}
	if err := nextRefresh(t, fetched); err == nil || !strings.Contains(err.Error(), "not followed") {
		t.Errorf("key set behind a redirect to another host = %v, want the redirect refused", err)
	}
	if n := otherHits.Load(); n != 0 {
		t.Errorf("the other host got %d requests, want 0", n)
	}
}

// TestKeySetEndlessAnswerBounded: an identity provider whose key set never
// ends (a JSON string without a close) gets the fetch failed once the
// answer passes maxKeySetBytes, not read for the whole fetch timeout, and
// the server sees its writes fail soon after.
func TestKeySetEndlessAnswerBounded(t *testing.T) {
	emu := startEmulator(t)
	var written atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"keys":[{"kty":"RSA","kid":"`)
		chunk := []byte(strings.Repeat("A", 64<<10))
		for range 64 * 16 { // 64 MiB at most, so that the test ends whatever happens
			n, err := w.Write(chunk)
			written.Add(int64(n))
			if err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	onRefresh, fetched := refreshes()
	if _, err := New(t.Context(), Config{Issuer: emu.Issuer(), JWKSURI: srv.URL + "/jwks", OnRefresh: onRefresh}); err != nil {
		t.Fatal(err)
	}
	err := nextRefresh(t, fetched)
	if !errors.Is(err, errKeySetTooLarge) {
		t.Fatalf("endless key set = %v, want %v", err, errKeySetTooLarge)
	}
	srv.CloseClientConnections()
	srv.Close() // waits for the handler, which stops once its writes fail
	if n := written.Load(); n >= 64<<20 {
		t.Errorf("the server wrote all %d bytes: the proxy read the endless key set to its end", n)
	}
}
