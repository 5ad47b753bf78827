// Package jwtcheck validates a bearer token the way the inbound JWT
// authorizer (customJWTAuthorizer) of Amazon Bedrock AgentCore Runtime would,
// before the token is sent, and explains every failure with its fix.
//
// A [Checker] verifies the signature against the key set published at the
// identity provider's jwks_uri, which it loads and refreshes in the
// background, then checks iss, exp and nbf, and finally the authorizer's
// [Rules]: allowedClients, allowedAudience, allowedScopes and customClaims.
// [CheckClaims] applies the claim checks alone, without a signature.
//
// [New] never waits for the key set and never fails because jwks_uri is
// unreachable: [Checker.Ready] reports the problem while fetches are retried
// with backoff, and [Checker.WaitReady] waits for the first load. An unknown
// kid causes one refresh, at most once a minute, in case the provider rotated
// its keys.
//
// Every failure is a [*RuleError] that wraps one of the sentinel errors, such
// as [ErrClientID], so callers can branch with [errors.Is]; its message says
// what AgentCore would object to and what to change. The classic case, an ID
// token sent to a runtime that allows clients, reads:
//
//	jwtcheck: token is an ID token (token_use=id, aud=[my-client], no client_id): the runtime allows clients [my-client] (allowedClients): request an access token with the client_credentials grant (...)
//
// The package never logs or returns a token; [Fingerprint] names one.
package jwtcheck

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Sentinel errors. Every failure of [Checker.Check] and [CheckClaims] is a
// [*RuleError] wrapping one of them.
var (
	// ErrMalformed reports a token that is not a JWT, or whose header, claims
	// or registered claims (exp, aud, ...) cannot be decoded. AgentCore answers
	// such a token with 403 "Failed to parse token".
	ErrMalformed = errors.New("jwtcheck: malformed token")
	// ErrSignature reports a signature that does not verify with the key set,
	// or a signing algorithm that is not accepted.
	ErrSignature = errors.New("jwtcheck: invalid signature")
	// ErrUnknownKey reports a token whose kid is not in the key set, even after
	// one (rate-limited) refresh of the key set.
	ErrUnknownKey = errors.New("jwtcheck: unknown signing key")
	// ErrKeySetNotLoaded reports that no key set has been loaded from jwks_uri
	// yet, so no signature can be verified.
	ErrKeySetNotLoaded = errors.New("jwtcheck: key set not loaded")
	// ErrIssuer reports an iss claim other than the discovery document's issuer.
	ErrIssuer = errors.New("jwtcheck: issuer mismatch")
	// ErrExpired reports a token past its exp (plus the leeway).
	ErrExpired = errors.New("jwtcheck: token expired")
	// ErrNotYetValid reports a token before its nbf (minus the leeway).
	ErrNotYetValid = errors.New("jwtcheck: token not valid yet")
	// ErrClientID reports a client_id claim missing from allowedClients.
	ErrClientID = errors.New("jwtcheck: client_id not allowed")
	// ErrIDToken reports an ID token (no client_id claim) sent to a runtime
	// that checks allowedClients. It is a kind of client_id mismatch:
	// errors.Is(ErrIDToken, ErrClientID) is true.
	ErrIDToken error = &subError{msg: "jwtcheck: ID token instead of an access token", parent: ErrClientID}
	// ErrAudience reports an aud claim missing or not in allowedAudience.
	ErrAudience = errors.New("jwtcheck: audience not allowed")
	// ErrScope reports a token none of whose scopes is in allowedScopes.
	ErrScope = errors.New("jwtcheck: scope not allowed")
	// ErrCustomClaim reports a claim that fails a customClaims rule.
	ErrCustomClaim = errors.New("jwtcheck: custom claim mismatch")

	// ErrInvalidRules reports [Rules] that AgentCore would not accept.
	ErrInvalidRules = errors.New("jwtcheck: invalid rules")
	// ErrInvalidConfig reports a [Config] that [New] cannot start from.
	ErrInvalidConfig = errors.New("jwtcheck: invalid config")
)

// subError is a sentinel that is also a kind of another sentinel.
type subError struct {
	msg    string
	parent error
}

func (e *subError) Error() string { return e.msg }
func (e *subError) Unwrap() error { return e.parent }

// RuleError explains why a token would be rejected. Its Error method reads
// "jwtcheck: " + Problem + ": " + Fix.
type RuleError struct {
	Err     error  // the sentinel, e.g. ErrClientID
	Claim   string // the claim or header field at fault ("client_id", "aud", "kid", a custom claim name), or ""
	Got     string // the token's value, "" if it has none
	Want    string // what the rule accepts
	Problem string // what is wrong, in words, naming the rule
	// Fix says what to change; "" when that depends on the identity
	// provider (a token without aud): the reason catalogue of package
	// agentcore, found by Reason, holds it.
	Fix string
}

// Error returns the problem and its fix.
func (e *RuleError) Error() string {
	if e.Fix == "" {
		return "jwtcheck: " + e.Problem
	}
	return "jwtcheck: " + e.Problem + ": " + e.Fix
}

// Unwrap returns the sentinel, so that errors.Is(err, ErrScope) works.
func (e *RuleError) Unwrap() error { return e.Err }

// Reason returns the reason code of the failure, the code of
// agentcore-proxy's reason catalogue (package agentcore) that holds its
// fix: "claim_client_id", "id_token", "claim_aud", "claim_iss",
// "claim_scope", "claim_custom", "expired_token", "token_not_yet_valid",
// "invalid_token" (signature or key), "unparseable_token" or
// "jwks_unavailable"; "" for an Err that is none of the sentinels.
func (e *RuleError) Reason() string {
	for _, r := range reasons {
		if errors.Is(e.Err, r.err) {
			return r.code
		}
	}
	return ""
}

// reasons map sentinels to reason codes, the most specific first
// (ErrIDToken is also ErrClientID).
var reasons = []struct {
	err  error
	code string
}{
	{ErrIDToken, "id_token"},
	{ErrClientID, "claim_client_id"},
	{ErrAudience, "claim_aud"},
	{ErrIssuer, "claim_iss"},
	{ErrScope, "claim_scope"},
	{ErrCustomClaim, "claim_custom"},
	{ErrExpired, "expired_token"},
	{ErrNotYetValid, "token_not_yet_valid"},
	{ErrSignature, "invalid_token"},
	{ErrUnknownKey, "invalid_token"},
	{ErrMalformed, "unparseable_token"},
	{ErrKeySetNotLoaded, "jwks_unavailable"},
}

// Custom claim value types and operators, as AgentCore names them.
const (
	TypeString      = "STRING"
	TypeStringArray = "STRING_ARRAY"

	OpEquals      = "EQUALS"       // STRING claim equals the one value
	OpContains    = "CONTAINS"     // STRING_ARRAY claim contains the one value
	OpContainsAny = "CONTAINS_ANY" // STRING_ARRAY claim contains at least one of the values
)

// CustomClaim is one customClaims rule of the authorizer.
type CustomClaim struct {
	Name     string   // claim name
	Type     string   // "STRING" or "STRING_ARRAY"
	Operator string   // "EQUALS", "CONTAINS", "CONTAINS_ANY"
	Values   []string // EQUALS/CONTAINS take one value; CONTAINS_ANY takes one or more
}

// describe renders what the rule wants of the claim, e.g. `contains one of ["a" "b"]`.
func (cc CustomClaim) describe() string {
	switch cc.Operator {
	case OpEquals:
		return fmt.Sprintf("equals %q", first(cc.Values))
	case OpContains:
		return fmt.Sprintf("contains %q", first(cc.Values))
	default:
		return fmt.Sprintf("contains one of %q", cc.Values)
	}
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

// Rules mirror customJWTAuthorizer; an empty list means the rule is not set;
// all set rules must hold. The issuer, signature and expiry are always
// checked.
type Rules struct {
	AllowedClients  []string      // the token's client_id must be one of them
	AllowedAudience []string      // one value of the token's aud must be one of them
	AllowedScopes   []string      // one scope of the token's scope claim must be one of them
	CustomClaims    []CustomClaim // each must hold
}

// Validate reports, all at once, the problems AgentCore would refuse in r:
// empty values, and customClaims rules with an unknown type or operator, an
// operator that does not fit the type (EQUALS is for STRING; CONTAINS and
// CONTAINS_ANY are for STRING_ARRAY), or the wrong number of values. Each
// problem wraps [ErrInvalidRules] and names the rule.
func (r Rules) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidRules}, args...)...))
	}
	for _, l := range []struct {
		name   string
		values []string
	}{{"allowedClients", r.AllowedClients}, {"allowedAudience", r.AllowedAudience}, {"allowedScopes", r.AllowedScopes}} {
		for i, v := range l.values {
			if strings.TrimSpace(v) == "" {
				bad("%s[%d] is empty: remove it or give a value", l.name, i)
			}
		}
	}
	for i, cc := range r.CustomClaims {
		at := fmt.Sprintf("customClaims[%d] (%q)", i, cc.Name)
		switch {
		case cc.Name == "":
			bad("customClaims[%d]: the claim name is empty", i)
		case len(cc.Name) > 255 || strings.ContainsFunc(cc.Name, badNameRune):
			bad("%s: a claim name is 1 to 255 of A-Z a-z 0-9 _ . - : /", at)
		}
		typeOK := cc.Type == TypeString || cc.Type == TypeStringArray
		if !typeOK {
			bad("%s: type %q: want STRING or STRING_ARRAY", at, cc.Type)
		}
		switch cc.Operator {
		case OpEquals:
			if cc.Type == TypeStringArray {
				bad("%s: operator EQUALS is for a STRING claim: use CONTAINS or CONTAINS_ANY for STRING_ARRAY", at)
			}
		case OpContains, OpContainsAny:
			if cc.Type == TypeString {
				bad("%s: operator %s is for a STRING_ARRAY claim: use EQUALS for STRING", at, cc.Operator)
			}
		default:
			bad("%s: operator %q: want EQUALS, CONTAINS or CONTAINS_ANY", at, cc.Operator)
		}
		switch {
		case cc.Operator == OpContainsAny && len(cc.Values) == 0:
			bad("%s: CONTAINS_ANY needs one or more values", at)
		case (cc.Operator == OpEquals || cc.Operator == OpContains) && len(cc.Values) != 1:
			bad("%s: %s takes exactly one value, got %d", at, cc.Operator, len(cc.Values))
		}
		if slices.Contains(cc.Values, "") {
			bad("%s: a value is empty", at)
		}
	}
	return errors.Join(errs...)
}

// badNameRune reports a rune AgentCore does not allow in a claim name.
func badNameRune(r rune) bool {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		return false
	}
	return !strings.ContainsRune("_.-:/", r)
}

// String renders the rules the way AgentCore's console names them, e.g.
// "(allowedClients [abc], 1 custom claim rule(s))".
func (r Rules) String() string {
	var parts []string
	add := func(name string, v []string) {
		if len(v) > 0 {
			parts = append(parts, fmt.Sprintf("%s %v", name, v))
		}
	}
	add("allowedClients", r.AllowedClients)
	add("allowedAudience", r.AllowedAudience)
	add("allowedScopes", r.AllowedScopes)
	if n := len(r.CustomClaims); n > 0 {
		parts = append(parts, fmt.Sprintf("%d custom claim rule(s)", n))
	}
	if len(parts) == 0 {
		return "(issuer, signature and expiry only)"
	}
	return "(" + strings.Join(parts, ", ") + ")"
}
