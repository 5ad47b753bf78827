package emulator

import "github.com/golang-jwt/jwt/v5"

// TrustedIssuer is another OpenID provider the runtime's authorizer trusts instead of the emulated
// Cognito pool, for tests against real providers (the discoveryUrl of a customJWTAuthorizer may name
// any). Tokens must still be RS256, the only algorithm the emulated authorizer accepts.
type TrustedIssuer struct {
	// Issuer is the provider's issuer; tokens' iss must equal it.
	Issuer string
	// Keyfunc returns the key that verifies a token, e.g. the Keyfunc of
	// keyfunc.NewDefaultCtx(ctx, []string{jwksURI}).
	Keyfunc jwt.Keyfunc
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
