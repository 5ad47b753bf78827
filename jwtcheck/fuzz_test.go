package jwtcheck

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

// fuzzRuleSets are the rules FuzzCheckClaims picks from.
var fuzzRuleSets = func() []Rules {
	sets := []Rules{
		{},
		{AllowedClients: []string{"c1", "c2"}},
		{AllowedAudience: []string{"a1"}},
		{AllowedScopes: []string{"rs/read", "rs/write"}},
		{CustomClaims: []CustomClaim{{Name: "dept", Type: TypeString, Operator: OpEquals, Values: []string{"eng"}}}},
		{CustomClaims: []CustomClaim{{Name: "groups", Type: TypeStringArray, Operator: OpContains, Values: []string{"admin"}}}},
		{CustomClaims: []CustomClaim{{Name: "groups", Type: TypeStringArray, Operator: OpContainsAny, Values: []string{"a", "b"}}}},
	}
	all := Rules{}
	for _, r := range sets {
		all.AllowedClients = append(all.AllowedClients, r.AllowedClients...)
		all.AllowedAudience = append(all.AllowedAudience, r.AllowedAudience...)
		all.AllowedScopes = append(all.AllowedScopes, r.AllowedScopes...)
		all.CustomClaims = append(all.CustomClaims, r.CustomClaims...)
	}
	return append(sets, all)
}()

// FuzzCheckClaims feeds arbitrary JSON claims through claimsFrom and
// CheckClaims, as Check does after the signature. Invariant: a
// nil error means that, read independently from the raw JSON, exp, nbf, iss
// and every set rule hold.
func FuzzCheckClaims(f *testing.F) {
	f.Add([]byte(`{"iss":"https://iss","client_id":"c1","scope":"rs/read x","exp":1767366000,"dept":"eng","groups":["admin","a"],"aud":"a1"}`), uint8(7))
	f.Add([]byte(`{"iss":"https://iss","aud":["a1"],"token_use":"id","exp":1767366000}`), uint8(1))
	f.Add([]byte(`{"iss":"https://iss","exp":1767366000.9,"nbf":1767366004,"groups":["b"]}`), uint8(6))
	f.Add([]byte(`{"iss":"https://iss","exp":1e300,"groups":"admin"}`), uint8(5))
	f.Add([]byte(`{"iss":"https://iss","exp":"1767366000","dept":["eng"]}`), uint8(4))

	const issuer = "https://iss"
	now := time.Date(2026, 1, 2, 15, 0, 0, 0, time.UTC) // Unix 1767366000
	const leeway = 5 * time.Second
	f.Fuzz(func(t *testing.T, payload []byte, set uint8) {
		var raw map[string]any
		if json.Unmarshal(payload, &raw) != nil || raw == nil {
			return
		}
		rules := fuzzRuleSets[int(set)%len(fuzzRuleSets)]
		// As in Check, a claim of the wrong type rejects the token; CheckClaims
		// still runs on what decoded, for the sake of finding panics.
		claims, decodeErr := claimsFrom(nil, raw)
		err := CheckClaims(claims, issuer, rules, now, leeway)
		_ = claims.summary(now)
		if err == nil {
			err = decodeErr
		}
		if err != nil {
			if _, ok := err.(*RuleError); !ok {
				t.Fatalf("CheckClaims(%s) = %T %v, want a *RuleError", payload, err, err)
			}
			return
		}
		nowSec := float64(now.Unix())
		exp, ok := raw["exp"].(float64)
		if !ok || !(exp+leeway.Seconds() > nowSec) {
			t.Fatalf("CheckClaims(%s) = nil, want an error: exp %v not after now", payload, raw["exp"])
		}
		if nbf, present := raw["nbf"]; present && nbf != nil {
			n, ok := nbf.(float64)
			if !ok || n-leeway.Seconds() > nowSec {
				t.Fatalf("CheckClaims(%s) = nil, want an error: nbf %v after now", payload, nbf)
			}
		}
		if raw["iss"] != issuer {
			t.Fatalf("CheckClaims(%s) = nil, want an error: iss %v", payload, raw["iss"])
		}
		if len(rules.AllowedClients) > 0 {
			if cid, _ := raw["client_id"].(string); !slices.Contains(rules.AllowedClients, cid) {
				t.Fatalf("CheckClaims(%s) = nil, want an error: client_id %v not in %v", payload, raw["client_id"], rules.AllowedClients)
			}
		}
		if len(rules.AllowedAudience) > 0 && !anyAllowed(strings_(raw["aud"]), rules.AllowedAudience) {
			t.Fatalf("CheckClaims(%s) = nil, want an error: aud %v not in %v", payload, raw["aud"], rules.AllowedAudience)
		}
		if len(rules.AllowedScopes) > 0 {
			scope, _ := raw["scope"].(string)
			if !anyAllowed(strings.Fields(scope), rules.AllowedScopes) {
				t.Fatalf("CheckClaims(%s) = nil, want an error: scope %v not in %v", payload, raw["scope"], rules.AllowedScopes)
			}
		}
		for _, cc := range rules.CustomClaims {
			v := raw[cc.Name]
			var holds bool
			switch cc.Operator {
			case OpEquals:
				s, ok := v.(string)
				holds = ok && s == cc.Values[0]
			case OpContains:
				arr, ok := v.([]any)
				holds = ok && allStrings(arr) && slices.Contains(arr, any(cc.Values[0]))
			case OpContainsAny:
				arr, ok := v.([]any)
				holds = ok && allStrings(arr) && anyAllowed(strings_(arr), cc.Values)
			}
			if !holds {
				t.Fatalf("CheckClaims(%s) = nil, want an error: %s %v %s %v", payload, cc.Name, v, cc.Operator, cc.Values)
			}
		}
	})
}

// strings_ reads a JSON string or the strings of a JSON array.
func strings_(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, x := range v {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func allStrings(arr []any) bool {
	for _, x := range arr {
		if _, ok := x.(string); !ok {
			return false
		}
	}
	return true
}

func anyAllowed(have, allowed []string) bool {
	return slices.ContainsFunc(have, func(h string) bool { return slices.Contains(allowed, h) })
}

// FuzzDecode feeds arbitrary strings to Decode: no panic, and a nil error
// comes with a header and claims.
func FuzzDecode(f *testing.F) {
	f.Add("eyJhbGciOiJSUzI1NiJ9.eyJleHAiOjF9.c2ln")
	f.Add("Bearer a.b.c")
	f.Add("e30.WzFd.")
	f.Fuzz(func(t *testing.T, token string) {
		header, claims, err := Decode(token)
		if err == nil && (header == nil || claims == nil) {
			t.Fatalf("Decode(%q) = %v, %v, nil, want a header and claims", token, header, claims)
		}
		if err != nil {
			if _, ok := err.(*RuleError); !ok {
				t.Fatalf("Decode(%q) error = %T, want *RuleError", token, err)
			}
		}
	})
}
