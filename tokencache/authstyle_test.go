package tokencache

import "testing"

func TestParseAuthStyle(t *testing.T) {
	for _, s := range []AuthStyle{AuthStyleBasic, AuthStylePost, AuthStylePrivateKeyJWT} {
		if got, err := ParseAuthStyle(s.String()); err != nil || got != s {
			t.Errorf("ParseAuthStyle(%q) = %v, %v; want %v, nil", s.String(), got, err, s)
		}
	}
	if _, err := ParseAuthStyle("basic"); err == nil {
		t.Errorf("ParseAuthStyle(%q) = nil error, want an error", "basic")
	}
}
