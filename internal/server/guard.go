package server

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/agentcore-proxy/agentcore-proxy/agentcore"
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
	// metrics makes this the metrics listener's guard (GuardConfig.Metrics).
	metrics bool
	// names renders the settings the refusals name.
	names agentcore.Namer
}

// The guard's settings, which its refusals name so that the caller can put
// them in the user's words (GuardConfig.Names).
const (
	// SettingAllowedHost adds a host name clients may use.
	SettingAllowedHost agentcore.Setting = "allowed_host"
	// SettingAllowedOrigin adds a browser origin that may reach the proxy.
	SettingAllowedOrigin agentcore.Setting = "allowed_origin"
	// SettingInboundTokenFile holds the token clients must send.
	SettingInboundTokenFile agentcore.Setting = "inbound_token_file"
)

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
	// Metrics makes the guard the metrics listener's: every path is
	// checked (the probes too: this port serves nothing else), and any IP
	// literal passes as Host besides loopback and allowed names, since
	// Prometheus and kubelets address a pod by IP while a rebinding page's
	// Host is always its DNS name.
	Metrics bool
	// Names renders SettingAllowedHost and the others in the refusals; nil
	// names them by their keys (agentcore.PlainNames).
	Names agentcore.Namer
}

// NewGuard returns the guard for c.
func NewGuard(c GuardConfig) *Guard {
	g := &Guard{allowedHosts: map[string]bool{}, allowedOrigins: map[string]bool{}, anyHost: c.AnyHost, tokenSum: c.TokenSHA256, metrics: c.Metrics,
		names: c.Names}
	if g.names == nil {
		g.names = agentcore.PlainNames
	}
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
		if !g.metrics && unguardedPaths[r.URL.Path] && r.Method == http.MethodGet {
			next.ServeHTTP(w, r)
			return
		}
		if !g.hostOK(r.Host) {
			refuse(w, r)
			if g.metrics {
				proxy.WriteError(w, http.StatusForbidden, nil, proxy.CodeInvalidRequest, fmt.Sprintf(
					"agentcore-proxy: Host %q is not allowed on the metrics listener (DNS rebinding protection): address it by IP (as Prometheus and kubelets do) or localhost, or start the proxy with %s", r.Host, g.names(SettingAllowedHost)))
				return
			}
			proxy.WriteError(w, http.StatusForbidden, nil, proxy.CodeInvalidRequest, fmt.Sprintf(
				"agentcore-proxy: Host %q is not allowed (DNS rebinding protection): connect to 127.0.0.1 or localhost, or start the proxy with %s", r.Host, g.names(SettingAllowedHost)))
			return
		}
		origin := r.Header.Get("Origin")
		if origin != "" && !g.originOK(origin) {
			refuse(w, r)
			proxy.WriteError(w, http.StatusForbidden, nil, proxy.CodeInvalidRequest, fmt.Sprintf(
				"agentcore-proxy: Origin %q is not allowed: a web page may reach the proxy only if started with %s %s", origin, g.names(SettingAllowedOrigin), origin))
			return
		}
		if site := crossSite(r.Header.Get("Sec-Fetch-Site")); origin == "" && site != "" {
			refuse(w, r)
			proxy.WriteError(w, http.StatusForbidden, nil, proxy.CodeInvalidRequest, fmt.Sprintf(
				"agentcore-proxy: a request a browser sent for another site's page (Sec-Fetch-Site: %s) without an Origin is not allowed: a web page may reach the proxy only from an origin given with %s; open the status page by typing its address", site, g.names(SettingAllowedOrigin)))
			return
		}
		if g.tokenSum != nil {
			if !g.tokenOK(r.Header.Get(proxy.HeaderInboundToken)) {
				refuse(w, r)
				proxy.WriteError(w, http.StatusUnauthorized, nil, proxy.CodeAuth, fmt.Sprintf(
					"agentcore-proxy: missing or wrong %s header: send the token from the proxy's %s", proxy.HeaderInboundToken, g.names(SettingInboundTokenFile)))
				return
			}
			r.Header.Del(proxy.HeaderInboundToken)
		}
		next.ServeHTTP(w, r)
	})
}

// crossSite returns the value of a Sec-Fetch-Site header that marks a
// request a browser made for a page of another site ("cross-site" or
// "same-site"), else "". "same-origin" (a page of the proxy itself) and
// "none" (the user typed the address) are the user's own requests. A GET
// (a navigation, an image, a script) carries no Origin, so this header is
// how the guard tells a page's request from the user's.
func crossSite(v string) string {
	switch v = strings.ToLower(strings.TrimSpace(v)); v {
	case "cross-site", "same-site":
		return v
	}
	return ""
}

// refuse prepares a refusal of a request whose body is left unread: it
// closes the connection after the answer instead of letting net/http read
// the rest of the body first, which a client that stalls would hold open.
func refuse(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength != 0 {
		w.Header().Set("Connection", "close")
	}
}

// hostOK reports whether the Host header names the proxy: a loopback name
// or address, or one given as allowed. An empty Host is refused.
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
	bare := strings.Trim(host, "[]")
	if g.metrics && net.ParseIP(bare) != nil {
		return true
	}
	return proxy.IsLoopbackHost(host) || g.allowedHosts[strings.ToLower(bare)]
}

// originOK reports whether a browser Origin may use the proxy: a page
// served from this machine (such as the MCP Inspector on localhost), or one
// given as allowed.
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
