// Package redact keeps credentials out of the text agentcore-proxy quotes:
// an upstream's error body, an identity provider's error_description, a
// log line. Every holder of a credential registers what it holds with a
// [Redactor] through a [Set] of its own (a token cache, an AWS signer); the
// Redactor replaces each registered value, in every encoding it may be
// echoed in, with a fingerprint label such as "[token sha256:1a2b3c4d]".
//
// What is replaced, for each registered value V:
//   - V itself, its URL encodings (url.QueryEscape and url.PathEscape, with
//     upper- or lower-case hex), its JSON string encodings (with and
//     without HTML escaping) and the forms with "/" written "\/";
//   - for a client secret S of client I, the HTTP Basic credentials
//     base64(I ":" S) and base64(QueryEscape(I) ":" QueryEscape(S))
//     (RFC 6749 §2.3.1 form-encodes both first; x/oauth2 does), each in
//     standard and URL base64, padded and raw;
//   - for a private key, the base64 of its DER encoding whole and cut in the
//     64-character lines of its PEM text.
//
// The label names the kind ("token", "secret" or "key") and the first 8 hex
// digits of the SHA-256 of V (of the public key for a key), the fingerprint
// the logs and /status already show. A value shorter than 8 bytes is
// replaced only where it stands alone: the bytes either side are not ASCII
// letters or digits (or were themselves replaced), so that a short secret
// such as "abc" does not shred every word containing it. Text that already
// has the shape of a label is left alone, which makes Redact idempotent.
//
// Tokens expire, so a Set keeps only its most recent ones (and its most
// recent secrets): memory stays bounded however long the process runs. The
// replacement table is rebuilt when a Set changes and swapped in
// atomically, so Redact takes no lock; it runs only on text that is quoted,
// never on a proxied answer.
package redact

import (
	"cmp"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// Kinds of credential, as they appear in labels.
const (
	KindToken  = "token"
	KindSecret = "secret"
	KindKey    = "key"
)

// DefaultTokens is how many tokens a Set from NewSet(0) keeps: enough for
// the tokens of the last hours and their step-up siblings, a few KB.
const DefaultTokens = 16

// maxSecrets is how many secrets (client secret versions, AWS secret keys) a
// Set keeps.
const maxSecrets = 4

// ShortLen is the length under which a value is replaced only where it
// stands alone (see the package comment).
const ShortLen = 8

// MaxLabel is the longest label, "[secret sha256:1a2b3c4d]": Redact's output
// is never longer than MaxLabel times its input.
const MaxLabel = len("[secret sha256:12345678]")

// labelRE matches a label; text of this shape is never redacted again.
var labelRE = regexp.MustCompile(`\[(?:token|secret|key) sha256:[0-9a-f]{8}\]`)

// Label returns the label that replaces a credential of kind whose
// fingerprint is fp.
func Label(kind, fp string) string { return "[" + kind + " sha256:" + fp + "]" }

// Fingerprint returns the first 8 hex digits of the SHA-256 of v: enough to
// tell credentials apart in logs, useless to an attacker. It is the one
// fingerprint of the program: the token cache, the checker, the proxy and
// the command all call it.
func Fingerprint(v string) string {
	sum := sha256.Sum256([]byte(v))
	return hex.EncodeToString(sum[:4])
}

// Redactor replaces registered credentials in text. The zero value is not
// usable; create one with New, once per process. A nil *Redactor redacts
// nothing. Its methods are safe for concurrent use.
type Redactor struct {
	mu   sync.Mutex // guards sets and every Set's entries
	sets []*Set
	m    atomic.Pointer[matcher]
}

// New returns an empty Redactor.
func New() *Redactor { return &Redactor{} }

// NewSet returns a Set that registers credentials with r and keeps at most
// maxTokens tokens (0: DefaultTokens).
func (r *Redactor) NewSet(maxTokens int) *Set {
	s := &Set{r: r, maxTokens: cmp.Or(maxTokens, DefaultTokens)}
	if r != nil {
		r.mu.Lock()
		r.sets = append(r.sets, s)
		r.mu.Unlock()
	}
	return s
}

// Redact returns text with every registered credential replaced by its
// label.
func (r *Redactor) Redact(text string) string {
	if r == nil {
		return text
	}
	m := r.m.Load()
	if m == nil || len(text) < m.minLen {
		return text
	}
	return m.redact(text)
}

// Set is what one holder of credentials registers with a Redactor. A nil
// *Set registers nothing and redacts nothing. Its methods are safe for
// concurrent use.
type Set struct {
	r         *Redactor
	maxTokens int
	// Guarded by r.mu; each oldest first.
	tokens, secrets, keys []*entry
	// lastAWS makes AddAWS cheap when called for every signed request.
	lastAWS atomic.Pointer[[2]string]
}

// entry is one credential: its label and the forms it is replaced in.
type entry struct {
	value string
	label string
	forms []string
}

// AddSecret registers the client secret of clientID: its own forms and
// those of HTTP Basic credentials. Earlier secrets stay registered (the
// last few), for answers to requests that used them.
func (s *Set) AddSecret(clientID, secret string) {
	if s == nil || s.r == nil || secret == "" {
		return
	}
	e := &entry{value: clientID + "\x00" + secret, label: Label(KindSecret, Fingerprint(secret)),
		forms: append(valueForms(secret), basicForms(clientID, secret)...)}
	s.add(&s.secrets, e, maxSecrets)
}

// AddToken registers a token the holder received or sent: an access token,
// a client assertion, a session token.
func (s *Set) AddToken(token string) {
	if s == nil || s.r == nil || token == "" {
		return
	}
	s.add(&s.tokens, &entry{value: token, label: Label(KindToken, Fingerprint(token)), forms: valueForms(token)}, s.maxTokens)
}

// AddKey registers a private key by its DER encoding (the bytes a PEM block
// holds); fingerprint labels it, such as the public key's.
func (s *Set) AddKey(fingerprint string, der []byte) {
	if s == nil || s.r == nil || len(der) == 0 {
		return
	}
	b64 := base64.StdEncoding.EncodeToString(der)
	forms := []string{b64}
	for i := 0; i < len(b64); i += 64 {
		forms = append(forms, b64[i:min(i+64, len(b64))])
	}
	s.add(&s.keys, &entry{value: b64, label: Label(KindKey, cmp.Or(fingerprint, Fingerprint(b64))), forms: forms}, 1)
}

// AddAWS registers AWS credentials: the secret access key (a secret) and
// the session token (a token), if any. It is cheap when they are the ones
// registered last, so a signer may call it for every request.
func (s *Set) AddAWS(secretAccessKey, sessionToken string) {
	if s == nil || s.r == nil {
		return
	}
	if last := s.lastAWS.Load(); last != nil && last[0] == secretAccessKey && last[1] == sessionToken {
		return
	}
	s.lastAWS.Store(&[2]string{secretAccessKey, sessionToken})
	if secretAccessKey != "" {
		s.add(&s.secrets, &entry{value: secretAccessKey, label: Label(KindSecret, Fingerprint(secretAccessKey)), forms: valueForms(secretAccessKey)}, maxSecrets)
	}
	s.AddToken(sessionToken)
}

// Redact is the Redactor's Redact.
func (s *Set) Redact(text string) string {
	if s == nil {
		return text
	}
	return s.r.Redact(text)
}

// add puts e at the end of list, dropping its older copy and the oldest
// entries beyond limit, and rebuilds the Redactor's table.
func (s *Set) add(list *[]*entry, e *entry, limit int) {
	r := s.r
	r.mu.Lock()
	defer r.mu.Unlock()
	if n := len(*list); n > 0 && (*list)[n-1].value == e.value {
		return // the common case: registered already
	}
	*list = slices.DeleteFunc(*list, func(o *entry) bool { return o.value == e.value })
	*list = append(*list, e)
	if over := len(*list) - limit; over > 0 {
		*list = slices.Delete(*list, 0, over)
	}
	r.rebuildLocked()
}

// rebuildLocked compiles every Set's entries into a new matcher.
func (r *Redactor) rebuildLocked() {
	var pats []pattern
	seen := map[string]bool{}
	for _, s := range r.sets {
		for _, list := range [][]*entry{s.keys, s.secrets, s.tokens} {
			for _, e := range list {
				for _, f := range e.forms {
					if f == "" || seen[f] {
						continue
					}
					seen[f] = true
					pats = append(pats, pattern{s: f, label: e.label, short: len(f) < ShortLen})
				}
			}
		}
	}
	if len(pats) == 0 {
		r.m.Store(nil)
		return
	}
	r.m.Store(newMatcher(pats))
}

// valueForms returns the encodings a value may be echoed in.
func valueForms(v string) []string {
	forms := []string{v, url.QueryEscape(v), url.PathEscape(v)}
	for _, f := range forms[1:] {
		if strings.Contains(f, "%") {
			forms = append(forms, lowerHex(f))
		}
	}
	forms = append(forms, jsonForms(v)...)
	return withEscapedSlashes(dedupe(forms))
}

// basicForms returns HTTP Basic credentials of id and secret, plain and
// form-encoded, in each base64 alphabet, padded and raw.
func basicForms(id, secret string) []string {
	var forms []string
	for _, pair := range []string{id + ":" + secret, url.QueryEscape(id) + ":" + url.QueryEscape(secret)} {
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			forms = append(forms, enc.EncodeToString([]byte(pair)))
		}
	}
	return withEscapedSlashes(dedupe(forms))
}

// jsonForms returns v as the inside of a JSON string, with and without
// HTML escaping, when that differs from v.
func jsonForms(v string) []string {
	var forms []string
	if b, err := json.Marshal(v); err == nil {
		forms = append(forms, string(b[1:len(b)-1]))
	}
	var sb strings.Builder
	enc := json.NewEncoder(&sb)
	enc.SetEscapeHTML(false)
	if enc.Encode(v) == nil {
		s := strings.TrimSuffix(sb.String(), "\n")
		forms = append(forms, s[1:len(s)-1])
	}
	return forms
}

// withEscapedSlashes adds, for each form with a "/", the form JSON encoders
// of other languages write ("\/").
func withEscapedSlashes(forms []string) []string {
	for _, f := range forms {
		if strings.Contains(f, "/") {
			forms = append(forms, strings.ReplaceAll(f, "/", `\/`))
		}
	}
	return dedupe(forms)
}

// lowerHex lower-cases the hex digits of percent escapes.
func lowerHex(s string) string {
	b := []byte(s)
	for i := 0; i+2 < len(b); i++ {
		if b[i] == '%' {
			b[i+1], b[i+2] = lowerASCII(b[i+1]), lowerASCII(b[i+2])
		}
	}
	return string(b)
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func dedupe(forms []string) []string {
	out := forms[:0:0]
	for _, f := range forms {
		if f != "" && !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out
}
