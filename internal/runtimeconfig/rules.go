package runtimeconfig

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/agentcore-proxy/agentcore-proxy/jwtcheck"
)

// Rule names, as the runtime's authorizer calls them.
const (
	RuleDiscoveryURL    = "discoveryUrl"
	RuleAllowedClients  = "allowedClients"
	RuleAllowedAudience = "allowedAudience"
	RuleAllowedScopes   = "allowedScopes"
	RuleCustomClaims    = "customClaims"
)

// Given is what the user configured of a route's authorizer side: the
// discovery URL and the local claim rules. An empty value is "not given".
type Given struct {
	DiscoveryURL string
	Rules        jwtcheck.Rules
}

// Conflict is a value the user gave that differs from the runtime's. The
// user's value wins; the caller warns, naming its setting for Rule.
type Conflict struct {
	Rule    string // RuleDiscoveryURL, RuleAllowedClients, ...
	User    string // the user's value, rendered
	Runtime string // the runtime's value, rendered
}

func (c Conflict) String() string {
	return fmt.Sprintf("%s: the runtime has %s, the configuration says %s; using the configuration's", c.Rule, c.Runtime, c.User)
}

// Merge fills what the user left unset from the runtime's JWT authorizer:
// each of the discovery URL and the four rules is taken from the runtime
// when the user gave none, and kept when given, with a Conflict when it
// differs from a value the runtime has. A nil authorizer (an IAM runtime)
// leaves given as it is.
func Merge(given Given, rt *JWTAuthorizer) (Given, []Conflict) {
	if rt == nil {
		return given, nil
	}
	var conflicts []Conflict
	out := given
	if out.DiscoveryURL == "" {
		out.DiscoveryURL = rt.DiscoveryURL
	} else if rt.DiscoveryURL != "" && strings.TrimSuffix(out.DiscoveryURL, "/") != strings.TrimSuffix(rt.DiscoveryURL, "/") {
		conflicts = append(conflicts, Conflict{RuleDiscoveryURL, out.DiscoveryURL, rt.DiscoveryURL})
	}
	list := func(rule string, user *[]string, runtime []string) {
		switch {
		case len(*user) == 0:
			*user = slices.Clone(runtime)
		case len(runtime) > 0 && !sameSet(*user, runtime):
			conflicts = append(conflicts, Conflict{rule, fmt.Sprint(*user), fmt.Sprint(runtime)})
		}
	}
	list(RuleAllowedClients, &out.Rules.AllowedClients, rt.AllowedClients)
	list(RuleAllowedAudience, &out.Rules.AllowedAudience, rt.AllowedAudience)
	list(RuleAllowedScopes, &out.Rules.AllowedScopes, rt.AllowedScopes)
	switch {
	case len(out.Rules.CustomClaims) == 0:
		out.Rules.CustomClaims = slices.Clone(rt.CustomClaims)
	case len(rt.CustomClaims) > 0 && !reflect.DeepEqual(out.Rules.CustomClaims, rt.CustomClaims):
		conflicts = append(conflicts, Conflict{RuleCustomClaims, claimsText(out.Rules.CustomClaims), claimsText(rt.CustomClaims)})
	}
	return out, conflicts
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}

func claimsText(cc []jwtcheck.CustomClaim) string {
	parts := make([]string, len(cc))
	for i, c := range cc {
		parts[i] = fmt.Sprintf("%s %s %s %q", c.Name, c.Type, c.Operator, c.Values)
	}
	return "[" + strings.Join(parts, "; ") + "]"
}

// Finding is one rule of the runtime compared with a token.
type Finding struct {
	Rule  string // RuleDiscoveryURL, RuleAllowedClients, ...
	Holds bool
	Text  string // what was compared, in words
}

// Compare checks the token's claims against every rule the runtime's
// authorizer sets, in the order AgentCore checks them, and says in words
// what it found: for a mismatch, what the runtime allows and what the
// token carries ("the runtime allows clients [A]; your token's client_id
// is B"). An IAM runtime (nil JWT) has no rule to compare.
func Compare(rt *Runtime, c *jwtcheck.Claims) []Finding {
	if rt == nil || rt.JWT == nil || c == nil {
		return nil
	}
	a := rt.JWT
	var out []Finding
	add := func(rule string, holds bool, format string, args ...any) {
		out = append(out, Finding{Rule: rule, Holds: holds, Text: fmt.Sprintf(format, args...)})
	}
	if a.DiscoveryURL != "" {
		want := strings.TrimSuffix(strings.TrimSuffix(a.DiscoveryURL, "/.well-known/openid-configuration"), "/")
		switch {
		case strings.TrimSuffix(c.Issuer, "/") == want:
			add(RuleDiscoveryURL, true, "the runtime trusts issuer %s; your token's iss is it", want)
		case c.Issuer == "":
			add(RuleDiscoveryURL, false, "the runtime trusts issuer %s (discoveryUrl %s); your token has no iss claim", want, a.DiscoveryURL)
		default:
			add(RuleDiscoveryURL, false, "the runtime trusts issuer %s (discoveryUrl %s); your token's iss is %s", want, a.DiscoveryURL, c.Issuer)
		}
	}
	if len(a.AllowedClients) > 0 {
		switch {
		case slices.Contains(a.AllowedClients, c.ClientID):
			add(RuleAllowedClients, true, "the runtime allows clients %v; your token's client_id %s is one", a.AllowedClients, c.ClientID)
		case c.ClientID == "" && (c.TokenUse == "id" || len(c.Audience) > 0):
			add(RuleAllowedClients, false, "the runtime allows clients %v; your token has no client_id claim: it is an ID token (aud %v), use an access token from the client_credentials grant", a.AllowedClients, c.Audience)
		case c.ClientID == "":
			add(RuleAllowedClients, false, "the runtime allows clients %v; your token has no client_id claim", a.AllowedClients)
		default:
			add(RuleAllowedClients, false, "the runtime allows clients %v; your token's client_id is %s", a.AllowedClients, c.ClientID)
		}
	}
	if len(a.AllowedAudience) > 0 {
		switch {
		case slices.ContainsFunc(c.Audience, func(s string) bool { return slices.Contains(a.AllowedAudience, s) }):
			add(RuleAllowedAudience, true, "the runtime allows audience %v; your token's aud %v has one", a.AllowedAudience, c.Audience)
		case len(c.Audience) == 0 && c.ClientID != "":
			add(RuleAllowedAudience, false, "the runtime allows audience %v; your token has no aud claim (Cognito access tokens carry client_id %s and no aud: set allowedClients on the runtime instead, or add aud with a pre-token-generation Lambda)", a.AllowedAudience, c.ClientID)
		case len(c.Audience) == 0:
			add(RuleAllowedAudience, false, "the runtime allows audience %v; your token has no aud claim", a.AllowedAudience)
		default:
			add(RuleAllowedAudience, false, "the runtime allows audience %v; your token's aud is %v", a.AllowedAudience, c.Audience)
		}
	}
	if len(a.AllowedScopes) > 0 {
		switch {
		case slices.ContainsFunc(c.Scopes, func(s string) bool { return slices.Contains(a.AllowedScopes, s) }):
			add(RuleAllowedScopes, true, "the runtime allows scopes %v; your token's scopes %v have one", a.AllowedScopes, c.Scopes)
		case len(c.Scopes) == 0:
			add(RuleAllowedScopes, false, "the runtime allows scopes %v; your token has no scope claim", a.AllowedScopes)
		default:
			add(RuleAllowedScopes, false, "the runtime allows scopes %v; your token's scopes are %v", a.AllowedScopes, c.Scopes)
		}
	}
	for _, cc := range a.CustomClaims {
		want := fmt.Sprintf("the runtime wants claim %s (%s) %s %q", cc.Name, cc.Type, strings.ToLower(strings.ReplaceAll(cc.Operator, "_", " ")), cc.Values)
		v, present := c.Raw[cc.Name]
		switch {
		case !present:
			add(RuleCustomClaims, false, "%s; your token has no %s claim", want, cc.Name)
		case cc.Holds(v):
			add(RuleCustomClaims, true, "%s; your token's is %s", want, jsonish(v))
		default:
			add(RuleCustomClaims, false, "%s; your token's %s is %s", want, cc.Name, jsonish(v))
		}
	}
	return out
}

// Explain returns the sentences of the rules the token fails, none when
// every rule holds.
func Explain(rt *Runtime, c *jwtcheck.Claims) []string {
	var out []string
	for _, f := range Compare(rt, c) {
		if !f.Holds {
			out = append(out, f.Text)
		}
	}
	return out
}

func jsonish(v any) string {
	switch v := v.(type) {
	case string:
		return fmt.Sprintf("%q", v)
	case []any:
		parts := make([]string, len(v))
		for i, x := range v {
			parts[i] = jsonish(x)
		}
		return "[" + strings.Join(parts, " ") + "]"
	}
	return fmt.Sprint(v)
}
