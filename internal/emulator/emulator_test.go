package emulator

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

const (
	demoID     = "demo-client-id"
	demoSecret = "demo-client-secret"
	demoScope  = "default-m2m-resource-server/read"
)

// startEmulator starts an emulator that is closed when the test ends.
func startEmulator(t *testing.T, cfg Config) *Emulator {
	t.Helper()
	e, err := Start(t.Context(), cfg)
	if err != nil {
		t.Fatalf("Start() error = %v", err)
	}
	t.Cleanup(func() {
		if err := e.Close(); err != nil {
			t.Errorf("Close() = %v, want nil", err)
		}
	})
	return e
}

// testHTTPClient is an HTTP client with a timeout, so a hung server fails the test instead of hanging it.
func testHTTPClient() *http.Client { return &http.Client{Timeout: 30 * time.Second} }

// fetchToken gets an access token for the demo client with HTTP Basic client authentication.
func fetchToken(t *testing.T, e *Emulator) string {
	t.Helper()
	cc := clientcredentials.Config{ClientID: demoID, ClientSecret: demoSecret, TokenURL: e.TokenURL(), AuthStyle: oauth2.AuthStyleInHeader}
	ctx := context.WithValue(t.Context(), oauth2.HTTPClient, testHTTPClient())
	tok, err := cc.Token(ctx)
	if err != nil {
		t.Fatalf("clientcredentials Token() error = %v", err)
	}
	return tok.AccessToken
}

// escapeAll escapes every byte but unreserved ones, independently of the package's EscapeSegment.
func escapeAll(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if strings.IndexByte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~", c) >= 0 {
			b.WriteByte(c)
		} else {
			b.WriteString("%" + strings.ToUpper(hex2(c)))
		}
	}
	return b.String()
}

func hex2(c byte) string { return string("0123456789abcdef"[c>>4]) + string("0123456789abcdef"[c&15]) }

// invocationURL builds an invocation URL by hand, with RawPath set so that Go sends the ARN escaped.
func invocationURL(t *testing.T, base, arn, rawQuery string) string {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("url.Parse(%q) error = %v", base, err)
	}
	u.Path = "/runtimes/" + arn + "/invocations"
	u.RawPath = "/runtimes/" + escapeAll(arn) + "/invocations"
	u.RawQuery = rawQuery
	s := u.String()
	if !strings.Contains(s, "/runtimes/arn%3Aaws%3Abedrock-agentcore%3A") || !strings.Contains(s, "%3Aruntime%2F") {
		t.Fatalf("invocation URL %q does not carry the escaped ARN", s)
	}
	return s
}

// decodeClaims returns a JWT's header and claims without verifying it, numbers kept exact.
func decodeClaims(t *testing.T, token string) (header, claims map[string]any) {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts, want 3", len(parts))
	}
	decode := func(seg string) map[string]any {
		raw, err := base64.RawURLEncoding.DecodeString(seg)
		if err != nil {
			t.Fatalf("decode segment: %v", err)
		}
		dec := json.NewDecoder(strings.NewReader(string(raw)))
		dec.UseNumber()
		m := map[string]any{}
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("unmarshal segment %s: %v", raw, err)
		}
		return m
	}
	return decode(parts[0]), decode(parts[1])
}

func getJSON(t *testing.T, rawURL string) (int, map[string]any) {
	t.Helper()
	resp, err := testHTTPClient().Get(rawURL)
	if err != nil {
		t.Fatalf("GET %s: %v", rawURL, err)
	}
	defer resp.Body.Close()
	m := map[string]any{}
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatalf("GET %s: decode body: %v", rawURL, err)
	}
	return resp.StatusCode, m
}

func TestDiscoveryAndJWKS(t *testing.T) {
	e := startEmulator(t, Config{})
	status, doc := getJSON(t, e.DiscoveryURL())
	if status != http.StatusOK {
		t.Fatalf("GET discovery status = %d, want 200", status)
	}
	want := map[string]any{
		"issuer":         e.Issuer(),
		"jwks_uri":       e.Issuer() + "/.well-known/jwks.json",
		"token_endpoint": e.TokenURL(),
	}
	for k, v := range want {
		if doc[k] != v {
			t.Errorf("discovery[%q] = %v, want %v", k, doc[k], v)
		}
	}
	if got := doc["token_endpoint_auth_methods_supported"]; !jsonEqual(got, []any{"client_secret_basic", "client_secret_post"}) {
		t.Errorf("token_endpoint_auth_methods_supported = %v", got)
	}
	if got := doc["id_token_signing_alg_values_supported"]; !jsonEqual(got, []any{"RS256"}) {
		t.Errorf("id_token_signing_alg_values_supported = %v", got)
	}
	if !strings.HasSuffix(e.Issuer(), "/us-west-2_EMUL8TOR1") {
		t.Errorf("Issuer() = %q, want the default pool id", e.Issuer())
	}

	kids := func() []string {
		_, jwks := getJSON(t, doc["jwks_uri"].(string))
		var out []string
		for _, k := range jwks["keys"].([]any) {
			key := k.(map[string]any)
			if key["kty"] != "RSA" || key["alg"] != "RS256" || key["e"] != "AQAB" || key["n"] == "" {
				t.Errorf("JWKS key = %v, want an RS256 RSA key", key)
			}
			out = append(out, key["kid"].(string))
		}
		return out
	}
	before := kids()
	if len(before) != 2 || before[0] == before[1] {
		t.Fatalf("JWKS kids = %v, want 2 distinct", before)
	}
	h, _ := decodeClaims(t, fetchToken(t, e))
	if !slices.Contains(before, h["kid"].(string)) {
		t.Errorf("token kid %v not in JWKS %v", h["kid"], before)
	}

	oldToken := fetchToken(t, e)
	e.RotateKey()
	after := kids()
	if len(after) != 3 || !slices.Contains(after, e.SigningKeyID()) || slices.Contains(before, e.SigningKeyID()) {
		t.Fatalf("after RotateKey JWKS kids = %v, signing kid %q; want the old two plus a new signing key", after, e.SigningKeyID())
	}
	if h, _ := decodeClaims(t, fetchToken(t, e)); h["kid"] != e.SigningKeyID() {
		t.Errorf("token kid after rotation = %v, want %v", h["kid"], e.SigningKeyID())
	}
	if resp := rawInvoke(t, e, http.MethodPost, e.InvocationURL("DEFAULT"), oldToken, nil); resp.status != http.StatusOK {
		t.Errorf("invoke with a token signed before rotation: status %d, want 200 (body %s)", resp.status, resp.body)
	}

	for _, path := range []string{"/.well-known/oauth-authorization-server", "/.well-known/oauth-authorization-server/" + "us-west-2_EMUL8TOR1"} {
		resp, err := testHTTPClient().Get(strings.TrimSuffix(e.TokenURL(), "/oauth2/token") + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("GET %s status = %d, want 400", path, resp.StatusCode)
		}
	}
}

func jsonEqual(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

func TestTokenSuccess(t *testing.T) {
	e := startEmulator(t, Config{
		TokenLifetime: 6 * time.Second,
		Clients:       []Client{{ID: demoID, Secret: demoSecret, Scopes: []string{demoScope, "default-m2m-resource-server/write"}}},
	})
	tests := []struct {
		name      string
		basic     bool
		scope     string
		wantScope string
	}{
		{name: "basic auth, all scopes", basic: true, wantScope: demoScope + " default-m2m-resource-server/write"},
		{name: "form auth, all scopes", wantScope: demoScope + " default-m2m-resource-server/write"},
		{name: "basic auth, one scope", basic: true, scope: demoScope, wantScope: demoScope},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			form := url.Values{"grant_type": {"client_credentials"}}
			if tc.scope != "" {
				form.Set("scope", tc.scope)
			}
			if !tc.basic {
				form.Set("client_id", demoID)
				form.Set("client_secret", demoSecret)
			}
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, e.TokenURL(), strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if tc.basic {
				req.SetBasicAuth(demoID, demoSecret)
			}
			resp, err := testHTTPClient().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("token status = %d, Content-Type %q; want 200 application/json", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			var body map[string]any
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatal(err)
			}
			if body["token_type"] != "Bearer" || body["expires_in"] != float64(6) || body["refresh_token"] != nil || len(body) != 3 {
				t.Errorf("token response = %v, want access_token, token_type Bearer, expires_in 6 only", body)
			}
			header, claims := decodeClaims(t, body["access_token"].(string))
			if header["alg"] != "RS256" || header["kid"] != e.SigningKeyID() {
				t.Errorf("JWT header = %v, want alg RS256 and kid %q", header, e.SigningKeyID())
			}
			if _, ok := claims["aud"]; ok {
				t.Errorf("claims carry aud %v; Cognito access tokens have none", claims["aud"])
			}
			wantStr := map[string]string{"sub": demoID, "client_id": demoID, "token_use": "access", "iss": e.Issuer(), "scope": tc.wantScope, "version": "2"}
			for k, v := range wantStr {
				if got := claims[k]; toString(got) != v {
					t.Errorf("claim %s = %v, want %q", k, got, v)
				}
			}
			iat, _ := claims["iat"].(json.Number).Int64()
			exp, _ := claims["exp"].(json.Number).Int64()
			authTime, _ := claims["auth_time"].(json.Number).Int64()
			if exp-iat != 6 || authTime != iat {
				t.Errorf("exp-iat = %d, auth_time-iat = %d; want 6 and 0", exp-iat, authTime-iat)
			}
			if jti, _ := claims["jti"].(string); jti == "" {
				t.Errorf("jti = %v, want a random id", claims["jti"])
			}
		})
	}
}

func toString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	}
	return ""
}

func TestTokenErrors(t *testing.T) {
	e := startEmulator(t, Config{Clients: []Client{
		{ID: demoID, Secret: demoSecret, Scopes: []string{demoScope}},
		{ID: "no-m2m", Secret: "s3cret"},
	}})
	tests := []struct {
		name        string
		basicID     string
		basicSecret string
		form        url.Values
		wantError   string
	}{
		{name: "bad secret, basic", basicID: demoID, basicSecret: "wrong", form: url.Values{"grant_type": {"client_credentials"}}, wantError: "invalid_client"},
		{name: "unknown client, form", form: url.Values{"grant_type": {"client_credentials"}, "client_id": {"nobody"}, "client_secret": {"x"}}, wantError: "invalid_client"},
		{name: "no client auth", form: url.Values{"grant_type": {"client_credentials"}}, wantError: "invalid_client"},
		{name: "scope not allowed", basicID: demoID, basicSecret: demoSecret, form: url.Values{"grant_type": {"client_credentials"}, "scope": {demoScope + " other/write"}}, wantError: "invalid_scope"},
		{name: "password grant", basicID: demoID, basicSecret: demoSecret, form: url.Values{"grant_type": {"password"}}, wantError: "unsupported_grant_type"},
		{name: "client without client_credentials", basicID: "no-m2m", basicSecret: "s3cret", form: url.Values{"grant_type": {"client_credentials"}}, wantError: "unauthorized_client"},
		{name: "no grant_type", basicID: demoID, basicSecret: demoSecret, form: url.Values{}, wantError: "invalid_request"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, e.TokenURL(), strings.NewReader(tc.form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if tc.basicID != "" {
				req.SetBasicAuth(tc.basicID, tc.basicSecret)
			}
			resp, err := testHTTPClient().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusBadRequest || string(body) != `{"error":"`+tc.wantError+`"}` {
				t.Errorf("token request = %d %s, want 400 {\"error\":%q}", resp.StatusCode, body, tc.wantError)
			}
			if s := e.Stats(); s.TokenRequests != i+1 || s.TokensIssued != 0 {
				t.Errorf("Stats() = %+v, want TokenRequests %d, TokensIssued 0", s, i+1)
			}
		})
	}
}
