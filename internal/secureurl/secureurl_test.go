package secureurl

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
)

func TestCheck(t *testing.T) {
	tests := []struct {
		raw       string
		plainHTTP bool // want ErrPlainHTTP
		ok        bool
	}{
		{raw: "https://as.example.com/token", ok: true},
		{raw: "https://10.1.2.3/x", ok: true},
		{raw: "http://127.0.0.1:8080/token", ok: true},
		{raw: "http://127.0.0.2/x", ok: true},
		{raw: "http://localhost:3000/", ok: true},
		{raw: "http://idp.localhost/", ok: true},
		{raw: "http://[::1]:9/x", ok: true},
		{raw: "http://10.1.2.3/jwks", plainHTTP: true},
		{raw: "http://169.254.169.254/latest/meta-data", plainHTTP: true},
		{raw: "http://as.example.com/token", plainHTTP: true},
		{raw: "http://localhost.evil.example/", plainHTTP: true},
		{raw: "http://127.0.0.1.nip.io/", plainHTTP: true},
		{raw: "ftp://127.0.0.1/x"},
		{raw: "/relative"},
		{raw: "https://user:pw@as.example.com/"},
		{raw: "https://:443/"},
		{raw: "https://as.example.com/%zz"},
	}
	for _, tt := range tests {
		_, err := Check(tt.raw)
		switch {
		case tt.ok && err != nil:
			t.Errorf("Check(%q) = %v, want nil", tt.raw, err)
		case !tt.ok && err == nil:
			t.Errorf("Check(%q) = nil, want an error", tt.raw)
		case errors.Is(err, ErrPlainHTTP) != tt.plainHTTP:
			t.Errorf("Check(%q) = %v, want ErrPlainHTTP %v", tt.raw, err, tt.plainHTTP)
		}
	}
}

func TestRedacted(t *testing.T) {
	for raw, want := range map[string]string{
		"http://127.0.0.2:9/steal?client_secret=s3cret#f": "http://127.0.0.2:9/steal?…",
		"https://u:p@as.example.com/a%2Fb":                "https://as.example.com/a%2Fb",
		"/relative?x=1":                                   "/relative?…",
	} {
		u, _ := url.Parse(raw)
		if got := Redacted(u); got != want {
			t.Errorf("Redacted(%q) = %q, want %q", raw, got, want)
		}
	}
}

// hosts are two loopback servers on different addresses: "here" redirects
// as its path says, "there" counts what reaches it.
type hosts struct {
	here, there *httptest.Server
	thereHits   atomic.Int32
}

func newHosts(t *testing.T) *hosts {
	t.Helper()
	h := &hosts{}
	h.there = serveOn(t, "127.0.0.2:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.thereHits.Add(1)
		w.Write([]byte("there"))
	}))
	h.here = serveOn(t, "127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/to-there":
			http.Redirect(w, r, h.there.URL+"/x?client_secret=echoed", http.StatusTemporaryRedirect)
		case "/to-here":
			http.Redirect(w, r, "/final", http.StatusFound)
		case "/to-plain-far":
			http.Redirect(w, r, "http://10.1.2.3/x", http.StatusFound)
		case "/loop":
			http.Redirect(w, r, "/loop", http.StatusFound)
		default:
			w.Write([]byte("here " + r.Method))
		}
	}))
	return h
}

func serveOn(t *testing.T, addr string, h http.Handler) *httptest.Server {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("listen %s: %v", addr, err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

func TestSameHostGET(t *testing.T) {
	h := newHosts(t)
	c := WithRedirects(nil, SameHostGET)
	tests := []struct {
		name, method, path string
		wantWhy            string // "" for a followed redirect
	}{
		{name: "same host", method: http.MethodGet, path: "/to-here"},
		{name: "other host", method: http.MethodGet, path: "/to-there", wantWhy: "leaves 127.0.0.1"},
		{name: "plain http far away", method: http.MethodGet, path: "/to-plain-far", wantWhy: "leaves 127.0.0.1"},
		{name: "POST", method: http.MethodPost, path: "/to-here", wantWhy: "POST requests do not follow redirects"},
		{name: "loop", method: http.MethodGet, path: "/loop", wantWhy: "stopped after 10 redirects"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(t.Context(), tt.method, h.here.URL+tt.path, nil)
			resp, err := c.Do(req)
			if tt.wantWhy == "" {
				if err != nil {
					t.Fatalf("%s %s = %v, want the redirect followed", tt.method, tt.path, err)
				}
				resp.Body.Close()
				if resp.Request.URL.Path != "/final" {
					t.Errorf("%s %s ended at %s, want /final", tt.method, tt.path, resp.Request.URL)
				}
				return
			}
			var re *RedirectError
			if !errors.As(err, &re) || !errors.Is(err, ErrRedirect) || !strings.Contains(re.Why, tt.wantWhy) {
				t.Fatalf("%s %s = %v, want a *RedirectError saying %q", tt.method, tt.path, err, tt.wantWhy)
			}
			if re.Status < 300 || re.Status > 399 || strings.Contains(re.Error(), "echoed") {
				t.Errorf("RedirectError = %+v (%q), want a 3xx status and no query", re, re.Error())
			}
		})
	}
	if n := h.thereHits.Load(); n != 0 {
		t.Errorf("the other host got %d requests, want 0", n)
	}
}

func TestNoRedirects(t *testing.T) {
	h := newHosts(t)
	c := WithRedirects(&http.Client{}, NoRedirects)
	for _, path := range []string{"/to-here", "/to-there"} {
		resp, err := c.Post(h.here.URL+path, "application/x-www-form-urlencoded", strings.NewReader("client_secret=s3cret"))
		if err == nil {
			resp.Body.Close()
		}
		var re *RedirectError
		if !errors.As(err, &re) || re.Status != http.StatusTemporaryRedirect && re.Status != http.StatusFound {
			t.Fatalf("POST %s = %v, want a *RedirectError with the 3xx status", path, err)
		}
		if !strings.HasPrefix(re.Location, "http://") || strings.Contains(re.Error(), "echoed") {
			t.Errorf("POST %s: Location %q in %q, want an absolute URL without its query", path, re.Location, re.Error())
		}
	}
	if n := h.thereHits.Load(); n != 0 {
		t.Errorf("the other host got %d requests, want 0", n)
	}
}

// FuzzCheck checks that what Check accepts is an absolute https URL, or
// plain http on a loopback host, without user information.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{"https://as.example.com/t", "http://127.0.0.1:1/", "http://10.1.2.3/", "http://localhost.evil/",
		"http://[::1]/", "http://user@127.0.0.1/", "HTTP://LOCALHOST/", "http://127.0.0.1%2f@evil/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := Check(raw)
		if err != nil {
			return
		}
		if u.User != nil || u.Hostname() == "" {
			t.Fatalf("Check(%q) accepted user info or an empty host: %+v", raw, u)
		}
		switch u.Scheme {
		case "https":
		case "http":
			ip := net.ParseIP(strings.TrimSuffix(u.Hostname(), "."))
			name := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
			if !(ip != nil && ip.IsLoopback()) && name != "localhost" && !strings.HasSuffix(name, ".localhost") {
				t.Fatalf("Check(%q) accepted plain http to %q", raw, u.Hostname())
			}
		default:
			t.Fatalf("Check(%q) accepted scheme %q", raw, u.Scheme)
		}
	})
}
