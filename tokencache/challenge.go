package tokencache

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// ErrChallenge wraps every error from [ParseChallenges]: the header does not
// follow RFC 9110 §11.6.1.
var ErrChallenge = errors.New("tokencache: malformed WWW-Authenticate header")

// Challenge is one authentication challenge of a WWW-Authenticate header
// (RFC 9110 §11.6.1), such as
//
//	Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource", scope="read"
type Challenge struct {
	// Scheme is the auth scheme as sent, such as "Bearer"; compare it
	// case-insensitively.
	Scheme string
	// Token68 is the token68 form of the credentials, if the challenge has
	// one instead of parameters.
	Token68 string
	// Params holds the auth parameters, names in lower case, values
	// unquoted.
	Params map[string]string
}

// String formats c as a WWW-Authenticate challenge, quoting every parameter
// value. ParseChallenges(c.String()) returns c again.
func (c Challenge) String() string {
	var b strings.Builder
	b.WriteString(c.Scheme)
	if c.Token68 != "" {
		b.WriteString(" " + c.Token68)
		return b.String()
	}
	for i, name := range slices.Sorted(maps.Keys(c.Params)) {
		if i == 0 {
			b.WriteByte(' ')
		} else {
			b.WriteString(", ")
		}
		b.WriteString(name + `="`)
		v := c.Params[name]
		for i := range len(v) {
			if v[i] == '"' || v[i] == '\\' {
				b.WriteByte('\\')
			}
			b.WriteByte(v[i])
		}
		b.WriteByte('"')
	}
	return b.String()
}

// BearerChallenge is what an OAuth 2.0 protected resource says in its Bearer
// challenge (RFC 6750 §3, RFC 9728 §5.1).
type BearerChallenge struct {
	// ResourceMetadata is the URL of the protected resource metadata
	// (RFC 9728), or "".
	ResourceMetadata string
	// Error is the error code, such as "invalid_token" or
	// "insufficient_scope", or "".
	Error string
	// ErrorDescription is the human-readable error text, or "".
	ErrorDescription string
	// Scope lists the scopes the resource asks for (space-separated in the
	// header), or nil.
	Scope []string
	// Realm is the protection realm, or "".
	Realm string
}

// ParseBearerChallenge finds the Bearer challenge among the values of one
// or more WWW-Authenticate headers (resp.Header.Values("WWW-Authenticate")).
// It reports false if no value holds a well-formed Bearer challenge with
// parameters or none (RFC 6750 §3 has no token68 form);
// malformed values are skipped, so that one bad challenge from a
// middlebox does not hide a good one.
func ParseBearerChallenge(values []string) (BearerChallenge, bool) {
	for _, v := range values {
		cs, _ := ParseChallenges(v)
		for _, c := range cs {
			if !strings.EqualFold(c.Scheme, "Bearer") || c.Token68 != "" {
				continue
			}
			return BearerChallenge{
				ResourceMetadata: c.Params["resource_metadata"],
				Error:            c.Params["error"],
				ErrorDescription: c.Params["error_description"],
				Scope:            strings.Fields(c.Params["scope"]),
				Realm:            c.Params["realm"],
			}, true
		}
	}
	return BearerChallenge{}, false
}

// ParseChallenges parses the value of one WWW-Authenticate header into its
// challenges (RFC 9110 §11.6.1): a comma-separated list of an auth scheme
// followed by a token68 or by comma-separated name=value parameters whose
// values are tokens or quoted strings. Parameter names are lower-cased. A
// parameter repeated within one challenge is an error, since the two values
// could be read either way. On error, ParseChallenges returns the challenges
// that were complete before the fault, and an error wrapping
// [ErrChallenge] that says where it is.
func ParseChallenges(header string) ([]Challenge, error) {
	p := challengeParser{s: header}
	var out []Challenge
	for {
		p.skipListSeparators()
		if p.done() {
			return out, nil
		}
		c, err := p.challenge()
		if err != nil {
			return out, err
		}
		out = append(out, c)
	}
}

// challengeParser walks one header value.
type challengeParser struct {
	s string
	i int
}

func (p *challengeParser) done() bool { return p.i >= len(p.s) }

func (p *challengeParser) fail(format string, args ...any) error {
	return fmt.Errorf("%w: at byte %d: "+format, append([]any{ErrChallenge, p.i}, args...)...)
}

// skipWS skips optional whitespace (OWS: spaces and tabs).
func (p *challengeParser) skipWS() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

// skipListSeparators skips whitespace and empty list elements (RFC 9110
// §5.6.1 asks recipients to accept them).
func (p *challengeParser) skipListSeparators() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == ',') {
		p.i++
	}
}

// token reads an RFC 9110 token, or returns "" if none starts here.
func (p *challengeParser) token() string {
	start := p.i
	for p.i < len(p.s) && isTChar(p.s[p.i]) {
		p.i++
	}
	return p.s[start:p.i]
}

// challenge reads one challenge starting at an auth scheme.
func (p *challengeParser) challenge() (Challenge, error) {
	scheme := p.token()
	if scheme == "" {
		return Challenge{}, p.fail("want an auth scheme, found %q", p.s[p.i])
	}
	c := Challenge{Scheme: scheme}
	if p.done() || p.s[p.i] == ',' {
		return c, nil
	}
	if p.s[p.i] != ' ' && p.s[p.i] != '\t' {
		return Challenge{}, p.fail("want a space after auth scheme %q, found %q", scheme, p.s[p.i])
	}
	p.skipWS()
	if p.done() || p.s[p.i] == ',' {
		return c, nil
	}
	if t, ok := p.token68(); ok {
		c.Token68 = t
		return c, nil
	}
	c.Params = map[string]string{}
	for {
		name, value, err := p.param()
		if err != nil {
			return Challenge{}, err
		}
		name = strings.ToLower(name)
		if _, dup := c.Params[name]; dup {
			return Challenge{}, p.fail("parameter %q repeated in the %s challenge", name, scheme)
		}
		c.Params[name] = value
		// After a parameter: end, or a comma and then either another
		// parameter of this challenge or the next challenge.
		p.skipWS()
		if p.done() {
			return c, nil
		}
		if p.s[p.i] != ',' {
			return Challenge{}, p.fail("want a comma after parameter %q, found %q", name, p.s[p.i])
		}
		p.skipListSeparators()
		if p.done() || !p.atParam() {
			return c, nil
		}
	}
}

// atParam reports whether a name=value parameter (rather than a new
// challenge's auth scheme) starts here.
func (p *challengeParser) atParam() bool {
	save := p.i
	defer func() { p.i = save }()
	if p.token() == "" {
		return false
	}
	p.skipWS()
	return !p.done() && p.s[p.i] == '='
}

// token68 reads a token68 if one, and nothing else, stands before the end or
// the next comma; otherwise it leaves the position alone.
func (p *challengeParser) token68() (string, bool) {
	start := p.i
	for p.i < len(p.s) && isToken68Char(p.s[p.i]) {
		p.i++
	}
	if p.i == start {
		return "", false
	}
	for p.i < len(p.s) && p.s[p.i] == '=' {
		p.i++
	}
	end := p.i
	p.skipWS()
	if p.done() || p.s[p.i] == ',' {
		return p.s[start:end], true
	}
	p.i = start
	return "", false
}

// param reads name BWS "=" BWS ( token / quoted-string ).
func (p *challengeParser) param() (name, value string, err error) {
	name = p.token()
	if name == "" {
		return "", "", p.fail("want a parameter name, found %q", p.s[p.i])
	}
	p.skipWS()
	if p.done() || p.s[p.i] != '=' {
		return "", "", p.fail("want = after parameter name %q", name)
	}
	p.i++
	p.skipWS()
	if p.done() {
		return "", "", p.fail("parameter %q has no value", name)
	}
	if p.s[p.i] != '"' {
		value = p.token()
		if value == "" {
			return "", "", p.fail("parameter %q: want a token or a quoted string, found %q", name, p.s[p.i])
		}
		return name, value, nil
	}
	p.i++ // opening quote
	var b strings.Builder
	for p.i < len(p.s) {
		ch := p.s[p.i]
		switch {
		case ch == '"':
			p.i++
			return name, b.String(), nil
		case ch == '\\':
			if p.i+1 >= len(p.s) {
				return "", "", p.fail("parameter %q: backslash at the end of the header", name)
			}
			p.i++
			ch = p.s[p.i]
			if !isQuotedPairChar(ch) {
				return "", "", p.fail("parameter %q: control character 0x%02x in a quoted pair", name, ch)
			}
		case !isQDText(ch):
			return "", "", p.fail("parameter %q: control character 0x%02x in a quoted string", name, ch)
		}
		b.WriteByte(ch)
		p.i++
	}
	return "", "", p.fail("parameter %q: quoted string not closed", name)
}

// isTChar reports whether ch may appear in an RFC 9110 token.
func isTChar(ch byte) bool {
	switch {
	case 'a' <= ch && ch <= 'z', 'A' <= ch && ch <= 'Z', '0' <= ch && ch <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", ch) >= 0
}

// isToken68Char reports whether ch may appear in a token68 before its
// trailing equals signs.
func isToken68Char(ch byte) bool {
	switch {
	case 'a' <= ch && ch <= 'z', 'A' <= ch && ch <= 'Z', '0' <= ch && ch <= '9':
		return true
	}
	return strings.IndexByte("-._~+/", ch) >= 0
}

// isQDText reports whether ch may appear unescaped in a quoted string:
// HTAB, SP, visible ASCII but '"' and '\', and obs-text.
func isQDText(ch byte) bool {
	return ch == '\t' || ch == ' ' || (0x21 <= ch && ch != '"' && ch != '\\' && ch != 0x7f)
}

// isQuotedPairChar reports whether ch may follow a backslash in a quoted
// string.
func isQuotedPairChar(ch byte) bool {
	return ch == '\t' || ch == ' ' || (0x21 <= ch && ch != 0x7f)
}
