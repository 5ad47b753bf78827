package cli

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/agentcore-proxy/agentcore-proxy/proxy"
)

// guard checks every inbound request before anything reaches an upstream:
// the Host and Origin headers (DNS rebinding: a web page must not make a
// browser talk to the proxy under the page's name) and, when configured,
// the inbound token. The proxy attaches the agent's identity to whatever it
// forwards, so whoever reaches it acts as the agent.
type guard struct {
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

func (g *guard) wrap(next http.Handler) http.Handler {
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
func (g *guard) hostOK(hostport string) bool {
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
func (g *guard) originOK(origin string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return false
	}
	return proxy.IsLoopbackHost(u.Host) || g.allowedOrigins[strings.ToLower(u.Scheme+"://"+u.Host)]
}

// tokenOK compares the presented inbound token with the configured one in
// constant time (hashing first makes the lengths equal too).
func (g *guard) tokenOK(presented string) bool {
	sum := sha256.Sum256([]byte(strings.TrimSpace(presented)))
	return presented != "" && subtle.ConstantTimeCompare(sum[:], g.tokenSum) == 1
}

// minInboundToken is the shortest inbound token accepted.
const minInboundToken = 16

// readInboundToken reads and checks the token file.
func readInboundToken(file string) ([]byte, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("--inbound-token-file %q: %w", file, unwrap(err))
	}
	tok := strings.TrimSpace(string(b))
	if len(tok) < minInboundToken || strings.ContainsAny(tok, " \t\r\n") {
		return nil, fmt.Errorf("--inbound-token-file %q: the token must be one line of at least %d characters without spaces (e.g. openssl rand -hex 32 > FILE)", file, minInboundToken)
	}
	sum := sha256.Sum256([]byte(tok))
	return sum[:], nil
}

// guardFlags are the serve flags of the inbound guard.
type guardFlags struct {
	allowedHosts, allowedOrigins listFlag
	inboundTokenFile             string
	insecureNoInboundAuth        bool
}

// newGuard builds the guard for a listen address, refusing a non-loopback
// TCP address without an inbound credential unless the user insisted.
func (f *guardFlags) newGuard(listen string) (*guard, []string, error) {
	g := &guard{allowedHosts: map[string]bool{}, allowedOrigins: map[string]bool{}}
	var errs []error
	for _, h := range f.allowedHosts {
		g.allowedHosts[strings.ToLower(strings.Trim(h, "[]"))] = true
	}
	for _, o := range f.allowedOrigins {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			errs = append(errs, fmt.Errorf("--allowed-origin %q: want scheme://host[:port], e.g. https://app.example.com", o))
			continue
		}
		g.allowedOrigins[strings.ToLower(u.Scheme+"://"+u.Host)] = true
	}
	if f.inboundTokenFile != "" {
		sum, err := readInboundToken(f.inboundTokenFile)
		if err != nil {
			errs = append(errs, err)
		}
		g.tokenSum = sum
	}
	var warnings []string
	network, addr := listenNetwork(listen)
	switch {
	case network == "unix":
		g.anyHost = true
	case isLoopbackListen(addr):
	case f.inboundTokenFile != "":
		g.anyHost = true
	case f.insecureNoInboundAuth:
		warnings = append(warnings, fmt.Sprintf("listening on %s without an inbound credential (--insecure-no-inbound-auth): anything that reaches this address acts with the agent's identity", addr))
	default:
		errs = append(errs, fmt.Errorf("--listen %q is not a loopback address: whoever reaches it would act with the agent's identity; give --inbound-token-file FILE (clients send it in %s), or listen on unix:/path, or 127.0.0.1 (--insecure-no-inbound-auth skips this check)", listen, proxy.HeaderInboundToken))
	}
	return g, warnings, errors.Join(errs...)
}

// listenNetwork splits "unix:/path" from a TCP host:port.
func listenNetwork(listen string) (network, addr string) {
	if path, ok := strings.CutPrefix(listen, "unix:"); ok {
		return "unix", path
	}
	return "tcp", listen
}

// isLoopbackListen reports whether a TCP listen address binds loopback
// only. An empty host (":8080") binds every interface.
func isLoopbackListen(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	return err == nil && host != "" && proxy.IsLoopbackHost(host)
}
