package jwtcheck

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestRulesValidate(t *testing.T) {
	cc := func(name, typ, op string, values ...string) Rules {
		return Rules{CustomClaims: []CustomClaim{{Name: name, Type: typ, Operator: op, Values: values}}}
	}
	tests := []struct {
		name     string
		rules    Rules
		wantText string // "" for valid
	}{
		{name: "empty", rules: Rules{}},
		{name: "lists", rules: Rules{AllowedClients: []string{"a"}, AllowedAudience: []string{"b"}, AllowedScopes: []string{"c/d"}}},
		{name: "EQUALS STRING", rules: cc("dept", "STRING", "EQUALS", "eng")},
		{name: "CONTAINS STRING_ARRAY", rules: cc("cognito:groups", "STRING_ARRAY", "CONTAINS", "admin")},
		{name: "CONTAINS_ANY STRING_ARRAY", rules: cc("roles", "STRING_ARRAY", "CONTAINS_ANY", "a", "b")},
		{name: "empty client", rules: Rules{AllowedClients: []string{" "}}, wantText: "allowedClients[0] is empty"},
		{name: "EQUALS STRING_ARRAY", rules: cc("g", "STRING_ARRAY", "EQUALS", "a"), wantText: `customClaims[0] ("g"): operator EQUALS is for a STRING claim`},
		{name: "CONTAINS STRING", rules: cc("g", "STRING", "CONTAINS", "a"), wantText: "operator CONTAINS is for a STRING_ARRAY claim"},
		{name: "unknown type", rules: cc("g", "string", "EQUALS", "a"), wantText: `type "string": want STRING or STRING_ARRAY`},
		{name: "unknown operator", rules: cc("g", "STRING", "IN", "a"), wantText: `operator "IN": want EQUALS, CONTAINS or CONTAINS_ANY`},
		{name: "EQUALS two values", rules: cc("g", "STRING", "EQUALS", "a", "b"), wantText: "EQUALS takes exactly one value, got 2"},
		{name: "CONTAINS no value", rules: cc("g", "STRING_ARRAY", "CONTAINS"), wantText: "CONTAINS takes exactly one value, got 0"},
		{name: "CONTAINS_ANY no value", rules: cc("g", "STRING_ARRAY", "CONTAINS_ANY"), wantText: "CONTAINS_ANY needs one or more values"},
		{name: "empty value", rules: cc("g", "STRING_ARRAY", "CONTAINS_ANY", "a", ""), wantText: "a value is empty"},
		{name: "empty name", rules: cc("", "STRING", "EQUALS", "a"), wantText: "customClaims[0]: the claim name is empty"},
		{name: "bad name", rules: cc("a b", "STRING", "EQUALS", "a"), wantText: "a claim name is 1 to 255 of"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.rules.Validate()
			if tt.wantText == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidRules) || !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("Validate() = %v, want %v containing %q", err, ErrInvalidRules, tt.wantText)
			}
		})
	}
}

func TestCheckClaimsTimes(t *testing.T) {
	now := time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	const leeway = 5 * time.Second
	tests := []struct {
		name    string
		exp     time.Time
		nbf     time.Time
		wantErr error
	}{
		{name: "valid", exp: now.Add(time.Minute)},
		{name: "expired within leeway", exp: now.Add(-leeway + time.Second)},
		{name: "expired at leeway", exp: now.Add(-leeway), wantErr: ErrExpired},
		{name: "no exp", wantErr: ErrMalformed},
		{name: "nbf within leeway", exp: now.Add(time.Hour), nbf: now.Add(leeway)},
		{name: "nbf past leeway", exp: now.Add(time.Hour), nbf: now.Add(leeway + time.Second), wantErr: ErrNotYetValid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Claims{Issuer: "iss", ExpiresAt: tt.exp, NotBefore: tt.nbf}
			if err := CheckClaims(c, "iss", Rules{}, now, leeway); !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Errorf("CheckClaims(exp %v, nbf %v) = %v, want %v", tt.exp, tt.nbf, err, tt.wantErr)
			}
		})
	}
	if err := CheckClaims(nil, "", Rules{}, now, leeway); !errors.Is(err, ErrMalformed) {
		t.Errorf("CheckClaims(nil) = %v, want %v", err, ErrMalformed)
	}
	bad := Rules{CustomClaims: []CustomClaim{{Name: "x", Type: "STRING", Operator: "CONTAINS", Values: []string{"a"}}}}
	if err := CheckClaims(&Claims{ExpiresAt: now.Add(time.Hour)}, "", bad, now, leeway); !errors.Is(err, ErrInvalidRules) {
		t.Errorf("CheckClaims(invalid rules) = %v, want %v", err, ErrInvalidRules)
	}
}

func TestCheckClaimsIDTokenScope(t *testing.T) {
	now := time.Now()
	c := &Claims{Issuer: "iss", TokenUse: "id", Audience: []string{"app"}, ExpiresAt: now.Add(time.Hour)}
	err := CheckClaims(c, "iss", Rules{AllowedScopes: []string{"rs/read"}}, now, 0)
	if !errors.Is(err, ErrScope) || !strings.Contains(err.Error(), "ID token") || !strings.Contains(err.Error(), fixScope) {
		t.Errorf("CheckClaims(ID token, allowedScopes) = %v, want %v naming the ID token and the fix", err, ErrScope)
	}
}

func TestDecode(t *testing.T) {
	emu := startEmulator(t)
	token := accessToken(t, emu)
	header, claims, err := Decode(token)
	if err != nil {
		t.Fatalf("Decode(access token) = %v, want nil", err)
	}
	if header["kid"] != emu.SigningKeyID() || header["alg"] != "RS256" {
		t.Errorf("Decode() header = %v, want kid %q and alg RS256", header, emu.SigningKeyID())
	}
	if claims.ClientID != demoClient || claims.Raw["version"] == nil || claims.ExpiresAt.IsZero() || claims.IssuedAt.IsZero() {
		t.Errorf("Decode() claims = %+v, want the access token's claims", claims)
	}

	for _, tt := range []struct {
		name     string
		token    string
		wantText string
	}{
		{name: "two parts", token: "a.b", wantText: "got 2"},
		{name: "bad base64", token: "!!.e30.x", wantText: "the header are not base64url"},
		{name: "claims not an object", token: "e30.WzFd.x", wantText: "the claims are not a JSON object"},
		{name: "empty", token: "", wantText: "the token is empty"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Decode(tt.token)
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("Decode(%q) = %v, want %v containing %q", tt.token, err, ErrMalformed, tt.wantText)
			}
		})
	}

	// A claim of the wrong type is reported, and the rest still decoded.
	tok, err := emu.SignClaims(map[string]any{"client_id": "c", "aud": 7})
	if err != nil {
		t.Fatal(err)
	}
	_, claims, err = Decode(tok)
	var re *RuleError
	if !errors.As(err, &re) || re.Claim != "aud" || claims == nil || claims.ClientID != "c" {
		t.Errorf("Decode(aud 7) = %+v, %v, want claims with client_id c and an aud RuleError", claims, err)
	}
}

func TestSummary(t *testing.T) {
	now := time.Date(2026, 1, 2, 15, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		claims Claims
		want   string
	}{
		{name: "access token", claims: Claims{ClientID: "abc", TokenUse: "access", Scopes: []string{"a/b", "c/d"}, Issuer: "https://iss", ExpiresAt: now.Add(59*time.Minute + 58*time.Second)},
			want: "client_id=abc token_use=access scope=a/b,c/d iss=https://iss exp=2026-01-02T15:59:58Z (in 59m58s)"},
		{name: "expired ID token", claims: Claims{Subject: "u1", Audience: []string{"app"}, TokenUse: "id", ExpiresAt: now.Add(-time.Minute)},
			want: "sub=u1 aud=app token_use=id exp=2026-01-02T14:59:00Z (expired 1m0s ago)"},
		{name: "nothing", want: "no claims"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.claims.summary(now); got != tt.want {
				t.Errorf("summary() = %q, want %q", got, tt.want)
			}
		})
	}
}
