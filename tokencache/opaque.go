package tokencache

import (
	"encoding/base64"
	"encoding/json"
	"strings"
)

// IsJWT reports whether token has the form of a JWS compact serialization
// (three base64url parts whose header is a JSON object). Anything else is an
// opaque access token: only the authorization server and the resource can
// read it, so callers skip local claim checks and rely on expires_in, which
// the cache uses for every token whose expiry it cannot read.
func IsJWT(token string) bool {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return false
	}
	header, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return false
	}
	var h map[string]any
	return json.Unmarshal(header, &h) == nil
}
