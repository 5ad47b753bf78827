package discovery

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/agentcore-proxy/agentcore-proxy/internal/secureurl"
)

// docServer is an httptest server answering GETs from a table of paths
// (path with query, as requested) to JSON documents; "{issuer}" and
// "{base}" in documents become its own URL. Other paths get 404, or the
// status in statuses. POSTs to /mcp get 401 with challenge, if set.
type docServer struct {
	srv       *httptest.Server
	docs      map[string]string
	statuses  map[string]int
	challenge string

	mu   sync.Mutex
	seen []string
}

func newDocServer(t *testing.T, docs map[string]string, statuses map[string]int, challenge string) *docServer {
	t.Helper()
	d := &docServer{docs: docs, statuses: statuses, challenge: challenge}
	d.srv = httptest.NewServer(http.HandlerFunc(d.serve))
	t.Cleanup(d.srv.Close)
	return d
}

func (d *docServer) serve(w http.ResponseWriter, r *http.Request) {
	key := r.URL.EscapedPath()
	if r.URL.RawQuery != "" {
		key += "?" + r.URL.RawQuery
	}
	d.mu.Lock()
	d.seen = append(d.seen, r.Method+" "+key)
	d.mu.Unlock()
	if r.Method == http.MethodPost && r.URL.Path == "/mcp" {
		if d.challenge != "" {
			w.Header().Set("WWW-Authenticate", strings.ReplaceAll(d.challenge, "{base}", d.srv.URL))
		}
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if doc, ok := d.docs[key]; ok {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, strings.NewReplacer("{issuer}", d.srv.URL, "{base}", d.srv.URL).Replace(doc))
		return
	}
	if st, ok := d.statuses[key]; ok {
		w.WriteHeader(st)
		return
	}
	http.NotFound(w, r)
}

const (
	asDoc  = `{"issuer":"{issuer}","token_endpoint":"{issuer}/token","token_endpoint_auth_methods_supported":["client_secret_basic"],"grant_types_supported":["client_credentials"]}`
	prmDoc = `{"resource":"{base}/mcp","authorization_servers":["{base}"]}`
)

func TestDiscoverResourceConformanceLayout(t *testing.T) {
	// The MCP conformance suite's layout: challenge with resource_metadata,
	// path-aware PRM, RFC 8414 metadata at the root, no jwks_uri.
	d := newDocServer(t, map[string]string{
		"/.well-known/oauth-protected-resource/mcp": prmDoc,
		"/.well-known/oauth-authorization-server":   asDoc,
	}, nil, `Bearer error="invalid_token", error_description="Missing Authorization header", resource_metadata="{base}/.well-known/oauth-protected-resource/mcp"`)
	got, err := DiscoverResource(t.Context(), nil, d.srv.URL+"/mcp", nil)
	if err != nil {
		t.Fatalf("DiscoverResource() = %v, want no error", err)
	}
	if got.AuthServer.TokenEndpoint != d.srv.URL+"/token" || got.AuthServer.Issuer != d.srv.URL || got.AuthServer.JWKSURI != "" {
		t.Errorf("DiscoverResource() auth server = %+v, want issuer %s, token endpoint /token, no jwks_uri", got.AuthServer.ServerMetadata, d.srv.URL)
	}
	if got.Resource.Resource != d.srv.URL+"/mcp" || got.Challenge == nil || got.Challenge.Error != "invalid_token" {
		t.Errorf("DiscoverResource() resource %q challenge %+v, want %s/mcp and invalid_token", got.Resource.Resource, got.Challenge, d.srv.URL)
	}
	var hops []string
	for _, h := range got.Hops {
		hops = append(hops, fmt.Sprintf("%s %s %d %q", h.Purpose, strings.TrimPrefix(h.URL, d.srv.URL), h.Status, h.Problem))
	}
	want := []string{
		`probe /mcp 401 ""`,
		`resource_metadata /.well-known/oauth-protected-resource/mcp 200 ""`,
		`server_metadata /.well-known/oauth-authorization-server 200 ""`,
	}
	if !reflect.DeepEqual(hops, want) {
		t.Errorf("DiscoverResource() hops = %q, want %q", hops, want)
	}
}

func TestDiscoverResourceWellKnownFallback(t *testing.T) {
	// No challenge header: the path-aware well-known URL (query kept) is
	// tried first, then the root one; the issuer has a path, so the OIDC
	// document appended to it is the third server URL.
	d := newDocServer(t, map[string]string{
		"/.well-known/oauth-protected-resource":    `{"resource":"{base}","authorization_servers":["{base}/pool_1"]}`,
		"/pool_1/.well-known/openid-configuration": `{"issuer":"{issuer}/pool_1","token_endpoint":"{issuer}/oauth2/token","jwks_uri":"{issuer}/pool_1/.well-known/jwks.json"}`,
	}, map[string]int{"/.well-known/oauth-authorization-server/pool_1": http.StatusBadRequest}, "")
	got, err := DiscoverResource(t.Context(), nil, d.srv.URL+"/mcp?qualifier=DEFAULT", nil)
	if err != nil {
		t.Fatalf("DiscoverResource() = %v, want no error", err)
	}
	if got.Challenge != nil || got.ResourceMetadataURL != d.srv.URL+"/.well-known/oauth-protected-resource" ||
		got.AuthServer.JWKSURI != d.srv.URL+"/pool_1/.well-known/jwks.json" {
		t.Errorf("DiscoverResource() = challenge %+v, metadata from %s, jwks %s", got.Challenge, got.ResourceMetadataURL, got.AuthServer.JWKSURI)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	want := []string{
		"POST /mcp?qualifier=DEFAULT",
		"GET /.well-known/oauth-protected-resource/mcp?qualifier=DEFAULT",
		"GET /.well-known/oauth-protected-resource",
		"GET /.well-known/oauth-authorization-server/pool_1",
		"GET /.well-known/openid-configuration/pool_1",
		"GET /pool_1/.well-known/openid-configuration",
	}
	if !reflect.DeepEqual(d.seen, want) {
		t.Errorf("requests = %q, want %q", d.seen, want)
	}
}

func TestDiscoverResourceRefuses(t *testing.T) {
	tests := []struct {
		name      string
		docs      map[string]string
		challenge string
		want      []string // in the error message, in order
	}{
		{
			name: "resource names another server (RFC 9728 §3.3)",
			docs: map[string]string{
				"/.well-known/oauth-protected-resource/mcp": `{"resource":"https://evil.example/mcp","authorization_servers":["{base}"]}`,
				"/.well-known/oauth-authorization-server":   asDoc,
			},
			challenge: `Bearer resource_metadata="{base}/.well-known/oauth-protected-resource/mcp"`,
			want:      []string{"no usable protected resource metadata", `resource "https://evil.example/mcp" does not name`, "/.well-known/oauth-protected-resource: HTTP 404"},
		},
		{
			name: "no challenge and no well-known metadata",
			want: []string{"/mcp: HTTP 401: no Bearer challenge", "/.well-known/oauth-protected-resource/mcp: HTTP 404", "/.well-known/oauth-protected-resource: HTTP 404"},
		},
		{
			name: "server metadata without token_endpoint",
			docs: map[string]string{
				"/.well-known/oauth-protected-resource/mcp": prmDoc,
				"/.well-known/oauth-authorization-server":   `{"issuer":"{issuer}"}`,
			},
			want: []string{"no usable authorization server metadata", `/.well-known/oauth-authorization-server: HTTP 200: unusable metadata document: no "token_endpoint"`, "/.well-known/openid-configuration: HTTP 404"},
		},
		{
			name: "server metadata for another issuer",
			docs: map[string]string{
				"/.well-known/oauth-protected-resource/mcp": prmDoc,
				"/.well-known/oauth-authorization-server":   `{"issuer":"https://other.example","token_endpoint":"https://other.example/token"}`,
			},
			want: []string{`issuer "https://other.example" does not match`},
		},
		{
			name: "metadata without authorization servers",
			docs: map[string]string{"/.well-known/oauth-protected-resource/mcp": `{"resource":"{base}/mcp"}`},
			want: []string{`no "authorization_servers"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDocServer(t, tt.docs, nil, tt.challenge)
			got, err := DiscoverResource(t.Context(), nil, d.srv.URL+"/mcp", nil)
			var de *DiscoveryError
			if !errors.As(err, &de) || !errors.Is(err, ErrDiscovery) {
				t.Fatalf("DiscoverResource() = %+v, %v, want a *DiscoveryError", got, err)
			}
			msg := err.Error()
			t.Logf("error: %s", msg)
			at := 0
			for _, w := range tt.want {
				i := strings.Index(msg[at:], w)
				if i < 0 {
					t.Fatalf("DiscoverResource() error = %q, want it to contain %q (after byte %d)", msg, w, at)
				}
				at += i + len(w)
			}
		})
	}
}

func TestDiscoverAuthServer(t *testing.T) {
	d := newDocServer(t, map[string]string{
		"/.well-known/oauth-authorization-server/tenant": `{"issuer":"{issuer}/tenant/","token_endpoint":"{issuer}/tenant/token"}`,
		"/pool/.well-known/openid-configuration":         `{"issuer":"{issuer}/pool","token_endpoint":"{issuer}/pool/token","jwks_uri":"{issuer}/pool/jwks"}`,
	}, nil, "")
	tests := []struct {
		name, location, wantToken string
		wantHops                  int
	}{
		{name: "issuer with path, RFC 8414 first", location: d.srv.URL + "/tenant", wantToken: d.srv.URL + "/tenant/token", wantHops: 1},
		{name: "issuer with trailing slash", location: d.srv.URL + "/tenant/", wantToken: d.srv.URL + "/tenant/token", wantHops: 1},
		{name: "issuer with path, OIDC appended last", location: d.srv.URL + "/pool", wantToken: d.srv.URL + "/pool/token", wantHops: 3},
		{name: "explicit OIDC URL", location: d.srv.URL + "/pool/.well-known/openid-configuration", wantToken: d.srv.URL + "/pool/token", wantHops: 1},
		{name: "explicit RFC 8414 URL", location: d.srv.URL + "/.well-known/oauth-authorization-server/tenant", wantToken: d.srv.URL + "/tenant/token", wantHops: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DiscoverAuthServer(t.Context(), nil, tt.location)
			if err != nil {
				t.Fatalf("DiscoverAuthServer(%s) = %v, want no error", tt.location, err)
			}
			if got.TokenEndpoint != tt.wantToken || len(got.Hops) != tt.wantHops {
				t.Errorf("DiscoverAuthServer(%s) = token endpoint %s after %d hops, want %s after %d", tt.location, got.TokenEndpoint, len(got.Hops), tt.wantToken, tt.wantHops)
			}
		})
	}
	if _, err := DiscoverAuthServer(t.Context(), nil, "not a url"); !errors.Is(err, ErrDiscovery) {
		t.Errorf("DiscoverAuthServer(not a url) = %v, want ErrDiscovery", err)
	}
}

func TestMetadataURLs(t *testing.T) {
	tests := []struct {
		name string
		fn   func(string) ([]string, error)
		in   string
		want []string
	}{
		{"issuer without path", AuthServerMetadataURLs, "https://as.example", []string{"https://as.example/.well-known/oauth-authorization-server", "https://as.example/.well-known/openid-configuration"}},
		{"issuer with path", AuthServerMetadataURLs, "https://as.example/t/1/", []string{"https://as.example/.well-known/oauth-authorization-server/t/1", "https://as.example/.well-known/openid-configuration/t/1", "https://as.example/t/1/.well-known/openid-configuration"}},
		{"AgentCore resource keeps escapes and query", ResourceMetadataURLs, "https://h.example/runtimes/arn%3Aa%2Fb/invocations?qualifier=DEFAULT", []string{"https://h.example/.well-known/oauth-protected-resource/runtimes/arn%3Aa%2Fb/invocations?qualifier=DEFAULT", "https://h.example/.well-known/oauth-protected-resource"}},
		{"resource at the root", ResourceMetadataURLs, "http://127.0.0.1:9/", []string{"http://127.0.0.1:9/.well-known/oauth-protected-resource"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.fn(tt.in)
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("metadata URLs of %s = %q, %v, want %q", tt.in, got, err, tt.want)
			}
		})
	}
	if _, err := AuthServerMetadataURLs("https://as.example/?x=1"); err == nil {
		t.Error("AuthServerMetadataURLs(issuer with query) = no error, want one")
	}
}

func TestResourceMatches(t *testing.T) {
	tests := []struct {
		resource, requested string
		want                bool
	}{
		{"http://localhost:3000/mcp", "http://localhost:3000/mcp", true},
		{"HTTP://LocalHost:3000/mcp/", "http://localhost:3000/mcp", true},
		{"https://h.example", "https://h.example:443/mcp", true},
		{"https://h.example/mc", "https://h.example/mcp", false},
		{"https://h.example/mcp", "https://h.example/mcp/sub", true},
		{"https://h.example/mcp/sub", "https://h.example/mcp", false},
		{"https://h.example/mcp", "http://h.example/mcp", false},
		{"https://h.example/mcp", "https://h.example:8443/mcp", false},
		{"https://h.example/inv?qualifier=DEFAULT", "https://h.example/inv?qualifier=DEFAULT", true},
		{"https://h.example/inv?qualifier=DEFAULT", "https://h.example/inv?qualifier=prod", false},
		{"https://h.example/mcp#f", "https://h.example/mcp", false},
	}
	for _, tt := range tests {
		if got := ResourceMatches(tt.resource, tt.requested); got != tt.want {
			t.Errorf("ResourceMatches(%q, %q) = %v, want %v", tt.resource, tt.requested, got, tt.want)
		}
	}
}

// FuzzDecodeResourceMetadata checks that the decoder never panics and that
// what it accepts meets its documented guarantees.
func FuzzDecodeResourceMetadata(f *testing.F) {
	f.Add([]byte(`{"resource":"https://h/mcp","authorization_servers":["https://as"]}`))
	f.Add([]byte(`{"resource":"https://h/x#f"}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := DecodeResourceMetadata(body)
		if err != nil {
			if !errors.Is(err, ErrMetadata) {
				t.Fatalf("DecodeResourceMetadata(%q) error %v does not wrap ErrMetadata", body, err)
			}
			return
		}
		if !isAbsoluteHTTP(m.Resource) || strings.Contains(m.Resource, "#") {
			t.Fatalf("DecodeResourceMetadata(%q) accepted resource %q", body, m.Resource)
		}
		for _, as := range m.AuthorizationServers {
			if _, err := secureurl.Check(as); err != nil || !isAbsoluteHTTP(as) {
				t.Fatalf("DecodeResourceMetadata(%q) accepted authorization server %q", body, as)
			}
		}
		if !json.Valid(body) {
			t.Fatalf("DecodeResourceMetadata accepted invalid JSON %q", body)
		}
	})
}

// FuzzDecodeServerMetadata checks that the decoder never panics and that
// what it accepts has an issuer and token endpoint that are http(s) URLs,
// plain http only on a loopback host.
func FuzzDecodeServerMetadata(f *testing.F) {
	f.Add([]byte(asDoc))
	f.Add([]byte(`{"issuer":"https://as","token_endpoint":"https://as/t","jwks_uri":"x"}`))
	f.Add([]byte(`{"issuer":1}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := DecodeServerMetadata(body)
		if err != nil {
			if !errors.Is(err, ErrMetadata) {
				t.Fatalf("DecodeServerMetadata(%q) error %v does not wrap ErrMetadata", body, err)
			}
			return
		}
		if !isAbsoluteHTTP(m.Issuer) || !isAbsoluteHTTP(m.TokenEndpoint) || (m.JWKSURI != "" && !isAbsoluteHTTP(m.JWKSURI)) {
			t.Fatalf("DecodeServerMetadata(%q) accepted %+v", body, m)
		}
		// Every URL the proxy would send credentials to or fetch is https,
		// or plain http on a loopback host.
		for _, u := range []string{m.Issuer, m.TokenEndpoint, m.JWKSURI} {
			if _, err := secureurl.Check(u); u != "" && err != nil {
				t.Fatalf("DecodeServerMetadata(%q) accepted %q: %v", body, u, err)
			}
		}
	})
}

func TestAuthMethodFor(t *testing.T) {
	tests := []struct {
		name    string
		methods []string
		haveKey bool
		want    string
		wantErr bool
	}{
		{name: "secret, nothing listed", want: MethodClientSecretBasic},
		{name: "secret, both listed", methods: []string{"client_secret_post", "client_secret_basic"}, want: MethodClientSecretBasic},
		{name: "secret, post only", methods: []string{"client_secret_post"}, want: MethodClientSecretPost},
		{name: "secret, jwt only", methods: []string{"private_key_jwt"}, wantErr: true},
		{name: "key, jwt listed", methods: []string{"client_secret_basic", "private_key_jwt"}, haveKey: true, want: MethodPrivateKeyJWT},
		{name: "key, nothing listed", haveKey: true, want: MethodPrivateKeyJWT},
		{name: "key, secrets only", methods: []string{"client_secret_basic", "client_secret_post"}, haveKey: true, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &ServerMetadata{Issuer: "https://as.example", TokenEndpointAuthMethods: tt.methods}
			got, err := m.AuthMethodFor(tt.haveKey)
			if tt.wantErr {
				if !errors.Is(err, ErrAuthMethod) || !strings.Contains(err.Error(), "https://as.example supports") {
					t.Errorf("AuthMethodFor(%v) with %v = %q, %v, want ErrAuthMethod naming the methods", tt.haveKey, tt.methods, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("AuthMethodFor(%v) with %v = %q, %v, want %q", tt.haveKey, tt.methods, got, err, tt.want)
			}
		})
	}
}
