package awsjwt

import (
	"strings"
	"testing"
)

// FuzzParseClaims: STS's answer is untrusted input. ParseClaims never panics, refuses what is over
// MaxTokenBytes, and what it accepts has an issuer and an expiry.
func FuzzParseClaims(f *testing.F) {
	f.Add("eyJhbGciOiJSUzI1NiIsImtpZCI6ImsifQ.eyJpc3MiOiJodHRwczovL2lkLnRva2Vucy5zdHMuZ2xvYmFsLmFwaS5hd3MiLCJleHAiOjE3NjczNjg2MDB9.c2ln")
	f.Add("a.b.c")
	f.Add("")
	f.Fuzz(func(t *testing.T, token string) {
		c, err := ParseClaims(token)
		if err != nil {
			return
		}
		if len(token) > MaxTokenBytes || strings.Count(token, ".") != 2 {
			t.Errorf("ParseClaims accepted a token of %d bytes with %d dots", len(token), strings.Count(token, "."))
		}
		if c.Issuer == "" || c.Expiry.IsZero() {
			t.Errorf("ParseClaims = %+v, want an issuer and an expiry", c)
		}
	})
}
