package jwtcheck

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Claims are a token's claims, decoded. Fields a token lacks are zero.
type Claims struct {
	Issuer, Subject, ClientID, TokenUse, KeyID, Algorithm string // KeyID and Algorithm come from the header
	Audience                                              []string
	Scopes                                                []string // split from the space-separated scope claim
	ExpiresAt, IssuedAt, NotBefore                        time.Time
	Raw                                                   map[string]any // every claim, for custom claims and display
}

// Decode decodes token without verifying it, for display. The error, a
// [*RuleError] wrapping [ErrMalformed], reports a token that is not a JWT or a
// registered claim of the wrong type (exp as a string, say); in the latter
// case header and claims are still returned, with that claim left zero.
func Decode(token string) (header map[string]any, claims *Claims, err error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, nil, malformed(token, fmt.Sprintf("not a JWT (want 3 dot-separated parts, got %d)", len(parts)))
	}
	header, err = decodeSegment(token, "header", parts[0])
	if err != nil {
		return nil, nil, err
	}
	payload, err := decodeSegment(token, "claims", parts[1])
	if err != nil {
		return header, nil, err
	}
	claims, err = claimsFrom(header, payload)
	return header, claims, err
}

// decodeSegment decodes one base64url JSON object of a JWT.
func decodeSegment(token, name, seg string) (map[string]any, error) {
	b, err := jwt.NewParser().DecodeSegment(seg)
	if err != nil {
		return nil, malformed(token, fmt.Sprintf("the %s are not base64url", name))
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil || m == nil {
		return nil, malformed(token, fmt.Sprintf("the %s are not a JSON object", name))
	}
	return m, nil
}

// malformed explains a token that cannot be parsed.
func malformed(token, problem string) *RuleError {
	fix := "pass the access_token from the token endpoint unchanged (AgentCore answers 403 'Failed to parse token')"
	switch {
	case strings.TrimSpace(token) == "":
		problem = "the token is empty"
	case len(token) > 7 && strings.EqualFold(token[:7], "bearer "):
		fix = `remove the "Bearer " prefix: pass the token alone`
	case strings.TrimSpace(token) != token:
		fix = "remove the spaces or newline around the token"
	}
	return &RuleError{Err: ErrMalformed, Problem: "token cannot be parsed: " + problem, Fix: fix}
}

// claimsFrom builds Claims from a decoded header and payload. Claims of the
// wrong type are left zero and reported as ErrMalformed (the first one).
func claimsFrom(header, raw map[string]any) (*Claims, error) {
	c := &Claims{Raw: raw}
	c.KeyID, _ = header["kid"].(string)
	c.Algorithm, _ = header["alg"].(string)
	var bad *RuleError
	wrongType := func(name, want string) {
		if bad == nil {
			bad = &RuleError{Err: ErrMalformed, Claim: name, Got: jsonText(raw[name]), Want: want,
				Problem: fmt.Sprintf("token cannot be parsed: claim %s is %s, not %s", name, jsonText(raw[name]), want),
				Fix:     "issue the token with standard JWT claims (AgentCore answers 403 'Failed to parse token')"}
		}
	}
	str := func(name string) string {
		v, ok := raw[name]
		if !ok {
			return ""
		}
		s, ok := v.(string)
		if !ok {
			wrongType(name, "a string")
		}
		return s
	}
	c.Issuer, c.Subject = str("iss"), str("sub")
	c.ClientID, c.TokenUse = str("client_id"), str("token_use")
	c.Scopes = strings.Fields(str("scope"))
	switch aud := raw["aud"].(type) {
	case nil:
	case string:
		c.Audience = []string{aud}
	case []any:
		for _, a := range aud {
			s, ok := a.(string)
			if !ok {
				wrongType("aud", "a string or an array of strings")
				c.Audience = nil
				break
			}
			c.Audience = append(c.Audience, s)
		}
	default:
		wrongType("aud", "a string or an array of strings")
	}
	date := func(name string) time.Time {
		t, ok := numericDate(raw[name])
		if !ok {
			wrongType(name, "a NumericDate (seconds since 1970, up to year 9999)")
		}
		return t
	}
	c.ExpiresAt, c.IssuedAt, c.NotBefore = date("exp"), date("iat"), date("nbf")
	if bad != nil {
		return c, bad
	}
	return c, nil
}

// maxNumericDate is 9999-12-31T23:59:59Z. A larger date cannot be a real
// expiry, and past int64 nanoseconds it would wrap into the past.
const maxNumericDate = 253402300799

// numericDate converts a decoded NumericDate; nil (absent) is the zero time.
// Like golang-jwt, it drops fractions of a second.
func numericDate(v any) (time.Time, bool) {
	var f float64
	switch v := v.(type) {
	case nil:
		return time.Time{}, true
	case float64:
		f = v
	case json.Number:
		var err error
		if f, err = v.Float64(); err != nil {
			return time.Time{}, false
		}
	default:
		return time.Time{}, false
	}
	if math.IsNaN(f) || f < 0 || f > maxNumericDate {
		return time.Time{}, false
	}
	return time.Unix(int64(f), 0), true
}

// jsonText renders a claim value for a message: strings quoted, absent as "absent".
func jsonText(v any) string {
	if v == nil {
		return "absent"
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	const max = 200
	if len(b) > max {
		return string(b[:max]) + "…"
	}
	return string(b)
}

// Summary describes the claims that matter to AgentCore's authorizer on one
// line, e.g. "client_id=abc token_use=access scope=a/b,c/d iss=https://…
// exp=2026-01-02T15:04:05Z (in 59m58s)". It never contains the token.
func (c *Claims) Summary() string { return c.summary(time.Now()) }

func (c *Claims) summary(now time.Time) string {
	var parts []string
	add := func(k, v string) {
		if v != "" {
			parts = append(parts, k+"="+v)
		}
	}
	add("client_id", c.ClientID)
	if c.ClientID == "" {
		add("sub", c.Subject)
	}
	add("aud", strings.Join(c.Audience, ","))
	add("token_use", c.TokenUse)
	add("scope", strings.Join(c.Scopes, ","))
	add("iss", c.Issuer)
	if !c.ExpiresAt.IsZero() {
		left := c.ExpiresAt.Sub(now).Round(time.Second)
		when := "in " + left.String()
		if left <= 0 {
			when = "expired " + (-left).String() + " ago"
		}
		add("exp", c.ExpiresAt.UTC().Format(time.RFC3339)+" ("+when+")")
	}
	if len(parts) == 0 {
		return "no claims"
	}
	return strings.Join(parts, " ")
}
