package discovery

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// ErrChallenge wraps every error from [ParseChallenges]: the header does not
// follow RFC 9110 §11.6.1, or is longer than [MaxChallengeHeader].
var ErrChallenge = errors.New("discovery: malformed WWW-Authenticate header")

// MaxChallengeHeader is the longest WWW-Authenticate value [ParseChallenges]
// reads. Real challenges are a few hundred bytes (AgentCore's, with its
// escaped runtime ARN, about 250).
const MaxChallengeHeader = 16 << 10

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
// or more WWW-Authenticate headers (resp.Header.Values("WWW-Authenticate")):
// the first well-formed challenge with scheme Bearer (any case) and
// parameters or none (RFC 6750 §3 has no token68 form). It reports false if
// there is none. Malformed challenges are skipped as [ParseChallenges]
// skips them, so that one bad challenge from a middlebox does not hide a
// good one.
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
// values are tokens or quoted strings. Parameter names are lower-cased;
// schemes keep their case.
//
// It is the one parser of challenges in agentcore-proxy, and it is lenient
// per challenge, strict within one: a challenge with a fault (a quoted
// string not closed, a control character, a missing comma, a parameter
// without value, a parameter repeated, which could be read either way) is
// skipped whole, and parsing resumes at the next list element that starts
// a challenge (an auth scheme not followed by "="), so that one bad
// challenge never hides the others. ParseChallenges returns every
// well-formed challenge, in order, and an error wrapping [ErrChallenge] for
// each one skipped, saying where. A value longer than [MaxChallengeHeader]
// is not read at all: nil and an error.
func ParseChallenges(header string) ([]Challenge, error) {
	if len(header) > MaxChallengeHeader {
		return nil, fmt.Errorf("%w: %d bytes, longer than %d", ErrChallenge, len(header), MaxChallengeHeader)
	}
	p := challengeParser{s: header}
	var out []Challenge
	var errs []error
	for {
		p.skipListSeparators()
		if p.done() {
			break
		}
		c, err := p.challenge()
		if err != nil {
			errs = append(errs, err)
			p.resync()
			continue
		}
		out = append(out, c)
	}
	const maxErrs = 4
	if len(errs) > maxErrs {
		errs = append(errs[:maxErrs], fmt.Errorf("%w: %d more malformed challenges", ErrChallenge, len(errs)-maxErrs))
	}
	return out, errors.Join(errs...)
}

// challengeParser walks one header value.
type challengeParser struct {
	s string
	i int
	// inQuote is set when a fault is found inside a quoted string, so that
	// resync skips the rest of that string.
	inQuote bool
}

func (p *challengeParser) done() bool { return p.i >= len(p.s) }

func (p *challengeParser) fail(format string, args ...any) error {
	return fmt.Errorf("%w: at byte %d: "+format, append([]any{ErrChallenge, p.i}, args...)...)
}

// resync moves past a malformed challenge to where the next one starts: a
// comma outside quoted strings, list separators, then an auth scheme. At
// the end of the header it stops there.
func (p *challengeParser) resync() {
	quoted := p.inQuote
	p.inQuote = false
	for !p.done() {
		ch := p.s[p.i]
		switch {
		case quoted && ch == '\\':
			p.i += 2
			continue
		case ch == '"':
			quoted = !quoted
		case ch == ',' && !quoted:
			p.skipListSeparators()
			if p.done() || p.atScheme() {
				return
			}
			continue
		}
		p.i++
	}
	p.i = len(p.s)
}

// atScheme reports whether an auth scheme starts here: a token followed
// by the end, a comma, or whitespace and then no "=" (which would make it
// a parameter name).
func (p *challengeParser) atScheme() bool {
	save := p.i
	defer func() { p.i = save }()
	if p.token() == "" {
		return false
	}
	if p.done() || p.s[p.i] == ',' {
		return true
	}
	if p.s[p.i] != ' ' && p.s[p.i] != '\t' {
		return false
	}
	p.skipWS()
	return p.done() || p.s[p.i] != '='
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
				p.inQuote = true
				return "", "", p.fail("parameter %q: control character 0x%02x in a quoted pair", name, ch)
			}
		case !isQDText(ch):
			p.inQuote = true
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
