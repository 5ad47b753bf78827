package redact

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"testing"
)

const (
	clientID = "client 1/ü"
	secret   = "s3cr+t/with spaces&more=stuff"
	token    = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJjbGllbnQifQ.c2lnbmF0dXJl"
)

// every encoding of the secret and token that must not survive.
func leaks() map[string]string {
	basic := func(enc *base64.Encoding, id, s string) string { return enc.EncodeToString([]byte(id + ":" + s)) }
	js, _ := json.Marshal(secret)
	return map[string]string{
		"plain secret":          secret,
		"query-escaped secret":  url.QueryEscape(secret),
		"path-escaped secret":   url.PathEscape(secret),
		"lower-hex escaped":     strings.ToLower(url.PathEscape(secret)),
		"json-escaped secret":   string(js[1 : len(js)-1]),
		"slash-escaped secret":  strings.ReplaceAll(secret, "/", `\/`),
		"basic std":             basic(base64.StdEncoding, clientID, secret),
		"basic raw std":         basic(base64.RawStdEncoding, clientID, secret),
		"basic url":             basic(base64.URLEncoding, clientID, secret),
		"basic raw url":         basic(base64.RawURLEncoding, clientID, secret),
		"basic form-encoded":    basic(base64.StdEncoding, url.QueryEscape(clientID), url.QueryEscape(secret)),
		"basic form-encoded rw": basic(base64.RawURLEncoding, url.QueryEscape(clientID), url.QueryEscape(secret)),
		"token":                 token,
		"bearer header":         "Bearer " + token,
	}
}

func TestRedactEveryEncoding(t *testing.T) {
	r := New()
	s := r.NewSet(0)
	s.AddSecret(clientID, secret)
	s.AddToken(token)
	secretLabel := Label(KindSecret, Fingerprint(secret))
	tokenLabel := Label(KindToken, Fingerprint(token))
	for name, leak := range leaks() {
		t.Run(name, func(t *testing.T) {
			in := `{"error":"invalid_client","error_description":"got ` + leak + ` here"}`
			got := r.Redact(in)
			if strings.Contains(got, leak) {
				t.Errorf("Redact(%q) = %q, still holds it", in, got)
			}
			if !strings.Contains(got, secretLabel) && !strings.Contains(got, tokenLabel) {
				t.Errorf("Redact(%q) = %q, want a label %s or %s", in, got, secretLabel, tokenLabel)
			}
			if again := r.Redact(got); again != got {
				t.Errorf("Redact(Redact(x)) = %q, want %q", again, got)
			}
		})
	}
}

func TestRedactLabels(t *testing.T) {
	r := New()
	r.NewSet(0).AddToken(token)
	got := r.Redact("Authorization: Bearer " + token + ".")
	want := "Authorization: Bearer [token sha256:" + Fingerprint(token) + "]."
	if got != want {
		t.Errorf("Redact = %q, want %q", got, want)
	}
}

func TestRedactOverlapping(t *testing.T) {
	r := New()
	s := r.NewSet(0)
	s.AddToken("ABCDEFGHIJKLMNOP")
	s.AddToken("12xxABCDEFGH") // starts before the first and overlaps it
	got := r.Redact("--12xxABCDEFGHIJKLMNOP--")
	if want := "--" + Label(KindToken, Fingerprint("12xxABCDEFGH")) + Label(KindToken, Fingerprint("ABCDEFGHIJKLMNOP")) + "--"; got != want {
		t.Errorf("Redact = %q, want %q", got, want)
	}
	for _, part := range []string{"IJKLMNOP", "ABCD", "12xx"} {
		if strings.Contains(got, part) {
			t.Errorf("Redact = %q, keeps %q of an overlapped token", got, part)
		}
	}
}

func TestRedactShortSecret(t *testing.T) {
	r := New()
	r.NewSet(0).AddSecret("id", "abc")
	label := Label(KindSecret, Fingerprint("abc"))
	for _, tc := range []struct{ in, want string }{
		{in: "client_secret=abc&x=1", want: "client_secret=" + label + "&x=1"},
		{in: `"abc"`, want: `"` + label + `"`},
		{in: "abc", want: label},
		{in: "fabcd abcabc", want: "fabcd abcabc"}, // inside words: left alone
	} {
		if got := r.Redact(tc.in); got != tc.want {
			t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestRedactBoundedTokens(t *testing.T) {
	r := New()
	s := r.NewSet(3)
	var tokens []string
	for i := range 10 {
		tok := fmt.Sprintf("token-number-%02d-xxxxxxxx", i)
		tokens = append(tokens, tok)
		s.AddToken(tok)
	}
	if n := len(r.m.Load().pats); n > 3 {
		t.Errorf("%d patterns after 10 tokens with a limit of 3, want at most 3", n)
	}
	if got := r.Redact(tokens[9]); got == tokens[9] {
		t.Errorf("Redact(newest token) = %q, not redacted", got)
	}
	if got := r.Redact(tokens[0]); got != tokens[0] {
		t.Errorf("Redact(oldest token) = %q, want it forgotten", got)
	}
	// The client secret survives any number of tokens.
	s.AddSecret("id", "the-client-secret")
	for i := range 20 {
		s.AddToken(fmt.Sprintf("later-token-%02d-xxxxxxxx", i))
	}
	if got := r.Redact("the-client-secret"); got == "the-client-secret" {
		t.Errorf("the client secret was forgotten after 20 tokens")
	}
}

func TestRedactKey(t *testing.T) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	pemText := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	r := New()
	r.NewSet(0).AddKey("1a2b3c4d", der)
	got := r.Redact("the server said: " + pemText)
	body := base64.StdEncoding.EncodeToString(der)
	for i := 0; i+16 <= len(body); i += 16 {
		if strings.Contains(got, body[i:i+16]) {
			t.Errorf("Redact(PEM) = %q, keeps key material %q", got, body[i:i+16])
		}
	}
	if !strings.Contains(got, "[key sha256:1a2b3c4d]") {
		t.Errorf("Redact(PEM) = %q, want the key's label", got)
	}
	if got := r.Redact(body); got != "[key sha256:1a2b3c4d]" {
		t.Errorf("Redact(one-line base64 key) = %q, want the label", got)
	}
}

func TestRedactAWS(t *testing.T) {
	r := New()
	s := r.NewSet(0)
	const key, session = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "FwoGZXIvYXdzEJr//////////wEaDK1session"
	s.AddAWS(key, session)
	s.AddAWS(key, session) // registered already: no change
	got := r.Redact("x-amz-security-token:" + session + "\nsecret " + key)
	if strings.Contains(got, key) || strings.Contains(got, session) {
		t.Errorf("Redact = %q, keeps AWS credentials", got)
	}
}

func TestNilAndEmpty(t *testing.T) {
	var r *Redactor
	if got := r.Redact("x"); got != "x" {
		t.Errorf("nil Redactor: Redact = %q", got)
	}
	var s *Set
	s.AddToken("x")
	s.AddSecret("a", "b")
	if got := s.Redact("x"); got != "x" {
		t.Errorf("nil Set: Redact = %q", got)
	}
	if got := New().Redact("anything"); got != "anything" {
		t.Errorf("empty Redactor: Redact = %q", got)
	}
}

func TestHandler(t *testing.T) {
	r := New()
	r.NewSet(0).AddSecret(clientID, secret)
	r.NewSet(0).AddToken(token)
	var buf bytes.Buffer
	log := slog.New(NewHandler(slog.NewJSONHandler(&buf, nil), r)).With("with", "pre "+token)
	log.Warn("message "+secret, "err", errors.New("upstream said "+token), "s", secret,
		"g", slog.GroupValue(slog.String("inner", token)), "n", 42, "list", []string{token})
	out := buf.String()
	for name, leak := range map[string]string{"secret": secret, "token": token, "json secret": strings.ReplaceAll(secret, "&", `\u0026`)} {
		if strings.Contains(out, leak) {
			t.Errorf("log holds the %s: %s", name, out)
		}
	}
	if !strings.Contains(out, `"n":42`) {
		t.Errorf("log lost a number attribute: %s", out)
	}
	if strings.Count(out, "[token sha256:"+Fingerprint(token)+"]") != 4 {
		t.Errorf("log = %s, want the token's label 4 times", out)
	}
}

func BenchmarkRedact(b *testing.B) {
	r := New()
	for i := range 4 {
		s := r.NewSet(0)
		s.AddSecret("client", fmt.Sprintf("secret-%d-abcdefghijklmnopqrstuvwxyz", i))
		for j := range DefaultTokens {
			s.AddToken(fmt.Sprintf("eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.%d.%d.%s", i, j, strings.Repeat("x", 800)))
		}
	}
	text := `{"message":"Claim 'client_id' value mismatch with configuration."}`
	b.ReportAllocs()
	for b.Loop() {
		r.Redact(text)
	}
}

// BenchmarkRedactBody is the most Diagnose quotes: a 64 KiB error body.
func BenchmarkRedactBody(b *testing.B) {
	r := New()
	for i := range 4 {
		s := r.NewSet(0)
		s.AddSecret("client", fmt.Sprintf("secret-%d-abcdefghijklmnopqrstuvwxyz", i))
		for j := range DefaultTokens {
			s.AddToken(fmt.Sprintf("eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.%d.%d.%s", i, j, strings.Repeat("x", 800)))
		}
	}
	text := strings.Repeat(`{"message":"Claim 'client_id' value mismatch with configuration."}`, 1000)[:64<<10]
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		r.Redact(text)
	}
}

func TestFingerprint(t *testing.T) {
	tests := []struct {
		value, want string
	}{
		{value: "abc", want: "ba7816bf"},
		{value: "", want: "e3b0c442"},
		{value: "example-token", want: "4d1566a1"}, // tokencache's example prints it
	}
	for _, tt := range tests {
		if got := Fingerprint(tt.value); got != tt.want {
			t.Errorf("Fingerprint(%q) = %q, want %q", tt.value, got, tt.want)
		}
	}
}
