package awsjwt

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// MaxTokenBytes bounds the token ParseClaims reads: STS's tokens are a few kilobytes, even with
// 50 tags.
const MaxTokenBytes = 32 << 10

// ClaimNamespace is the claim under which STS puts the AWS context of the caller.
const ClaimNamespace = "https://sts.amazonaws.com/"

// Claims are what a proxy needs of a web identity token, read without checking the signature:
// the issuer to check it against, and when it expires. jwtcheck verifies it.
type Claims struct {
	Issuer   string
	Subject  string // the role ARN
	Audience []string
	Expiry   time.Time
	Account  string // aws_account under ClaimNamespace, if present
}

// ErrNotJWT means a token is not a compact JWT with the claims STS always sets (iss, exp).
var ErrNotJWT = errors.New("awsjwt: not a web identity token")

// ParseClaims reads the claims of token without verifying it. It refuses tokens over
// MaxTokenBytes and tokens without iss or exp.
func ParseClaims(token string) (Claims, error) {
	if len(token) > MaxTokenBytes {
		return Claims{}, fmt.Errorf("%w: %d bytes, more than %d", ErrNotJWT, len(token), MaxTokenBytes)
	}
	if strings.Count(token, ".") != 2 {
		return Claims{}, fmt.Errorf("%w: not three dot-separated parts", ErrNotJWT)
	}
	mc := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(token, mc); err != nil {
		return Claims{}, fmt.Errorf("%w: %w", ErrNotJWT, err)
	}
	var c Claims
	c.Issuer, _ = mc.GetIssuer()
	c.Subject, _ = mc.GetSubject()
	aud, _ := mc.GetAudience()
	c.Audience = []string(aud)
	exp, err := mc.GetExpirationTime()
	if err != nil || exp == nil {
		return Claims{}, fmt.Errorf("%w: no numeric exp", ErrNotJWT)
	}
	if c.Issuer == "" {
		return Claims{}, fmt.Errorf("%w: no iss", ErrNotJWT)
	}
	c.Expiry = exp.Time
	if ns, ok := mc[ClaimNamespace].(map[string]any); ok {
		c.Account, _ = ns["aws_account"].(string)
	}
	return c, nil
}

// DiscoveryURL returns the OpenID discovery URL of issuer: the discoveryUrl a runtime's
// customJWTAuthorizer needs to trust its tokens.
func DiscoveryURL(issuer string) string {
	return strings.TrimSuffix(issuer, "/") + DiscoveryPath
}
