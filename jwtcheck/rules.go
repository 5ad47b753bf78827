package jwtcheck

import (
	"fmt"
	"slices"
	"time"
)

// Fixes shared by several failures.
const (
	fixClient  = "add the client id to the runtime's allowedClients, or use a client the runtime allows"
	fixIDToken = "request an access token with the client_credentials grant (an ID token has no client_id claim; " +
		"AgentCore answers 'Claim 'client_id' value mismatch')"
	fixScope  = "request an allowed scope, or add the scope to allowedScopes"
	fixIssuer = "the token comes from another issuer: check the discovery URL against the runtime's discoveryUrl"
	fixKey    = "the token was not signed by the key set at jwks_uri: check the discovery URL, " +
		"or the key was rotated and the key set could not be refreshed"
)

// CheckClaims applies the claim checks of AgentCore's authorizer to claims,
// without a signature: exp (required) and nbf against now with leeway, iss
// against issuer (skipped if issuer is ""), then the set rules in the order
// allowedClients, allowedAudience, allowedScopes, customClaims. It returns
// the first failure as a [*RuleError], or an error wrapping [ErrInvalidRules]
// if rules is invalid. [Checker.Check] calls it after verifying the
// signature.
func CheckClaims(claims *Claims, issuer string, rules Rules, now time.Time, leeway time.Duration) error {
	if err := rules.Validate(); err != nil {
		return err
	}
	if claims == nil {
		return &RuleError{Err: ErrMalformed, Problem: "no claims to check", Fix: "decode the token first"}
	}
	for _, check := range []func() *RuleError{
		func() *RuleError { return checkTimes(claims, now, leeway) },
		func() *RuleError { return checkIssuer(claims, issuer) },
		func() *RuleError { return checkClient(claims, rules.AllowedClients) },
		func() *RuleError { return checkAudience(claims, rules.AllowedAudience) },
		func() *RuleError { return checkScopes(claims, rules.AllowedScopes) },
		func() *RuleError { return checkCustom(claims, rules.CustomClaims) },
	} {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

// isIDToken tells an OpenID Connect ID token: Cognito marks it token_use=id,
// and any ID token has aud but no client_id.
func isIDToken(c *Claims) bool {
	return c.TokenUse == "id" || (len(c.Audience) > 0 && c.ClientID == "")
}

func checkTimes(c *Claims, now time.Time, leeway time.Duration) *RuleError {
	const stamp = time.RFC3339
	if c.ExpiresAt.IsZero() {
		return &RuleError{Err: ErrMalformed, Claim: "exp", Want: "a NumericDate",
			Problem: "token has no exp claim, which AgentCore requires",
			Fix:     "issue tokens with an expiry"}
	}
	if !now.Before(c.ExpiresAt.Add(leeway)) {
		ago := now.Sub(c.ExpiresAt).Round(time.Second)
		return &RuleError{Err: ErrExpired, Claim: "exp", Got: c.ExpiresAt.UTC().Format(stamp), Want: "after " + now.UTC().Format(stamp),
			Problem: fmt.Sprintf("token expired at %s (%s ago, leeway %s)", c.ExpiresAt.UTC().Format(stamp), ago, leeway),
			Fix:     "request a new token; if it was just issued, check this machine's clock"}
	}
	if !c.NotBefore.IsZero() && now.Add(leeway).Before(c.NotBefore) {
		in := c.NotBefore.Sub(now).Round(time.Second)
		return &RuleError{Err: ErrNotYetValid, Claim: "nbf", Got: c.NotBefore.UTC().Format(stamp), Want: "before " + now.UTC().Format(stamp),
			Problem: fmt.Sprintf("token is not valid before %s (in %s, leeway %s)", c.NotBefore.UTC().Format(stamp), in, leeway),
			Fix:     "wait until nbf, or check the clocks of this machine and of the token issuer"}
	}
	return nil
}

func checkIssuer(c *Claims, issuer string) *RuleError {
	if issuer == "" || c.Issuer == issuer {
		return nil
	}
	problem := fmt.Sprintf("iss %q is not the issuer %q of the runtime's discovery document", c.Issuer, issuer)
	if c.Issuer == "" {
		problem = fmt.Sprintf("token has no iss claim: the runtime wants issuer %q", issuer)
	}
	return &RuleError{Err: ErrIssuer, Claim: "iss", Got: c.Issuer, Want: issuer, Problem: problem, Fix: fixIssuer}
}

func checkClient(c *Claims, allowed []string) *RuleError {
	if len(allowed) == 0 || slices.Contains(allowed, c.ClientID) {
		return nil
	}
	e := &RuleError{Err: ErrClientID, Claim: "client_id", Got: c.ClientID, Want: fmt.Sprint(allowed), Fix: fixClient}
	rule := fmt.Sprintf("the runtime allows clients %v (allowedClients)", allowed)
	switch {
	case isIDToken(c):
		cid := "no client_id"
		if c.ClientID != "" {
			cid = fmt.Sprintf("client_id %q", c.ClientID)
		}
		e.Err, e.Fix = ErrIDToken, fixIDToken
		e.Problem = fmt.Sprintf("token is an ID token (token_use=%s, aud=%v, %s): %s", c.TokenUse, c.Audience, cid, rule)
	case c.ClientID == "":
		e.Problem = "token has no client_id claim: " + rule
	default:
		e.Problem = fmt.Sprintf("client_id %q is not allowed: %s", c.ClientID, rule)
	}
	return e
}

func checkAudience(c *Claims, allowed []string) *RuleError {
	if len(allowed) == 0 || slices.ContainsFunc(c.Audience, func(a string) bool { return slices.Contains(allowed, a) }) {
		return nil
	}
	e := &RuleError{Err: ErrAudience, Claim: "aud", Want: fmt.Sprint(allowed)}
	if len(c.Audience) == 0 {
		// What to do depends on the identity provider (agentcore's
		// catalogue knows Cognito's access tokens never carry aud): no Fix.
		e.Problem = fmt.Sprintf("token has no aud claim: the runtime allows audience %v (allowedAudience)", allowed)
		return e
	}
	e.Got = fmt.Sprint(c.Audience)
	e.Problem = fmt.Sprintf("aud %v is not allowed: the runtime allows audience %v (allowedAudience)", c.Audience, allowed)
	e.Fix = "add the token's audience to the runtime's allowedAudience, or get a token for an allowed audience"
	return e
}

func checkScopes(c *Claims, allowed []string) *RuleError {
	if len(allowed) == 0 || slices.ContainsFunc(c.Scopes, func(s string) bool { return slices.Contains(allowed, s) }) {
		return nil
	}
	e := &RuleError{Err: ErrScope, Claim: "scope", Got: fmt.Sprint(c.Scopes), Want: fmt.Sprint(allowed), Fix: fixScope}
	rule := fmt.Sprintf("the runtime allows scopes %v (allowedScopes)", allowed)
	switch {
	case len(c.Scopes) == 0 && isIDToken(c):
		e.Got = ""
		e.Problem = "token is an ID token, which has no scope claim: " + rule
		e.Fix = "request an access token with the client_credentials grant; " + fixScope
	case len(c.Scopes) == 0:
		e.Got = ""
		e.Problem = "token has no scope claim: " + rule
	default:
		e.Problem = fmt.Sprintf("none of the token's scopes %v is allowed: %s", c.Scopes, rule)
	}
	return e
}

func checkCustom(c *Claims, rules []CustomClaim) *RuleError {
	for _, cc := range rules {
		v, present := c.Raw[cc.Name]
		if present && cc.Holds(v) {
			continue
		}
		want := fmt.Sprintf("%s %s %q", cc.Type, cc.Operator, cc.Values)
		e := &RuleError{Err: ErrCustomClaim, Claim: cc.Name, Want: want,
			Fix: fmt.Sprintf("issue tokens whose %q claim %s, "+
				"or change the runtime's customClaims rule", cc.Name, cc.describe())}
		rule := fmt.Sprintf("customClaims wants it to be a %s that %s", cc.Type, cc.describe())
		if !present {
			e.Problem = fmt.Sprintf("token has no %q claim: %s", cc.Name, rule)
		} else {
			e.Got = jsonText(v)
			e.Problem = fmt.Sprintf("claim %q is %s: %s", cc.Name, e.Got, rule)
		}
		return e
	}
	return nil
}

// Holds reports whether claim value v (as decoded from JSON) satisfies
// rule cc, a valid rule, as AgentCore's customClaims check does.
func (cc CustomClaim) Holds(v any) bool {
	if cc.Type == TypeString {
		s, ok := v.(string)
		return ok && cc.Operator == OpEquals && s == first(cc.Values)
	}
	var have []string
	switch v := v.(type) {
	case []string:
		have = v
	case []any:
		for _, x := range v {
			s, ok := x.(string)
			if !ok {
				return false // not a STRING_ARRAY
			}
			have = append(have, s)
		}
	default:
		return false
	}
	switch cc.Operator {
	case OpContains:
		return slices.Contains(have, first(cc.Values))
	case OpContainsAny:
		return slices.ContainsFunc(cc.Values, func(w string) bool { return slices.Contains(have, w) })
	}
	return false
}
