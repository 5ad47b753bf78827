package emulator

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// bearerToken returns the credentials of a Bearer Authorization header, or the whole header when it
// uses another scheme, trimmed.
func bearerToken(header string) string {
	scheme, cred, ok := strings.Cut(strings.TrimSpace(header), " ")
	if ok && strings.EqualFold(scheme, "Bearer") {
		return strings.TrimSpace(cred)
	}
	if strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(header)
}

// authorize applies the customJWTAuthorizer to an Authorization header, in the order AgentCore would:
// presence, parse, signature, expiry, then issuer and the configured claim rules. It returns the token's
// exp when the token could be parsed.
func (e *Emulator) authorize(header string, now time.Time) (time.Time, *rejection) {
	raw := bearerToken(header)
	if raw == "" {
		return time.Time{}, jsonRPCUnauthorized(ReasonMissingToken, "Missing Authentication Token")
	}
	parseFailed := &rejection{reason: ReasonUnparseableToken, status: http.StatusForbidden, errorType: "AccessDeniedException",
		body: map[string]string{"message": "OAuth authorization failed: Failed to parse token"}}

	claims := jwt.MapClaims{}
	tok, _, err := jwt.NewParser().ParseUnverified(raw, claims)
	if err != nil {
		return time.Time{}, parseFailed
	}
	// Cognito always sets exp; a token without a numeric one is treated as unparseable.
	exp, err := numericDate(claims["exp"])
	if err != nil {
		return time.Time{}, parseFailed
	}

	// The body and status for a bad signature or unknown kid are unconfirmed: AgentCore's documentation
	// and field reports cover neither, so we answer like the other authorizer failures (401, JSON-RPC
	// -32001), which is what the MCP authorization spec asks for an invalid token.
	kid, _ := tok.Header["kid"].(string)
	pub, ok := e.verificationKey(tok, kid)
	if !ok {
		return exp, jsonRPCUnauthorized(ReasonBadSignature, "Invalid token signature")
	}
	_, err = jwt.NewParser(jwt.WithValidMethods(e.authorizerAlgorithms()), jwt.WithoutClaimsValidation()).
		Parse(raw, func(*jwt.Token) (any, error) { return pub, nil })
	if err != nil {
		return exp, jsonRPCUnauthorized(ReasonBadSignature, "Invalid token signature")
	}

	// Expiry: AgentCore's answer is unconfirmed; the MCP spec requires 401 for an expired token. No
	// leeway: a token whose exp is now or past is expired.
	if !now.Before(exp) {
		return exp, jsonRPCUnauthorized(ReasonExpiredToken, "Token has expired")
	}

	if iss, _ := claims["iss"].(string); iss != e.authorizerIssuer() {
		return exp, claimMismatch(ReasonIssMismatch, "iss")
	}
	a := e.authorizer()
	if len(a.AllowedClients) > 0 {
		if cid, _ := claims["client_id"].(string); !slices.Contains(a.AllowedClients, cid) {
			return exp, claimMismatch(ReasonClientIDMismatch, "client_id")
		}
	}
	if len(a.AllowedAudience) > 0 && !anyIn(stringList(claims["aud"]), a.AllowedAudience) {
		return exp, claimMismatch(ReasonAudMismatch, "aud")
	}
	if len(a.AllowedScopes) > 0 {
		scope, _ := claims["scope"].(string)
		if !anyIn(strings.Fields(scope), a.AllowedScopes) {
			return exp, claimMismatch(ReasonScopeMismatch, "scope")
		}
	}
	return exp, nil
}

// errNotNumericDate reports an exp claim that is not a JSON number.
var errNotNumericDate = errors.New("emulator: claim is not a NumericDate")

// numericDate converts a decoded JSON number of seconds since the epoch to a time.
func numericDate(v any) (time.Time, error) {
	f, ok := v.(float64)
	if !ok || math.IsNaN(f) || math.IsInf(f, 0) {
		return time.Time{}, fmt.Errorf("%w: %v", errNotNumericDate, v)
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), nil
}

// stringList reads a claim that may be a string or an array of strings (aud).
func stringList(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		out := make([]string, 0, len(v))
		for _, x := range v {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func anyIn(have, allowed []string) bool {
	return slices.ContainsFunc(have, func(s string) bool { return slices.Contains(allowed, s) })
}
