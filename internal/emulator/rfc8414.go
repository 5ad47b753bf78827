package emulator

import "net/http"

// serveAuthServerMetadata answers RFC 8414 authorization server metadata at the path-aware location
// (RFC 8414 §3.1: /.well-known/oauth-authorization-server/POOL for issuer .../POOL), for tests of
// clients that prefer it to OpenID Connect discovery. Cognito serves no such document; the emulator
// does only with Config.AuthServerMetadata. The fields are those of the discovery document that
// RFC 8414 defines, plus grant_types_supported, which Cognito's document omits.
func (e *Emulator) serveAuthServerMetadata(w http.ResponseWriter, _ *http.Request) {
	iss := e.Issuer()
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                iss,
		"authorization_endpoint":                e.cogURL + "/oauth2/authorize",
		"token_endpoint":                        e.TokenURL(),
		"jwks_uri":                              iss + "/.well-known/jwks.json",
		"revocation_endpoint":                   e.cogURL + "/oauth2/revoke",
		"response_types_supported":              []string{"code", "token"},
		"grant_types_supported":                 []string{"authorization_code", "client_credentials", "refresh_token"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
	})
}
