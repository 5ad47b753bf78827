package proxy

import (
	"errors"
	"net/url"

	"github.com/agentcore-proxy/agentcore-proxy/internal/secureurl"
)

// ErrInsecureTarget is returned for a plain-http URL whose host is not a
// loopback address: a bearer token or client secret would cross a network in
// clear.
var ErrInsecureTarget = errors.New("proxy: plain http is allowed only to a loopback address (use https://, or 127.0.0.1/localhost/[::1])")

// IsLoopbackHost reports whether host (a name or address, with or without a
// port) is localhost or a loopback IP address.
func IsLoopbackHost(host string) bool { return secureurl.IsLoopbackHost(host) }

// CheckSecureURL checks that raw is an absolute http(s) URL to which secrets
// may be sent: https anywhere, plain http only to a loopback host
// (ErrInsecureTarget). Discovery holds the URLs servers name to the same
// rule.
func CheckSecureURL(raw string) (*url.URL, error) {
	u, err := secureurl.Check(raw)
	if errors.Is(err, secureurl.ErrPlainHTTP) {
		return nil, ErrInsecureTarget
	}
	if err != nil {
		return nil, err
	}
	return u, nil
}
