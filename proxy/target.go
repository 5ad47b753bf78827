package proxy

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// ErrInsecureTarget is returned for a plain-http URL whose host is not a
// loopback address: a bearer token or client secret would cross a network in
// clear.
var ErrInsecureTarget = errors.New("proxy: plain http is allowed only to a loopback address (use https://, or 127.0.0.1/localhost/[::1])")

// IsLoopbackHost reports whether host (a name or address, with or without a
// port) is localhost or a loopback IP address.
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

// CheckSecureURL checks that raw is an absolute http(s) URL to which secrets
// may be sent: https anywhere, plain http only to a loopback host.
func CheckSecureURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("not a URL: %w", err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("scheme %q is not http or https", u.Scheme)
	case u.Host == "":
		return nil, errors.New("URL has no host")
	case u.User != nil:
		return nil, errors.New("URL must not carry credentials (user:password@)")
	case u.Scheme == "http" && !IsLoopbackHost(u.Host):
		return nil, ErrInsecureTarget
	}
	return u, nil
}
