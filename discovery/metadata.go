package discovery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/agentcore-proxy/agentcore-proxy/internal/secureurl"
)

// ErrMetadata wraps every error from [DecodeResourceMetadata] and
// [DecodeServerMetadata]: the document is not usable.
var ErrMetadata = errors.New("discovery: unusable metadata document")

// ResourceMetadata is the part of an OAuth 2.0 protected resource metadata
// document (RFC 9728 §2) a client needs.
type ResourceMetadata struct {
	// Resource is the protected resource's identifier, a URL; a client must
	// check that it names the resource it called (RFC 9728 §3.3).
	Resource string `json:"resource"`
	// AuthorizationServers lists the issuer URLs of the authorization
	// servers the resource accepts tokens from.
	AuthorizationServers []string `json:"authorization_servers"`
	// ScopesSupported lists the scopes the resource understands, if given.
	ScopesSupported []string `json:"scopes_supported"`
	// BearerMethodsSupported lists how the resource accepts bearer tokens,
	// such as "header".
	BearerMethodsSupported []string `json:"bearer_methods_supported"`
}

// DecodeResourceMetadata decodes and checks a protected resource metadata
// document: a JSON object whose resource is an absolute http(s) URL without
// fragment and whose authorization_servers, if present, are https URLs or
// plain http URLs on a loopback host. A document with no authorization server decodes: the caller decides
// whether it can go on without one.
func DecodeResourceMetadata(body []byte) (*ResourceMetadata, error) {
	var m ResourceMetadata
	if err := decodeObject(body, &m); err != nil {
		return nil, err
	}
	var problems []string
	switch {
	case m.Resource == "":
		problems = append(problems, `no "resource"`)
	case !isAbsoluteHTTP(m.Resource) || strings.Contains(m.Resource, "#"):
		problems = append(problems, fmt.Sprintf(`"resource" %q is not an absolute http(s) URL without fragment`, m.Resource))
	}
	for i, as := range m.AuthorizationServers {
		problems = checkDiscoveredURL(problems, fmt.Sprintf("authorization_servers[%d]", i), as, true)
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrMetadata, strings.Join(problems, ", "))
	}
	return &m, nil
}

// ServerMetadata is the part of an OAuth 2.0 authorization server metadata
// document (RFC 8414 §2) or OpenID Connect discovery document a
// client_credentials client needs.
type ServerMetadata struct {
	// Issuer is the authorization server's issuer identifier.
	Issuer string `json:"issuer"`
	// TokenEndpoint is the token endpoint URL.
	TokenEndpoint string `json:"token_endpoint"`
	// JWKSURI is the URL of the server's JSON Web Key Set, or "" if the
	// server publishes none (its tokens then cannot be checked locally).
	JWKSURI string `json:"jwks_uri"`
	// TokenEndpointAuthMethods lists the client authentication methods the
	// token endpoint supports, such as "client_secret_basic" or
	// "private_key_jwt"; empty means client_secret_basic (RFC 8414 §2).
	TokenEndpointAuthMethods []string `json:"token_endpoint_auth_methods_supported"`
	// TokenEndpointAuthSigningAlgs lists the JWS algorithms the token
	// endpoint accepts for private_key_jwt assertions, such as "ES256".
	TokenEndpointAuthSigningAlgs []string `json:"token_endpoint_auth_signing_alg_values_supported"`
	// GrantTypesSupported lists the grant types, such as
	// "client_credentials"; empty means authorization_code and implicit.
	GrantTypesSupported []string `json:"grant_types_supported"`
	// ScopesSupported lists the scopes the server knows, if it says.
	ScopesSupported []string `json:"scopes_supported"`
}

// DecodeServerMetadata decodes and checks an authorization server metadata
// or OpenID Connect discovery document: a JSON object with an issuer and a
// token_endpoint; these and jwks_uri, if present, must be https URLs or
// plain http URLs on a loopback host (the proxy sends the client's
// credentials to the token endpoint and fetches the key set).
func DecodeServerMetadata(body []byte) (*ServerMetadata, error) {
	var m ServerMetadata
	if err := decodeObject(body, &m); err != nil {
		return nil, err
	}
	var problems []string
	problems = checkDiscoveredURL(problems, "issuer", m.Issuer, true)
	problems = checkDiscoveredURL(problems, "token_endpoint", m.TokenEndpoint, true)
	problems = checkDiscoveredURL(problems, "jwks_uri", m.JWKSURI, false)
	if len(problems) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrMetadata, strings.Join(problems, ", "))
	}
	return &m, nil
}

// decodeObject decodes body, which must be one JSON object, into v.
func decodeObject(body []byte, v any) error {
	if len(body) > maxDiscoveryBody {
		return fmt.Errorf("%w: larger than %d bytes", ErrMetadata, maxDiscoveryBody)
	}
	trimmed := strings.TrimLeft(string(body), " \t\r\n")
	if !strings.HasPrefix(trimmed, "{") {
		return fmt.Errorf("%w: not a JSON object", ErrMetadata)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("%w: %w", ErrMetadata, err)
	}
	return nil
}

// Hop is one HTTP request made during discovery, for logs, doctor output and
// status pages.
type Hop struct {
	// Purpose says what the request looked for: "probe",
	// "resource_metadata" or "server_metadata".
	Purpose string
	// URL is the URL requested.
	URL string
	// Status is the HTTP status code, or 0 if no answer came.
	Status int
	// Problem is "" if the hop gave what was looked for; otherwise why not,
	// such as "HTTP 404" or "resource does not match".
	Problem string
}

// sendFailed records a request that got no answer to use: a redirect not
// followed (with its status), or why the server was unreachable.
func (h *Hop) sendFailed(err error) {
	var re *secureurl.RedirectError
	if errors.As(err, &re) {
		h.Status, h.Problem = re.Status, "redirect to "+re.Location+" not followed: "+re.Why
		return
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // its message repeats the URL
	}
	h.Problem = "unreachable: " + err.Error()
}

// String formats h as "URL: status" for error messages.
func (h Hop) String() string {
	s := h.URL
	if h.Status != 0 {
		s += fmt.Sprintf(": HTTP %d", h.Status)
	}
	if h.Problem != "" && h.Problem != fmt.Sprintf("HTTP %d", h.Status) {
		s += ": " + h.Problem
	}
	if h.Problem == "" {
		s += ": ok"
	}
	return s
}

// DiscoveryError is returned when discovery finds no usable metadata. It
// wraps [ErrDiscovery] and lists every URL tried.
type DiscoveryError struct {
	// Problem says what could not be found, such as "no authorization
	// server metadata".
	Problem string
	// Hops are all the requests made, in order.
	Hops []Hop
}

func (e *DiscoveryError) Error() string {
	var b strings.Builder
	// Not ErrDiscovery's text, which speaks of OpenID Connect only.
	b.WriteString("discovery: OAuth discovery failed: " + e.Problem)
	if len(e.Hops) > 0 {
		b.WriteString("; tried ")
		for i, h := range e.Hops {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(h.String())
		}
	}
	return b.String()
}

// Unwrap returns ErrDiscovery.
func (e *DiscoveryError) Unwrap() error { return ErrDiscovery }

// getDocument fetches url with GET and returns the body of a 200 answer; on
// anything else it returns the hop with its problem set and a nil body. A
// URL secureurl.Check refuses is not fetched, and redirects are followed
// only to secure URLs on the same host (secureurl.SameHostGET).
func getDocument(ctx context.Context, client *http.Client, purpose, rawURL string) (Hop, []byte) {
	h := Hop{Purpose: purpose, URL: rawURL}
	if _, err := secureurl.Check(rawURL); err != nil {
		h.Problem = "not fetched: " + err.Error()
		return h, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		h.Problem = err.Error()
		return h, nil
	}
	req.Header.Set("Accept", "application/json")
	resp, err := discoveryClient(client).Do(req)
	if err != nil {
		h.sendFailed(err)
		return h, nil
	}
	defer resp.Body.Close()
	h.Status = resp.StatusCode
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDiscoveryBody+1))
	if err != nil {
		h.Problem = "reading the answer: " + err.Error()
		return h, nil
	}
	if resp.StatusCode != http.StatusOK {
		h.Problem = fmt.Sprintf("HTTP %d", resp.StatusCode)
		return h, nil
	}
	return h, body
}
