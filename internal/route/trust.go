package route

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/agentcore-proxy/agentcore-proxy/agentcore"
	"github.com/agentcore-proxy/agentcore-proxy/discovery"
	"github.com/agentcore-proxy/agentcore-proxy/internal/config"
	"github.com/agentcore-proxy/agentcore-proxy/internal/secureurl"
)

// ErrUntrustedAuthServer is wrapped by every *UntrustedAuthServerError.
var ErrUntrustedAuthServer = errors.New("route: the authorization server is not trusted with the route's client credentials")

// UntrustedAuthServerError says that discovery found an authorization
// server the route's client credentials do not belong to, so the route does
// not start and nothing was sent to that server.
type UntrustedAuthServerError struct {
	// Route is the route's name.
	Route string
	// Upstream is the URL discovery started from.
	Upstream *url.URL
	// Named is the issuer the upstream named, or that the discovery URL's
	// document gave.
	Named string
	// Where is where Named was found (a metadata URL).
	Where string
	// Issuer is the issuer setting, "" when not given.
	Issuer string
	// names render the settings in the user's words.
	names agentcore.Namer
	// fromDiscoveryURL: Named came from the discovery URL's document, which
	// discoverySetting names.
	fromDiscoveryURL bool
	discoverySetting string
}

func (e *UntrustedAuthServerError) Error() string {
	issuer := agentcore.Render("{issuer}", e.names)
	if e.fromDiscoveryURL {
		return fmt.Sprintf("route %s: %s %s gives the issuer %s, but %s is %s: the client's credentials go only to %s; check both settings",
			e.Route, e.discoverySetting, e.Where, e.Named, issuer, e.Issuer, e.Issuer)
	}
	head := fmt.Sprintf("route %s: the upstream %s names the authorization server %s in its protected resource metadata %s",
		e.Route, e.Upstream.Redacted(), e.Named, e.Where)
	if e.Issuer != "" {
		return fmt.Sprintf("%s, but %s is %s: the client's credentials go only to %s, and nothing was sent to %s; check %s, or the upstream (host %s)",
			head, issuer, e.Issuer, e.Issuer, e.Named, issuer, e.Upstream.Hostname())
	}
	return fmt.Sprintf("%s, which is not on the upstream's host %s: without %s the client's credentials go only to an authorization server on that host, and nothing was sent to %s; if you trust it, give %s %s",
		head, e.Upstream.Hostname(), issuer, e.Named, issuer, e.Named)
}

// Unwrap returns ErrUntrustedAuthServer.
func (e *UntrustedAuthServerError) Unwrap() error { return ErrUntrustedAuthServer }

// trustUpstreamAuthServer returns route r's trust decision for zero-config
// discovery (discovery.DiscoverResourceTrusting), made before any request
// to the authorization server the upstream names: with an issuer setting,
// only that issuer; without, a runtime ARN route trusts what AgentCore names
// (the metadata came from AWS over TLS, or from the endpoint the user gave),
// and any other route only a server on the upstream's host (ports may
// differ). A hostile upstream could otherwise name any server and receive
// the client secret.
func trustUpstreamAuthServer(r config.Resolved) func(*discovery.Discovered) error {
	return func(d *discovery.Discovered) error {
		named := d.Resource.AuthorizationServers[0]
		fail := &UntrustedAuthServerError{Route: r.Name, Upstream: r.Upstream, Named: named, Where: d.ResourceMetadataURL,
			Issuer: r.Auth.Issuer, names: r.Names()}
		switch {
		case r.Auth.Issuer != "":
			if sameIssuer(named, r.Auth.Issuer) {
				return nil
			}
			return fail
		case r.ARN != nil:
			return nil
		}
		u, err := url.Parse(named)
		if err == nil && secureurl.SameHost(u, r.Upstream) {
			return nil
		}
		return fail
	}
}

// checkGivenIssuer checks that the issuer of the document found at route
// r's discovery URL is its issuer setting, when one is given.
func checkGivenIssuer(r config.Resolved, f *Found) error {
	if r.Auth.Issuer == "" || sameIssuer(f.Discovery.Issuer, r.Auth.Issuer) {
		return nil
	}
	return &UntrustedAuthServerError{Route: r.Name, Upstream: r.Upstream, Named: f.Discovery.Issuer, Where: f.MetadataURL,
		Issuer: r.Auth.Issuer, names: r.Names(), fromDiscoveryURL: true, discoverySetting: DiscoverySetting(r)}
}

// sameIssuer compares issuer identifiers, ignoring one trailing slash, as
// tokencache does (RFC 8414 §3.3 checks).
func sameIssuer(a, b string) bool {
	return strings.TrimSuffix(a, "/") == strings.TrimSuffix(b, "/")
}
