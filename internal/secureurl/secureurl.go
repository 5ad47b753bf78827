// Package secureurl says where a secret, or a request made on the word of a
// remote server, may go: https anywhere, plain http only to a loopback host.
// It also holds the redirect policies of the HTTP clients that talk to
// identity providers: a request that carries credentials follows no
// redirect, and a metadata or key-set GET follows only redirects to a
// secure URL on the host it asked.
//
// proxy, tokencache and jwtcheck share these rules; none of them may import
// another, so the rules live here.
package secureurl

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// ErrPlainHTTP is returned for a plain-http URL whose host is not a
// loopback address: whatever is sent there crosses a network in clear, and
// a discovered one may point anywhere.
var ErrPlainHTTP = errors.New("plain http is allowed only to a loopback address (use https://, or 127.0.0.1/localhost/[::1])")

// ErrRedirect is wrapped by every *RedirectError.
var ErrRedirect = errors.New("redirect not followed")

// IsLoopbackHost reports whether host (a name or address, with or without a
// port) is localhost, a name under .localhost, or a loopback IP address.
func IsLoopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Check checks that raw is an absolute http(s) URL without user
// information to which a secret may be sent, or which a server may name for
// the proxy to fetch: https anywhere, plain http only to a loopback host
// (ErrPlainHTTP).
func Check(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("not a URL: %w", err)
	}
	return u, CheckURL(u)
}

// CheckURL is Check for a parsed URL.
func CheckURL(u *url.URL) error {
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("scheme %q is not http or https", u.Scheme)
	case u.Host == "" || u.Hostname() == "":
		return errors.New("URL has no host")
	case u.User != nil:
		return errors.New("URL must not carry credentials (user:password@)")
	case u.Scheme == "http" && !IsLoopbackHost(u.Host):
		return ErrPlainHTTP
	}
	return nil
}

// SameHost reports whether a and b name the same host, ignoring case, a
// trailing dot and ports.
func SameHost(a, b *url.URL) bool {
	norm := func(u *url.URL) string { return strings.TrimSuffix(strings.ToLower(u.Hostname()), ".") }
	return norm(a) != "" && norm(a) == norm(b)
}

// Redacted returns u without user information, query and fragment, for
// messages: a hostile server may echo a secret it received into the query
// of the URL it redirects to. A dropped query shows as "?…".
func Redacted(u *url.URL) string {
	if u == nil {
		return ""
	}
	s := u.Scheme + "://" + u.Host + u.EscapedPath()
	if u.Scheme == "" && u.Host == "" {
		s = u.EscapedPath()
	}
	if u.RawQuery != "" || u.ForceQuery {
		s += "?…"
	}
	return s
}

// RedirectError is a redirect a policy refused: the request it asked for was
// not made.
type RedirectError struct {
	// Status is the status code of the redirect.
	Status int
	// From is the URL that answered with the redirect, redacted.
	From string
	// Location is where the redirect pointed, redacted (see Redacted).
	Location string
	// Why says why it was not followed.
	Why string
}

func (e *RedirectError) Error() string {
	status := ""
	if e.Status != 0 {
		status = fmt.Sprintf("HTTP %d ", e.Status)
	}
	return fmt.Sprintf("%s answered %sredirecting to %s: not followed: %s", e.From, status, e.Location, e.Why)
}

// Unwrap returns ErrRedirect.
func (e *RedirectError) Unwrap() error { return ErrRedirect }

func refuse(req *http.Request, via []*http.Request, why string) error {
	e := &RedirectError{Location: Redacted(req.URL), Why: why}
	if req.Response != nil {
		e.Status = req.Response.StatusCode
	}
	if len(via) > 0 {
		e.From = Redacted(via[len(via)-1].URL)
	}
	return e
}

// maxRedirects is how many redirects a GET follows, as net/http's default.
const maxRedirects = 10

// NoRedirects is an http.Client CheckRedirect that follows no redirect, for
// requests that carry credentials: a token endpoint that redirects would
// otherwise have the client send the secret or assertion again to wherever
// it points.
func NoRedirects(req *http.Request, via []*http.Request) error {
	return refuse(req, via, "a request carrying client credentials never follows a redirect")
}

// SameHostGET is an http.Client CheckRedirect for discovery: a GET follows
// up to 10 redirects, each to an https URL (or http on a loopback host) on
// the host of the first request; any other method follows none.
func SameHostGET(req *http.Request, via []*http.Request) error {
	first := via[0]
	switch {
	case first.Method != http.MethodGet:
		return refuse(req, via, first.Method+" requests do not follow redirects")
	case len(via) >= maxRedirects:
		return refuse(req, via, fmt.Sprintf("stopped after %d redirects", maxRedirects))
	case !SameHost(req.URL, first.URL):
		return refuse(req, via, "it leaves "+first.URL.Hostname()+" (only redirects on the same host are followed)")
	}
	if err := CheckURL(req.URL); err != nil {
		return refuse(req, via, err.Error())
	}
	return nil
}

// WithRedirects returns a copy of c, or of a client with no timeout on the
// default transport if c is nil, whose CheckRedirect is policy. The copy
// shares c's transport and so its connections.
func WithRedirects(c *http.Client, policy func(*http.Request, []*http.Request) error) *http.Client {
	var out http.Client
	if c != nil {
		out = *c
	}
	out.CheckRedirect = policy
	return &out
}
