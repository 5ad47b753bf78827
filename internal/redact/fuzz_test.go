package redact

import (
	"strings"
	"testing"
)

// FuzzRedact registers a client secret, a token and a key, embeds them in
// every encoding in the text, and checks that no form survives outside the
// labels (a short form: where it stands alone), that the output is at most
// MaxLabel times the input, and that a second pass changes nothing.
func FuzzRedact(f *testing.F) {
	f.Add("client", "s3cret/+=", "eyJhbGciOiJFUzI1NiJ9.e30.sig", []byte{0x30, 0x82, 0x01}, "error: %s; got %s", uint8(0))
	f.Add("c", "abc", "tok", []byte{}, `{"error_description":"%s"}`, uint8(3))
	f.Add("id:x", "pässwörd with spaces", "opaque-token-0123456789", []byte("DER"), "Basic %s", uint8(7))
	f.Add("", "[secret sha256:00000000]", "sha256", []byte{}, "[token sha256:12345678] %s", uint8(5))
	f.Add("a", "aaaaaaaaa", "aaaa", []byte{}, "aaaaaaaaaaaaaaaaaaaaaaaa%s", uint8(1))
	f.Fuzz(func(t *testing.T, id, secret, token string, der []byte, text string, pick uint8) {
		r := New()
		s := r.NewSet(2)
		s.AddSecret(id, secret)
		s.AddToken(token)
		s.AddKey("", der)
		var forms []pattern
		if m := r.m.Load(); m != nil {
			forms = m.pats
		}
		// Put some forms into the text, chosen by pick.
		for i, p := range forms {
			if pick&(1<<(i%8)) != 0 {
				text = strings.Replace(text, "%s", p.s, 1) + " " + p.s
			}
		}
		out := r.Redact(text)
		if len(out) > MaxLabel*len(text) {
			t.Fatalf("Redact(%q) is %d bytes, over %d times the input's %d", text, len(out), MaxLabel, len(text))
		}
		if again := r.Redact(out); again != out {
			t.Fatalf("Redact not idempotent:\n in  %q\n out %q\n 2nd %q", text, out, again)
		}
		pieces := labelRE.Split(out, -1)
		for _, p := range forms {
			for _, piece := range pieces {
				if !p.short && strings.Contains(piece, p.s) {
					t.Fatalf("Redact(%q) = %q: form %q survives", text, out, p.s)
				}
			}
			if p.short && standsAlone(out, p.s) {
				t.Fatalf("Redact(%q) = %q: short form %q survives alone", text, out, p.s)
			}
		}
	})
}

// standsAlone reports whether s occurs in text outside labels with no
// letter or digit either side.
func standsAlone(text, s string) bool {
	protected := labelRE.FindAllStringIndex(text, -1)
	for i := 0; ; {
		j := strings.Index(text[i:], s)
		if j < 0 {
			return false
		}
		start, end := i+j, i+j+len(s)
		inLabel := false
		for _, p := range protected {
			inLabel = inLabel || start < p[1] && p[0] < end
		}
		if !inLabel && (start == 0 || !isAlnum(text[start-1])) && (end == len(text) || !isAlnum(text[end])) {
			return true
		}
		i = start + 1
	}
}
