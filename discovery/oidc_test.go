package discovery

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

// cognitoDiscovery is a discovery document shaped like Cognito's.
const cognitoDiscovery = `{
	"authorization_endpoint": "https://example.auth.us-east-1.amazoncognito.com/oauth2/authorize",
	"id_token_signing_alg_values_supported": ["RS256"],
	"issuer": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Example",
	"jwks_uri": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Example/.well-known/jwks.json",
	"response_types_supported": ["code", "token"],
	"scopes_supported": ["openid", "email", "phone", "profile"],
	"subject_types_supported": ["public"],
	"token_endpoint": "https://example.auth.us-east-1.amazoncognito.com/oauth2/token",
	"token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
	"userinfo_endpoint": "https://example.auth.us-east-1.amazoncognito.com/oauth2/userInfo"
}`

func TestDiscover(t *testing.T) {
	const path = "/us-east-1_Example/.well-known/openid-configuration"
	tests := []struct {
		name        string
		status      int
		contentType string
		body        string
		want        *Discovery
		wantText    []string // the error must mention each
	}{
		{
			name: "cognito", status: 200, contentType: "application/json", body: cognitoDiscovery,
			want: &Discovery{
				Issuer:                   "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Example",
				JWKSURI:                  "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Example/.well-known/jwks.json",
				TokenEndpoint:            "https://example.auth.us-east-1.amazoncognito.com/oauth2/token",
				TokenEndpointAuthMethods: []string{"client_secret_basic", "client_secret_post"},
			},
		},
		{
			name: "no token endpoint", status: 200, contentType: "application/json",
			body: `{"issuer":"https://idp.example","jwks_uri":"https://idp.example/jwks.json"}`,
			want: &Discovery{Issuer: "https://idp.example", JWKSURI: "https://idp.example/jwks.json"},
		},
		{name: "404", status: 404, contentType: "text/plain", body: "not found", wantText: []string{"HTTP 404 Not Found", "want 200", path}},
		{name: "html", status: 200, contentType: "text/html", body: "<html>login</html>", wantText: []string{"not a JSON document", "text/html"}},
		{name: "missing issuer", status: 200, contentType: "application/json", body: `{"jwks_uri":"https://idp.example/jwks.json"}`, wantText: []string{`no "issuer"`}},
		{name: "missing both", status: 200, contentType: "application/json", body: `{"token_endpoint":"https://idp.example/token"}`, wantText: []string{`no "issuer"`, `no "jwks_uri"`}},
		{name: "relative jwks_uri", status: 200, contentType: "application/json", body: `{"issuer":"https://idp.example","jwks_uri":"/jwks.json"}`, wantText: []string{`"jwks_uri" "/jwks.json" is not an absolute`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tt.contentType)
				w.WriteHeader(tt.status)
				fmt.Fprint(w, tt.body)
			}))
			defer srv.Close()
			u := srv.URL + path

			got, err := Discover(t.Context(), srv.Client(), u)
			if tt.wantText == nil {
				if err != nil || !reflect.DeepEqual(got, tt.want) {
					t.Fatalf("Discover(%s) = %+v, %v; want %+v, nil", u, got, err, tt.want)
				}
				return
			}
			if !errors.Is(err, ErrDiscovery) {
				t.Fatalf("Discover(%s) = %+v, %v; want errors.Is %v", u, got, err, ErrDiscovery)
			}
			for _, w := range tt.wantText {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Discover(%s) error = %q, want it to mention %q", u, err, w)
				}
			}
		})
	}
}

func TestDiscoverUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	u := srv.URL + "/.well-known/openid-configuration"
	srv.Close() // nothing listens on the port now

	_, err := Discover(t.Context(), nil, u)
	if !errors.Is(err, ErrDiscovery) || !strings.Contains(err.Error(), "unreachable") || !strings.Contains(err.Error(), u) {
		t.Errorf("Discover(%s) = %v, want an %v saying the URL is unreachable", u, err, ErrDiscovery)
	}
}

func TestDiscoverBadURL(t *testing.T) {
	for _, u := range []string{"", "cognito-idp.us-east-1.amazonaws.com/pool", "file:///etc/passwd"} {
		if _, err := Discover(t.Context(), nil, u); !errors.Is(err, ErrDiscovery) || !strings.Contains(err.Error(), "not an absolute http(s) URL") {
			t.Errorf("Discover(%q) = %v, want an %v saying it is not an absolute http(s) URL", u, err, ErrDiscovery)
		}
	}
}

func TestDiscoveryAuthMethod(t *testing.T) {
	tests := []struct {
		methods []string
		want    string
	}{
		{methods: nil, want: MethodClientSecretBasic},
		{methods: []string{"client_secret_basic", "client_secret_post"}, want: MethodClientSecretBasic},
		{methods: []string{"client_secret_post"}, want: MethodClientSecretPost},
		{methods: []string{"private_key_jwt"}, want: MethodClientSecretBasic},
	}
	for _, tt := range tests {
		d := &Discovery{TokenEndpointAuthMethods: tt.methods}
		if got := d.AuthMethod(); got != tt.want {
			t.Errorf("Discovery{TokenEndpointAuthMethods: %q}.AuthMethod() = %v, want %v", tt.methods, got, tt.want)
		}
	}
}
