package discovery

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/agentcore-proxy/agentcore-proxy/internal/secureurl"
)

// Well-known path suffixes (RFC 8414 §3, OpenID Connect Discovery §4,
// RFC 9728 §3).
const (
	wellKnownAuthServer = "/.well-known/oauth-authorization-server"
	wellKnownOpenID     = "/.well-known/openid-configuration"
	wellKnownResource   = "/.well-known/oauth-protected-resource"
)

// AuthServer is an authorization server's metadata and where it was found.
type AuthServer struct {
	ServerMetadata
	// MetadataURL is the URL the metadata came from.
	MetadataURL string
	// Hops are the requests made to find it, in order, the last one the
	// success.
	Hops []Hop
}

// AuthServerMetadataURLs returns the URLs at which the metadata of the
// authorization server with the given issuer may be found, in the order
// the MCP authorization specification tries them: RFC 8414 §3.1 with the
// well-known suffix between host and path, then OpenID Connect discovery
// in the same placement, then OpenID Connect discovery appended to the
// issuer's path. An issuer without a path yields two URLs.
func AuthServerMetadataURLs(issuer string) ([]string, error) {
	u, err := url.Parse(issuer)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: issuer %q is not an absolute http(s) URL", ErrDiscovery, issuer)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%w: issuer %q has a query or fragment (RFC 8414 §2 forbids them)", ErrDiscovery, issuer)
	}
	origin := u.Scheme + "://" + u.Host
	path := strings.TrimSuffix(u.EscapedPath(), "/")
	if path == "" {
		return []string{origin + wellKnownAuthServer, origin + wellKnownOpenID}, nil
	}
	return []string{
		origin + wellKnownAuthServer + path,
		origin + wellKnownOpenID + path,
		origin + path + wellKnownOpenID,
	}, nil
}

// issuerFromMetadataURL returns the issuer a well-known metadata URL was
// built from, and whether it is such a URL.
func issuerFromMetadataURL(raw string) (string, bool) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "", false
	}
	origin := u.Scheme + "://" + u.Host
	path := u.EscapedPath()
	for _, suffix := range []string{wellKnownAuthServer, wellKnownOpenID} {
		if rest, ok := strings.CutPrefix(path, suffix); ok && (rest == "" || rest[0] == '/') {
			return origin + rest, true
		}
		if rest, ok := strings.CutSuffix(path, suffix); ok {
			return origin + rest, true
		}
	}
	return "", false
}

// DiscoverAuthServer finds an authorization server's metadata. location is
// either a metadata URL, one whose path holds
// /.well-known/oauth-authorization-server or /.well-known/openid-configuration
// (fetched as is), or an issuer URL (the URLs of [AuthServerMetadataURLs]
// are tried in order). The document must decode with [DecodeServerMetadata]
// and its issuer must be the issuer the URL stands for (RFC 8414 §3.3; a
// trailing slash aside). A nil client selects one with a 10 s timeout. On
// failure the error is a [*DiscoveryError] listing every URL tried.
func DiscoverAuthServer(ctx context.Context, client *http.Client, location string) (*AuthServer, error) {
	if client == nil {
		client = defaultClient()
	}
	if !isAbsoluteHTTP(location) {
		return nil, &DiscoveryError{Problem: fmt.Sprintf("%q is not an absolute http(s) URL (want an issuer URL or its .well-known metadata URL)", location)}
	}
	if _, err := secureurl.Check(location); err != nil {
		return nil, &DiscoveryError{Problem: fmt.Sprintf("%q not fetched: %v", location, err)}
	}
	var candidates []string
	issuer, direct := issuerFromMetadataURL(location)
	if direct {
		candidates = []string{location}
	} else {
		var err error
		if candidates, err = AuthServerMetadataURLs(location); err != nil {
			return nil, &DiscoveryError{Problem: strings.TrimPrefix(err.Error(), ErrDiscovery.Error()+": ")}
		}
		issuer = location
	}
	var hops []Hop
	for _, mu := range candidates {
		hop, body := getDocument(ctx, client, "server_metadata", mu)
		if body != nil {
			m, err := DecodeServerMetadata(body)
			switch {
			case err != nil:
				hop.Problem = strings.TrimPrefix(err.Error(), "discovery: ")
			case !sameIssuer(m.Issuer, issuer):
				hop.Problem = fmt.Sprintf("issuer %q does not match %q (RFC 8414 §3.3)", m.Issuer, issuer)
			default:
				hops = append(hops, hop)
				return &AuthServer{ServerMetadata: *m, MetadataURL: mu, Hops: hops}, nil
			}
		}
		hops = append(hops, hop)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, &DiscoveryError{Problem: "no usable authorization server metadata for " + issuer, Hops: hops}
}

// sameIssuer compares issuer identifiers, ignoring one trailing slash:
// providers and libraries disagree on it (the MCP conformance suite accepts
// both forms).
func sameIssuer(a, b string) bool {
	return strings.TrimSuffix(a, "/") == strings.TrimSuffix(b, "/")
}

// Discovery returns m as a [Discovery], the type [Discover] returns, so
// that code written for OpenID Connect discovery takes either. JWKSURI may
// be "" here, which Discover never returns: tokens of such a server cannot
// be checked locally.
func (m *ServerMetadata) Discovery() *Discovery {
	return &Discovery{
		Issuer:                   m.Issuer,
		JWKSURI:                  m.JWKSURI,
		TokenEndpoint:            m.TokenEndpoint,
		TokenEndpointAuthMethods: append([]string(nil), m.TokenEndpointAuthMethods...),
	}
}

// Client authentication methods of a token endpoint (RFC 8414 §2, OpenID
// Connect Core §9), as listed in token_endpoint_auth_methods_supported.
const (
	MethodClientSecretBasic = "client_secret_basic"
	MethodClientSecretPost  = "client_secret_post"
	MethodPrivateKeyJWT     = "private_key_jwt"
)

// ErrAuthMethod means the token endpoint supports none of the client
// authentication methods the client can use.
var ErrAuthMethod = errors.New("discovery: no common client authentication method")

// AuthMethodFor picks the client authentication method for a client that
// has a private key (haveKey) or a secret: [MethodPrivateKeyJWT] for a key;
// for a secret [MethodClientSecretBasic] if listed or if the list is empty
// (RFC 8414 §2's default), else [MethodClientSecretPost] if listed. When the
// server lists methods and none fits, the error wraps [ErrAuthMethod] and
// names the methods it supports.
func (m *ServerMetadata) AuthMethodFor(haveKey bool) (string, error) {
	methods := m.TokenEndpointAuthMethods
	switch {
	case haveKey && (len(methods) == 0 || slices.Contains(methods, MethodPrivateKeyJWT)):
		return MethodPrivateKeyJWT, nil
	case haveKey:
	case len(methods) == 0 || slices.Contains(methods, MethodClientSecretBasic):
		return MethodClientSecretBasic, nil
	case slices.Contains(methods, MethodClientSecretPost):
		return MethodClientSecretPost, nil
	}
	have := "a client secret"
	if haveKey {
		have = "a private key (private_key_jwt)"
	}
	return "", fmt.Errorf("%w: the client has %s; the token endpoint of %s supports %v", ErrAuthMethod, have, m.Issuer, methods)
}
