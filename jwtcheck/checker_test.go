package jwtcheck

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/agentcore-proxy/agentcore-proxy/internal/emulator"
)

const (
	demoClient = "demo-client-id"
	demoScope  = "default-m2m-resource-server/read"
)

// startEmulator runs an emulated Cognito pool for the test.
func startEmulator(t *testing.T) *emulator.Emulator {
	t.Helper()
	emu, err := emulator.Start(t.Context(), emulator.Config{TokenLifetime: time.Hour})
	if err != nil {
		t.Fatalf("emulator.Start() error = %v", err)
	}
	t.Cleanup(func() { _ = emu.Close() })
	return emu
}

func jwksURI(emu *emulator.Emulator) string { return emu.Issuer() + "/.well-known/jwks.json" }

// accessToken gets a real access token from the emulator's token endpoint.
func accessToken(t *testing.T, emu *emulator.Emulator) string {
	t.Helper()
	cc := clientcredentials.Config{ClientID: demoClient, ClientSecret: "demo-client-secret", TokenURL: emu.TokenURL(), Scopes: []string{demoScope}}
	tok, err := cc.Token(t.Context())
	if err != nil {
		t.Fatalf("clientcredentials Token() error = %v", err)
	}
	return tok.AccessToken
}

// newReadyChecker starts a Checker on emu's key set and waits for it to load.
func newReadyChecker(t *testing.T, emu *emulator.Emulator, cfg Config) *Checker {
	t.Helper()
	cfg.Issuer, cfg.JWKSURI = emu.Issuer(), jwksURI(emu)
	c, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatalf("New() error = %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := c.WaitReady(ctx); err != nil {
		t.Fatalf("WaitReady() = %v, want nil", err)
	}
	return c
}

// sign signs claims with key under kid, as another issuer (or an attacker) would.
func sign(t *testing.T, key *rsa.PrivateKey, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	tok.Header["kid"] = kid
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("SignedString() error = %v", err)
	}
	return s
}

func TestCheckAccessToken(t *testing.T) {
	emu := startEmulator(t)
	token := accessToken(t, emu)
	tests := []struct {
		name  string
		rules Rules
	}{
		{name: "no rules", rules: Rules{}},
		{name: "allowedClients", rules: Rules{AllowedClients: []string{"other", demoClient}}},
		{name: "allowedScopes", rules: Rules{AllowedScopes: []string{demoScope}}},
		{name: "clients and scopes", rules: Rules{AllowedClients: []string{demoClient}, AllowedScopes: []string{"x/y", demoScope}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newReadyChecker(t, emu, Config{Rules: tt.rules})
			claims, err := c.Check(token)
			if err != nil {
				t.Fatalf("Check(access token) = %v, want nil", err)
			}
			if claims.ClientID != demoClient || claims.TokenUse != "access" || claims.Issuer != emu.Issuer() ||
				len(claims.Audience) != 0 || claims.KeyID != emu.SigningKeyID() || claims.Algorithm != "RS256" {
				t.Errorf("Check(access token) claims = %+v, want Cognito access-token claims", claims)
			}
			if got := strings.Join(claims.Scopes, " "); got != demoScope {
				t.Errorf("Check(access token) scopes = %q, want %q", got, demoScope)
			}
			sum := claims.Summary()
			for _, want := range []string{"client_id=" + demoClient, "token_use=access", "scope=" + demoScope, "iss=" + emu.Issuer(), "(in "} {
				if !strings.Contains(sum, want) {
					t.Errorf("Summary() = %q, want it to contain %q", sum, want)
				}
			}
			if strings.Contains(sum, token) {
				t.Errorf("Summary() contains the token")
			}
		})
	}
}

func TestCheckFailures(t *testing.T) {
	emu := startEmulator(t)
	foreignKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	base := func(extra map[string]any) map[string]any {
		c := map[string]any{
			"iss": emu.Issuer(), "sub": demoClient, "client_id": demoClient, "token_use": "access",
			"scope": demoScope, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
			"dept": "eng", "groups": []string{"admin", "dev"},
		}
		for k, v := range extra {
			if v == nil {
				delete(c, k)
			} else {
				c[k] = v
			}
		}
		return c
	}
	emuSigned := func(extra map[string]any) string {
		s, err := emu.SignClaims(base(extra))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	idToken := emuSigned(map[string]any{"client_id": nil, "scope": nil, "token_use": "id", "aud": demoClient})
	custom := func(name, typ, op string, values ...string) Rules {
		return Rules{CustomClaims: []CustomClaim{{Name: name, Type: typ, Operator: op, Values: values}}}
	}
	tests := []struct {
		name      string
		token     string
		rules     Rules
		wantErr   error  // nil: passes
		alsoErr   error  // a second sentinel err must match
		wantClaim string // RuleError.Claim
		wantGot   string // RuleError.Got; "*": not checked
		wantFix   string // substring of the message
	}{
		{name: "ID token with allowedClients", token: idToken, rules: Rules{AllowedClients: []string{demoClient}},
			wantErr: ErrIDToken, alsoErr: ErrClientID, wantClaim: "client_id", wantGot: "",
			wantFix: "request an access token with the client_credentials grant (an ID token has no client_id claim; AgentCore answers 'Claim 'client_id' value mismatch')"},
		{name: "ID token with allowedAudience passes", token: idToken, rules: Rules{AllowedAudience: []string{demoClient}}},
		{name: "client_id not allowed", token: emuSigned(nil), rules: Rules{AllowedClients: []string{"a", "b"}},
			wantErr: ErrClientID, wantClaim: "client_id", wantGot: demoClient,
			wantFix: "add the client id to the runtime's allowedClients, or use a client the runtime allows"},
		{name: "aud missing", token: emuSigned(nil), rules: Rules{AllowedAudience: []string{"x"}},
			wantErr: ErrAudience, wantClaim: "aud", wantGot: "",
			wantFix: "token has no aud claim: the runtime allows audience [x] (allowedAudience)"},
		{name: "aud mismatch", token: emuSigned(map[string]any{"aud": []string{"y", "z"}}), rules: Rules{AllowedAudience: []string{"x"}},
			wantErr: ErrAudience, wantClaim: "aud", wantGot: "[y z]", wantFix: "aud [y z] is not allowed: the runtime allows audience [x]"},
		{name: "scope not allowed", token: emuSigned(nil), rules: Rules{AllowedScopes: []string{"rs/write"}},
			wantErr: ErrScope, wantClaim: "scope", wantGot: "[" + demoScope + "]",
			wantFix: "request an allowed scope, or add the scope to allowedScopes"},
		{name: "iss mismatch", token: emuSigned(map[string]any{"iss": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_other"}),
			wantErr: ErrIssuer, wantClaim: "iss", wantGot: "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_other",
			wantFix: "the token comes from another issuer: check the discovery URL against the runtime's discoveryUrl"},
		{name: "expired", token: emuSigned(map[string]any{"exp": now.Add(-time.Minute).Unix()}),
			wantErr: ErrExpired, wantClaim: "exp", wantGot: "*", wantFix: "check this machine's clock"},
		{name: "exp missing", token: emuSigned(map[string]any{"exp": nil}),
			wantErr: ErrMalformed, wantClaim: "exp", wantFix: "token has no exp claim"},
		{name: "not yet valid", token: emuSigned(map[string]any{"nbf": now.Add(time.Hour).Unix()}),
			wantErr: ErrNotYetValid, wantClaim: "nbf", wantGot: "*", wantFix: "wait until nbf"},
		{name: "exp of the wrong type", token: emuSigned(map[string]any{"exp": "tomorrow"}),
			wantErr: ErrMalformed, wantClaim: "exp", wantGot: `"tomorrow"`, wantFix: "Failed to parse token"},
		{name: "foreign key with the emulator's kid", token: sign(t, foreignKey, emu.SigningKeyID(), jwt.MapClaims(base(nil))),
			wantErr: ErrSignature, wantClaim: "kid", wantGot: emu.SigningKeyID(), wantFix: fixKey},
		{name: "unknown kid", token: sign(t, foreignKey, "unknown-kid", jwt.MapClaims(base(nil))),
			wantErr: ErrUnknownKey, wantClaim: "kid", wantGot: "unknown-kid", wantFix: fixKey},
		{name: "HS256", token: func() string {
			s, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims(base(nil))).SignedString([]byte("secret"))
			return s
		}(), wantErr: ErrSignature, wantClaim: "alg", wantGot: "HS256", wantFix: "signed with one of [RS256"},
		{name: "not a JWT", token: "not-a-jwt", wantErr: ErrMalformed, wantFix: "Failed to parse token"},
		{name: "Bearer prefix", token: "Bearer " + emuSigned(nil), wantErr: ErrMalformed, wantFix: `remove the "Bearer " prefix`},
		{name: "empty", token: "", wantErr: ErrMalformed, wantFix: "the token is empty"},
		{name: "EQUALS holds", token: emuSigned(nil), rules: custom("dept", "STRING", "EQUALS", "eng")},
		{name: "EQUALS fails", token: emuSigned(nil), rules: custom("dept", "STRING", "EQUALS", "ops"),
			wantErr: ErrCustomClaim, wantClaim: "dept", wantGot: `"eng"`, wantFix: `issue tokens whose "dept" claim equals "ops"`},
		{name: "EQUALS on an array claim fails", token: emuSigned(nil), rules: custom("groups", "STRING", "EQUALS", "admin"),
			wantErr: ErrCustomClaim, wantClaim: "groups", wantGot: `["admin","dev"]`, wantFix: "a STRING that equals"},
		{name: "CONTAINS holds", token: emuSigned(nil), rules: custom("groups", "STRING_ARRAY", "CONTAINS", "dev")},
		{name: "CONTAINS fails", token: emuSigned(nil), rules: custom("groups", "STRING_ARRAY", "CONTAINS", "ops"),
			wantErr: ErrCustomClaim, wantClaim: "groups", wantGot: `["admin","dev"]`, wantFix: `contains "ops"`},
		{name: "CONTAINS_ANY holds", token: emuSigned(nil), rules: custom("groups", "STRING_ARRAY", "CONTAINS_ANY", "ops", "admin")},
		{name: "CONTAINS_ANY fails", token: emuSigned(nil), rules: custom("groups", "STRING_ARRAY", "CONTAINS_ANY", "ops", "qa"),
			wantErr: ErrCustomClaim, wantClaim: "groups", wantGot: `["admin","dev"]`, wantFix: `contains one of ["ops" "qa"]`},
		{name: "custom claim missing", token: emuSigned(map[string]any{"dept": nil}), rules: custom("dept", "STRING", "EQUALS", "eng"),
			wantErr: ErrCustomClaim, wantClaim: "dept", wantGot: "", wantFix: `token has no "dept" claim`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newReadyChecker(t, emu, Config{Rules: tt.rules})
			claims, err := c.Check(tt.token)
			t.Logf("Check() = %v", err)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Check() = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Check() = %v, want errors.Is %v", err, tt.wantErr)
			}
			if tt.alsoErr != nil && !errors.Is(err, tt.alsoErr) {
				t.Errorf("Check() = %v, want errors.Is %v too", err, tt.alsoErr)
			}
			var re *RuleError
			if !errors.As(err, &re) {
				t.Fatalf("Check() = %T, want *RuleError", err)
			}
			if re.Claim != tt.wantClaim {
				t.Errorf("Check() Claim = %q, want %q", re.Claim, tt.wantClaim)
			}
			if tt.wantGot != "*" && re.Got != tt.wantGot {
				t.Errorf("Check() Got = %q, want %q", re.Got, tt.wantGot)
			}
			// Only a missing aud leaves the fix to the catalogue: it
			// depends on the identity provider.
			if re.Problem == "" || (re.Fix == "") != (tt.wantClaim == "aud" && re.Got == "") {
				t.Errorf("Check() = %+v, want a Problem, and a Fix unless aud is missing", re)
			}
			if !strings.Contains(err.Error(), tt.wantFix) {
				t.Errorf("Check() = %q, want it to contain %q", err, tt.wantFix)
			}
			if !strings.HasPrefix(err.Error(), "jwtcheck: ") {
				t.Errorf("Check() = %q, want the jwtcheck: prefix", err)
			}
			signed := !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrSignature) && !errors.Is(err, ErrUnknownKey)
			if signed && claims == nil {
				t.Errorf("Check() claims = nil, want the claims of a token whose signature verified")
			}
			if tok := strings.TrimPrefix(tt.token, "Bearer "); tok != "" && strings.Contains(err.Error(), tok) {
				t.Errorf("Check() error contains the token")
			}
		})
	}
}

func TestCheckAfterKeyRotation(t *testing.T) {
	emu := startEmulator(t)
	var fetches atomic.Int32
	c := newReadyChecker(t, emu, Config{Rules: Rules{AllowedClients: []string{demoClient}}, OnRefresh: func(error) { fetches.Add(1) }})
	before := accessToken(t, emu)
	if _, err := c.Check(before); err != nil {
		t.Fatalf("Check(token before rotation) = %v, want nil", err)
	}

	emu.RotateKey()
	after := accessToken(t, emu)
	if _, err := c.Check(after); err != nil {
		t.Fatalf("Check(token signed with the new key) = %v, want nil", err)
	}
	if _, err := c.Check(before); err != nil {
		t.Errorf("Check(token before rotation, after refresh) = %v, want nil", err)
	}
	if got := fetches.Load(); got != 2 {
		t.Errorf("JWKS fetches = %d, want 2 (the first load and one refresh for the new kid)", got)
	}

	// A second unknown kid within a minute gets no refresh: the limit protects jwks_uri.
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	forged := sign(t, key, "forged", jwt.MapClaims{"iss": emu.Issuer(), "client_id": demoClient, "exp": time.Now().Add(time.Hour).Unix()})
	if _, err := c.Check(forged); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("Check(forged kid) = %v, want %v", err, ErrUnknownKey)
	}
	if got := fetches.Load(); got != 2 {
		t.Errorf("JWKS fetches after a second unknown kid = %d, want still 2", got)
	}
}
