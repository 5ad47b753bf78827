package discovery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/agentcore-proxy/agentcore-proxy/internal/secureurl"
)

// ErrDiscovery wraps every error from [Discover]. The message goes on to say
// what failed: the URL, the connection, the HTTP status or the document.
var ErrDiscovery = errors.New("discovery: OpenID Connect discovery failed")

// maxDiscoveryBody bounds how much of a discovery document is read.
const maxDiscoveryBody = 1 << 20

// Discovery is the part of an OpenID Connect discovery document the proxy needs.
type Discovery struct {
	// Issuer is the issuer identifier, the iss claim of the tokens it issues.
	Issuer string `json:"issuer"`
	// JWKSURI is the URL of the issuer's JSON Web Key Set.
	JWKSURI string `json:"jwks_uri"`
	// TokenEndpoint is the OAuth2 token endpoint; it may be empty, in which
	// case callers need an explicit token URL.
	TokenEndpoint string `json:"token_endpoint"`
	// TokenEndpointAuthMethods lists the client authentication methods the
	// token endpoint supports, such as "client_secret_basic".
	TokenEndpointAuthMethods []string `json:"token_endpoint_auth_methods_supported"`
}

// AuthMethod returns the client authentication method for a client with a
// secret: [MethodClientSecretBasic] if the document lists it or lists
// nothing (OpenID Connect's default), [MethodClientSecretPost] if it lists
// that but not client_secret_basic. A list with neither also gives
// client_secret_basic: the token endpoint's answer then says what is wrong.
func (d *Discovery) AuthMethod() string {
	if !slices.Contains(d.TokenEndpointAuthMethods, MethodClientSecretBasic) &&
		slices.Contains(d.TokenEndpointAuthMethods, MethodClientSecretPost) {
		return MethodClientSecretPost
	}
	return MethodClientSecretBasic
}

// Discover fetches and validates the OpenID Connect discovery document at
// discoveryURL, such as
// https://cognito-idp.REGION.amazonaws.com/POOL_ID/.well-known/openid-configuration.
// The document must come with status 200, be JSON and name an issuer and a
// jwks_uri; token_endpoint may be missing. A nil client selects one with a
// 10 s timeout. Errors wrap [ErrDiscovery] and say what is wrong in words a
// user can act on; callers add the flag to check.
func Discover(ctx context.Context, client *http.Client, discoveryURL string) (*Discovery, error) {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s: "+format, append([]any{ErrDiscovery, discoveryURL}, args...)...)
	}
	if !isAbsoluteHTTP(discoveryURL) {
		return nil, fmt.Errorf("%w: %q is not an absolute http(s) URL (want the issuer's .well-known/openid-configuration URL)",
			ErrDiscovery, discoveryURL)
	}
	if _, err := secureurl.Check(discoveryURL); err != nil {
		return nil, fail("%w", err)
	}
	client = discoveryClient(client)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, discoveryURL, nil)
	if err != nil {
		return nil, fail("%w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		var re *secureurl.RedirectError
		if errors.As(err, &re) {
			return nil, fail("%w", re)
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its message repeats the URL
		}
		return nil, fail("unreachable: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDiscoveryBody+1))
	if err != nil {
		return nil, fail("reading the document: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fail("HTTP %s (want 200): is this the issuer's .well-known/openid-configuration URL?", resp.Status)
	}
	if len(body) > maxDiscoveryBody {
		return nil, fail("document larger than %d bytes", maxDiscoveryBody)
	}
	var d Discovery
	if err := json.Unmarshal(body, &d); err != nil {
		ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
		if ct == "" {
			ct = "none"
		}
		return nil, fail("not a JSON document (Content-Type %s): %w", ct, err)
	}
	var problems []string
	problems = checkDiscoveredURL(problems, "issuer", d.Issuer, true)
	problems = checkDiscoveredURL(problems, "jwks_uri", d.JWKSURI, true)
	problems = checkDiscoveredURL(problems, "token_endpoint", d.TokenEndpoint, false)
	if len(problems) > 0 {
		return nil, fail("document has %s", strings.Join(problems, ", "))
	}
	return &d, nil
}

// checkDiscoveredURL appends to problems what is wrong with the URL v of
// a document's field: missing while required, not an absolute http(s) URL,
// or one the proxy may not use (secureurl.Check: plain http off loopback,
// user information). A discovered URL is refused before any request is
// made to it.
func checkDiscoveredURL(problems []string, field, v string, required bool) []string {
	switch {
	case v == "" && required:
		return append(problems, fmt.Sprintf("no %q", field))
	case v == "":
		return problems
	case !isAbsoluteHTTP(v):
		return append(problems, fmt.Sprintf("%q %q is not an absolute http(s) URL", field, v))
	}
	if _, err := secureurl.Check(v); err != nil {
		return append(problems, fmt.Sprintf("%q %q: %v", field, v, err))
	}
	return problems
}

// discoveryClient returns client, or the default client if nil, with
// secureurl.SameHostGET as its redirect policy: a metadata GET follows
// redirects only to a secure URL on the host it asked.
func discoveryClient(client *http.Client) *http.Client {
	if client == nil {
		client = defaultClient()
	}
	return secureurl.WithRedirects(client, secureurl.SameHostGET)
}

// defaultClient returns an HTTP client with a timeout on a clone of the
// default transport, so that a stuck server cannot stall discovery.
func defaultClient() *http.Client {
	return &http.Client{
		Timeout:   10 * time.Second,
		Transport: http.DefaultTransport.(*http.Transport).Clone(),
	}
}

// isAbsoluteHTTP reports whether s is an absolute http or https URL with a host.
func isAbsoluteHTTP(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}
