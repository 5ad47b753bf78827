package tokencache

import (
	"fmt"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TestJWTExpiryWins: a JWT's exp, truncated to the second, can end before
// now+expires_in; the cache must stop using the token by exp.
func TestJWTExpiryWins(t *testing.T) {
	exp := time.Now().Add(90 * time.Second).Truncate(time.Second)
	token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"exp": exp.Unix(), "client_id": testClientID}).SignedString([]byte("test-key"))
	if err != nil {
		t.Fatal(err)
	}
	idp := newFakeIdP(t, 3600)
	idp.push(reply{status: 200, body: fmt.Sprintf(`{"access_token":%q,"token_type":"Bearer","expires_in":3600}`, token)})
	c := newTestCache(t, idp, &syncBuffer{}, nil)
	if _, err := c.Token(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := c.State().ExpiresAt; !got.Equal(exp) {
		t.Errorf("State().ExpiresAt = %v, want the JWT's exp %v (not now+expires_in)", got, exp)
	}
}

func TestJWTExpiry(t *testing.T) {
	tests := []struct {
		name   string
		token  string
		wantOK bool
	}{
		{name: "opaque", token: "opaque-token-1"},
		{name: "jwt without exp", token: "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."},
		{name: "jwt with exp", token: "eyJhbGciOiJub25lIn0.eyJleHAiOjE3MDAwMDAwMDB9.", wantOK: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := jwtExpiry(tt.token)
			if ok != tt.wantOK || ok && got.Unix() != 1700000000 {
				t.Errorf("jwtExpiry(%q) = %v, %v; want ok=%v", tt.token, got, ok, tt.wantOK)
			}
		})
	}
}
