package server

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/agentcore-proxy/agentcore-proxy/proxy"
)

// Guard checks every inbound request before anything reaches an upstream:
// the Host and Origin headers (DNS rebinding: a web page must not make a
// browser talk to the proxy under the page's name) and, when configured,
// the inbound token. The proxy attaches the agent's identity to whatever it
// forwards, so whoever reaches it acts as the agent.
type Guard struct {
	allowedHosts   map[string]bool // lower-case host names, without port
	allowedOrigins map[string]bool // lower-case scheme://host[:port]
	// anyHost accepts every Host: on a unix socket (a browser cannot reach
	// it) or off loopback behind the inbound token (which a rebinding page
	// does not have).
	anyHost bool
	// tokenSum is the SHA-256 of the inbound token; nil when none is set.
	tokenSum []byte
}

// unguardedPaths are probes and scrapes that carry no credential and reveal
// no secret: they must answer kubelets and Prometheus, which address the
// pod by IP.
var unguardedPaths = map[string]bool{"/healthz": true, "/readyz": true, "/metrics": true}

// GuardConfig is what the inbound guard accepts besides loopback.
type GuardConfig struct {
	// AllowedHosts are host names clients may use besides loopback names.
	AllowedHosts []string
	// AllowedOrigins are browser origins (scheme://host[:port]) allowed
	// besides pages on this machine.
	AllowedOrigins []string
	// AnyHost accepts every Host header: on a unix socket (a browser cannot
	// reach it) or off loopback behind the inbound token (which a
	// rebinding page does not have).
	AnyHost bool
	// TokenSHA256 is the SHA-256 of the inbound token clients must send in
	// X-Agentcore-Proxy-Token; nil requires none.
	TokenSHA256 []byte
}

// NewGuard returns the guard for c.
func NewGuard(c GuardConfig) *Guard {
	g := &Guard{allowedHosts: map[string]bool{}, allowedOrigins: map[string]bool{}, anyHost: c.AnyHost, tokenSum: c.TokenSHA256}
	for _, h := range c.AllowedHosts {
		g.allowedHosts[strings.ToLower(strings.Trim(h, "[]"))] = true
	}
	for _, o := range c.AllowedOrigins {
		g.allowedOrigins[strings.ToLower(strings.TrimSuffix(o, "/"))] = true
	}
	return g
}

// Wrap returns next behind the guard.
func (g *Guard) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if unguardedPaths[r.URL.Path] && r.Method == http.MethodGet {
			next.ServeHTTP(w, r)
			return
		}
		if !g.hostOK(r.Host) {
			proxy.WriteError(w, http.StatusForbidden, nil, proxy.CodeInvalidRequest, fmt.Sprintf(
				"agentcore-proxy: Host %q is not allowed (DNS rebinding protection): connect to 127.0.0.1 or localhost, or start the proxy with --allowed-host", r.Host))
			return
		}
		if origin := r.Header.Get("Origin"); origin != "" && !g.originOK(origin) {
			proxy.WriteError(w, http.StatusForbidden, nil, proxy.CodeInvalidRequest, fmt.Sprintf(
				"agentcore-proxy: Origin %q is not allowed: a web page may reach the proxy only if started with --allowed-origin %s", origin, origin))
			return
		}
		if g.tokenSum != nil {
			if !g.tokenOK(r.Header.Get(proxy.HeaderInboundToken)) {
				proxy.WriteError(w, http.StatusUnauthorized, nil, proxy.CodeAuth, fmt.Sprintf(
					"agentcore-proxy: missing or wrong %s header: send the token from the proxy's --inbound-token-file", proxy.HeaderInboundToken))
				return
			}
			r.Header.Del(proxy.HeaderInboundToken)
		}
		next.ServeHTTP(w, r)
	})
}

// hostOK reports whether the Host header names the proxy: a loopback name
// or address, or one given with --allowed-host. An empty Host is refused.
func (g *Guard) hostOK(hostport string) bool {
	if hostport == "" {
		return false
	}
	if g.anyHost {
		return true
	}
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	return proxy.IsLoopbackHost(host) || g.allowedHosts[strings.ToLower(strings.Trim(host, "[]"))]
}

// originOK reports whether a browser Origin may use the proxy: a page
// served from this machine (such as the MCP Inspector on localhost), or one
// given with --allowed-origin.
func (g *Guard) originOK(origin string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return false
	}
	return proxy.IsLoopbackHost(u.Host) || g.allowedOrigins[strings.ToLower(u.Scheme+"://"+u.Host)]
}

// tokenOK compares the presented inbound token with the configured one in
// constant time (hashing first makes the lengths equal too).
func (g *Guard) tokenOK(presented string) bool {
	sum := sha256.Sum256([]byte(strings.TrimSpace(presented)))
	return presented != "" && subtle.ConstantTimeCompare(sum[:], g.tokenSum) == 1
}
