package emulator

import "github.com/golang-jwt/jwt/v5"

// TrustedIssuer is another OpenID provider the runtime's authorizer trusts instead of the emulated
// Cognito pool, for tests against real providers (the discoveryUrl of a customJWTAuthorizer may name
// any). Tokens must be signed with one of Algorithms.
type TrustedIssuer struct {
	// Issuer is the provider's issuer; tokens' iss must equal it.
	Issuer string
	// Keyfunc returns the key that verifies a token, e.g. the Keyfunc of
	// keyfunc.NewDefaultCtx(ctx, []string{jwksURI}).
	Keyfunc jwt.Keyfunc
	// Algorithms are the signing algorithms accepted; default RS256 (Cognito's). STS web identity
	// tokens may be ES384 (AWS.WebIdentityTrust).
	Algorithms []string
}

// authorizerAlgorithms returns the signing algorithms the authorizer accepts.
func (e *Emulator) authorizerAlgorithms() []string {
	if t := e.cfg.TrustedIssuer; t != nil && len(t.Algorithms) > 0 {
		return t.Algorithms
	}
	return []string{"RS256"}
}

// authorizerIssuer returns the issuer the authorizer trusts.
func (e *Emulator) authorizerIssuer() string {
	if t := e.cfg.TrustedIssuer; t != nil {
		return t.Issuer
	}
	return e.Issuer()
}

// verificationKey returns the key to check tok's signature with, and whether there is one.
func (e *Emulator) verificationKey(tok *jwt.Token, kid string) (any, bool) {
	if t := e.cfg.TrustedIssuer; t != nil {
		key, err := t.Keyfunc(tok)
		return key, err == nil
	}
	return e.keys.public(kid)
}
