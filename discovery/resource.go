package discovery

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Discovered is what zero-configuration discovery found for a protected
// resource such as an MCP server: the challenge it answered, its protected
// resource metadata (RFC 9728) and its authorization server's metadata
// (RFC 8414 or OpenID Connect).
type Discovered struct {
	// ResourceURL is the URL of the protected resource discovery started from.
	ResourceURL string
	// Challenge is the Bearer challenge of the resource's 401, if any.
	Challenge *BearerChallenge
	// ResourceMetadataURL is the URL the protected resource metadata came from.
	ResourceMetadataURL string
	// Resource is the protected resource metadata.
	Resource ResourceMetadata
	// AuthServer is the metadata of Resource.AuthorizationServers[0].
	AuthServer AuthServer
	// Hops are all the requests made, in order: the probe, the protected
	// resource metadata URLs and the authorization server metadata URLs.
	Hops []Hop
}

// ResourceMetadataURLs returns the well-known URLs of the protected resource
// metadata for resourceURL (RFC 9728 §3.1): the suffix inserted between
// host and path (the path and query kept), then at the root of the host.
// A URL without path yields one URL.
func ResourceMetadataURLs(resourceURL string) ([]string, error) {
	u, err := url.Parse(resourceURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: %q is not an absolute http(s) URL", ErrDiscovery, resourceURL)
	}
	origin := u.Scheme + "://" + u.Host
	path := strings.TrimSuffix(u.EscapedPath(), "/")
	if path == "" && u.RawQuery == "" {
		return []string{origin + wellKnownResource}, nil
	}
	pathAware := origin + wellKnownResource + path
	if u.RawQuery != "" {
		pathAware += "?" + u.RawQuery
	}
	return []string{pathAware, origin + wellKnownResource}, nil
}

// ProbeChallenge sends resourceURL an unauthenticated POST with an empty
// JSON object and returns the hop and the Bearer challenge of the answer,
// or nil if it had none. A protected MCP server answers 401 with a
// challenge before it looks at the body. The POST follows no redirect.
func ProbeChallenge(ctx context.Context, client *http.Client, resourceURL string) (Hop, *BearerChallenge) {
	client = discoveryClient(client) // a POST follows no redirect
	h := Hop{Purpose: "probe", URL: resourceURL}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, resourceURL, strings.NewReader("{}"))
	if err != nil {
		h.Problem = err.Error()
		return h, nil
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := client.Do(req)
	if err != nil {
		h.sendFailed(err)
		return h, nil
	}
	resp.Body.Close()
	h.Status = resp.StatusCode
	ch, ok := ParseBearerChallenge(resp.Header.Values("WWW-Authenticate"))
	if !ok {
		h.Problem = "no Bearer challenge"
		return h, nil
	}
	return h, &ch
}

// DiscoverResource finds the authorization server of the protected resource
// at resourceURL, such as an MCP server's URL, without configuration, the
// way the MCP authorization specification describes:
//
//  1. If challenge is nil, an unauthenticated request ([ProbeChallenge]) asks
//     the resource for its Bearer challenge.
//  2. The protected resource metadata comes from the challenge's
//     resource_metadata URL, else (or if that fails) from the well-known
//     URLs of [ResourceMetadataURLs]. A document whose resource does not
//     name resourceURL is refused (RFC 9728 §3.3): it must be the same
//     origin and path, or a path prefix of it at a segment boundary.
//  3. Its first authorization server's metadata comes from
//     [DiscoverAuthServer].
//
// Every URL a server names (resource_metadata, authorization_servers, and
// the issuer, token_endpoint and jwks_uri of the metadata) must be https,
// or plain http on a loopback host; another is refused before any request
// is made to it. Metadata requests follow redirects only to such URLs on
// the host they asked.
//
// DiscoverResource makes no decision about whom to trust: the resource
// names its authorization server, and a hostile resource can name any.
// Before sending the client's credentials to what it found, check the
// issuer, or use [DiscoverResourceTrusting].
//
// Pass the challenge of a later 401 to rediscover without probing. A nil
// client selects one with a 10 s timeout. On failure the error is a
// [*DiscoveryError] listing every URL tried and its status.
func DiscoverResource(ctx context.Context, client *http.Client, resourceURL string, challenge *BearerChallenge) (*Discovered, error) {
	return DiscoverResourceTrusting(ctx, client, resourceURL, challenge, nil)
}

// DiscoverResourceTrusting is [DiscoverResource] with a trust decision:
// once the protected resource metadata is found, and before any request to
// its authorization server, trust is called with what was found so far
// (Resource.AuthorizationServers[0] is the issuer named; AuthServer is still
// empty). If it returns an error, discovery stops and returns that error
// as is. A nil trust trusts any server, as DiscoverResource does.
func DiscoverResourceTrusting(ctx context.Context, client *http.Client, resourceURL string, challenge *BearerChallenge, trust func(*Discovered) error) (*Discovered, error) {
	if client == nil {
		client = defaultClient()
	}
	wellKnown, err := ResourceMetadataURLs(resourceURL)
	if err != nil {
		return nil, &DiscoveryError{Problem: strings.TrimPrefix(err.Error(), ErrDiscovery.Error()+": ")}
	}
	d := &Discovered{ResourceURL: resourceURL, Challenge: challenge}
	if challenge == nil {
		var hop Hop
		hop, d.Challenge = ProbeChallenge(ctx, client, resourceURL)
		d.Hops = append(d.Hops, hop)
	}
	candidates := wellKnown
	if d.Challenge != nil && d.Challenge.ResourceMetadata != "" {
		candidates = []string{d.Challenge.ResourceMetadata}
		for _, u := range wellKnown {
			if u != d.Challenge.ResourceMetadata {
				candidates = append(candidates, u)
			}
		}
	}
	found := false
	for _, mu := range candidates {
		if !isAbsoluteHTTP(mu) {
			d.Hops = append(d.Hops, Hop{Purpose: "resource_metadata", URL: mu, Problem: "not an absolute http(s) URL"})
			continue
		}
		hop, body := getDocument(ctx, client, "resource_metadata", mu)
		if body != nil {
			m, err := DecodeResourceMetadata(body)
			switch {
			case err != nil:
				hop.Problem = strings.TrimPrefix(err.Error(), "discovery: ")
			case !ResourceMatches(m.Resource, resourceURL):
				hop.Problem = fmt.Sprintf("resource %q does not name %s (RFC 9728 §3.3)", m.Resource, resourceURL)
			case len(m.AuthorizationServers) == 0:
				hop.Problem = `no "authorization_servers"`
			default:
				d.ResourceMetadataURL, d.Resource, found = mu, *m, true
			}
		}
		d.Hops = append(d.Hops, hop)
		if found || ctx.Err() != nil {
			break
		}
	}
	if !found {
		return nil, &DiscoveryError{Problem: "no usable protected resource metadata for " + resourceURL, Hops: d.Hops}
	}
	if trust != nil {
		if err := trust(d); err != nil {
			return nil, err
		}
	}
	as, err := DiscoverAuthServer(ctx, client, d.Resource.AuthorizationServers[0])
	if err != nil {
		var de *DiscoveryError
		if errors.As(err, &de) {
			de.Hops = append(d.Hops, de.Hops...)
		}
		return nil, err
	}
	d.AuthServer = *as
	d.Hops = append(d.Hops, as.Hops...)
	return d, nil
}

// ResourceMatches reports whether the resource identifier from protected
// resource metadata names requested, the URL the client calls: the same
// scheme and host (default ports and case aside) and the same path, or a
// path that is a prefix of requested's at a segment boundary (metadata at
// the root of a host covers its paths). A resource with a query must match
// the query too.
func ResourceMatches(resource, requested string) bool {
	r, err1 := url.Parse(resource)
	q, err2 := url.Parse(requested)
	if err1 != nil || err2 != nil || r.Fragment != "" {
		return false
	}
	if !strings.EqualFold(r.Scheme, q.Scheme) || normalHost(r) != normalHost(q) {
		return false
	}
	rp := strings.TrimSuffix(r.EscapedPath(), "/")
	qp := strings.TrimSuffix(q.EscapedPath(), "/")
	if r.RawQuery != "" {
		return rp == qp && r.RawQuery == q.RawQuery
	}
	return rp == qp || strings.HasPrefix(qp, rp+"/")
}

// normalHost returns u's host in lower case without the scheme's default port.
func normalHost(u *url.URL) string {
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if (strings.EqualFold(u.Scheme, "https") && port == "443") || (strings.EqualFold(u.Scheme, "http") && port == "80") {
		port = ""
	}
	if port == "" {
		return host
	}
	return host + ":" + port
}
