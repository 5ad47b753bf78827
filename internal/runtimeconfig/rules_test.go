package runtimeconfig

import (
	"reflect"
	"strings"
	"testing"

	"github.com/agentcore-proxy/agentcore-proxy/jwtcheck"
)

const disc = "https://cognito-idp.us-west-2.amazonaws.com/us-west-2_POOL/.well-known/openid-configuration"

func TestMerge(t *testing.T) {
	t.Parallel()
	tier := jwtcheck.CustomClaim{Name: "tier", Type: "STRING", Operator: "EQUALS", Values: []string{"gold"}}
	runtime := &JWTAuthorizer{DiscoveryURL: disc, AllowedClients: []string{"A"}, AllowedScopes: []string{"s/read"},
		CustomClaims: []jwtcheck.CustomClaim{tier}}
	for _, tc := range []struct {
		name      string
		given     Given
		rt        *JWTAuthorizer
		want      Given
		conflicts []string // rules in conflict
	}{
		{name: "nothing given takes the runtime's", rt: runtime,
			want: Given{DiscoveryURL: disc, Rules: jwtcheck.Rules{AllowedClients: []string{"A"}, AllowedScopes: []string{"s/read"},
				CustomClaims: []jwtcheck.CustomClaim{tier}}}},
		{name: "same values, no conflict", rt: runtime,
			given: Given{DiscoveryURL: disc + "/", Rules: jwtcheck.Rules{AllowedClients: []string{"A", "A"}}},
			want: Given{DiscoveryURL: disc + "/", Rules: jwtcheck.Rules{AllowedClients: []string{"A", "A"}, AllowedScopes: []string{"s/read"},
				CustomClaims: []jwtcheck.CustomClaim{tier}}}},
		{name: "contradicting values win with a conflict each", rt: runtime,
			given: Given{DiscoveryURL: "https://idp.example.com/.well-known/openid-configuration",
				Rules: jwtcheck.Rules{AllowedClients: []string{"B"}, AllowedAudience: []string{"api"},
					CustomClaims: []jwtcheck.CustomClaim{{Name: "tier", Type: "STRING", Operator: "EQUALS", Values: []string{"silver"}}}}},
			want: Given{DiscoveryURL: "https://idp.example.com/.well-known/openid-configuration",
				Rules: jwtcheck.Rules{AllowedClients: []string{"B"}, AllowedAudience: []string{"api"}, AllowedScopes: []string{"s/read"},
					CustomClaims: []jwtcheck.CustomClaim{{Name: "tier", Type: "STRING", Operator: "EQUALS", Values: []string{"silver"}}}}},
			conflicts: []string{RuleDiscoveryURL, RuleAllowedClients, RuleCustomClaims}},
		{name: "an IAM runtime changes nothing", given: Given{Rules: jwtcheck.Rules{AllowedClients: []string{"B"}}},
			want: Given{Rules: jwtcheck.Rules{AllowedClients: []string{"B"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, conflicts := Merge(tc.given, tc.rt)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Merge() = %+v, want %+v", got, tc.want)
			}
			var rules []string
			for _, c := range conflicts {
				rules = append(rules, c.Rule)
				if c.User == "" || c.Runtime == "" || !strings.Contains(c.String(), c.User) || !strings.Contains(c.String(), c.Runtime) {
					t.Errorf("Conflict %+v: String() = %q, want both values", c, c.String())
				}
			}
			if !reflect.DeepEqual(rules, tc.conflicts) {
				t.Errorf("Merge() conflicts = %v, want %v", rules, tc.conflicts)
			}
		})
	}
}

func TestCompareAndExplain(t *testing.T) {
	t.Parallel()
	iss := strings.TrimSuffix(disc, "/.well-known/openid-configuration")
	access := &jwtcheck.Claims{Issuer: iss, ClientID: "B", TokenUse: "access", Scopes: []string{"s/write"},
		Raw: map[string]any{"tier": "silver", "groups": []any{"x", "b"}}}
	for _, tc := range []struct {
		name    string
		rt      *Runtime
		claims  *jwtcheck.Claims
		holds   int
		explain []string // substrings, one per failing rule, in order
	}{
		{name: "client excluded", rt: &Runtime{JWT: &JWTAuthorizer{DiscoveryURL: disc, AllowedClients: []string{"A"}}}, claims: access,
			holds: 1, explain: []string{"the runtime allows clients [A]; your token's client_id is B"}},
		{name: "cognito access token and allowedAudience",
			rt: &Runtime{JWT: &JWTAuthorizer{DiscoveryURL: disc, AllowedAudience: []string{"api://mcp"}}}, claims: access,
			holds: 1, explain: []string{"the runtime allows audience [api://mcp]; your token has no aud claim (Cognito access tokens carry client_id B and no aud"}},
		{name: "ID token and allowedClients",
			rt:      &Runtime{JWT: &JWTAuthorizer{AllowedClients: []string{"A"}}},
			claims:  &jwtcheck.Claims{Issuer: iss, TokenUse: "id", Audience: []string{"A"}},
			explain: []string{"your token has no client_id claim: it is an ID token (aud [A])"}},
		{name: "other issuer, scopes, custom claims",
			rt: &Runtime{JWT: &JWTAuthorizer{DiscoveryURL: "https://other.example.com/.well-known/openid-configuration",
				AllowedClients: []string{"B"}, AllowedScopes: []string{"s/read"},
				CustomClaims: []jwtcheck.CustomClaim{
					{Name: "tier", Type: "STRING", Operator: "EQUALS", Values: []string{"gold"}},
					{Name: "groups", Type: "STRING_ARRAY", Operator: "CONTAINS_ANY", Values: []string{"a", "b"}},
					{Name: "dept", Type: "STRING", Operator: "EQUALS", Values: []string{"eng"}},
				}}}, claims: access,
			holds: 2,
			explain: []string{"the runtime trusts issuer https://other.example.com (discoveryUrl https://other.example.com/.well-known/openid-configuration); your token's iss is " + iss,
				"the runtime allows scopes [s/read]; your token's scopes are [s/write]",
				`your token's tier is "silver"`,
				"your token has no dept claim"}},
		{name: "everything holds",
			rt: &Runtime{JWT: &JWTAuthorizer{DiscoveryURL: disc, AllowedClients: []string{"A", "B"}, AllowedScopes: []string{"s/write"},
				AllowedAudience: []string{"api"}}},
			claims: &jwtcheck.Claims{Issuer: iss, ClientID: "B", Audience: []string{"api"}, Scopes: []string{"s/write"}},
			holds:  4},
		{name: "IAM runtime", rt: &Runtime{}, claims: access},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			holds := 0
			for _, f := range Compare(tc.rt, tc.claims) {
				if f.Holds {
					holds++
				}
			}
			if holds != tc.holds {
				t.Errorf("Compare() holds %d rules, want %d: %+v", holds, tc.holds, Compare(tc.rt, tc.claims))
			}
			got := Explain(tc.rt, tc.claims)
			if len(got) != len(tc.explain) {
				t.Fatalf("Explain() = %q, want %d sentences like %q", got, len(tc.explain), tc.explain)
			}
			for i, want := range tc.explain {
				if !strings.Contains(got[i], want) {
					t.Errorf("Explain()[%d] = %q, want it to contain %q", i, got[i], want)
				}
			}
		})
	}
}
