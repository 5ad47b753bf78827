package emulator

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/agentcore-proxy/agentcore-proxy/internal/redact"
	"github.com/golang-jwt/jwt/v5"
)

// signingKey is one RSA key pair published in the pool's JWKS.
type signingKey struct {
	kid  string
	priv *rsa.PrivateKey
}

// keySet holds every published key and which one signs. Cognito publishes two keys per pool.
type keySet struct {
	mu      sync.RWMutex
	keys    []signingKey
	signing int // index in keys
}

func newKeySet() (*keySet, error) {
	ks := &keySet{}
	for range 2 {
		k, err := newSigningKey()
		if err != nil {
			return nil, err
		}
		ks.keys = append(ks.keys, k)
	}
	return ks, nil
}

func newSigningKey() (signingKey, error) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return signingKey{}, fmt.Errorf("emulator: generate RSA key: %w", err)
	}
	der, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		return signingKey{}, fmt.Errorf("emulator: marshal RSA public key: %w", err)
	}
	// Cognito's kids look like the base64 of a SHA-256 digest.
	sum := sha256.Sum256(der)
	return signingKey{kid: base64.StdEncoding.EncodeToString(sum[:]), priv: priv}, nil
}

func (ks *keySet) signer() signingKey {
	ks.mu.RLock()
	defer ks.mu.RUnlock()
	return ks.keys[ks.signing]
}

func (ks *keySet) public(kid string) (*rsa.PublicKey, bool) {
	ks.mu.RLock()
	defer ks.mu.RUnlock()
	for _, k := range ks.keys {
		if k.kid == kid {
			return &k.priv.PublicKey, true
		}
	}
	return nil, false
}

func (ks *keySet) jwks() map[string]any {
	ks.mu.RLock()
	defer ks.mu.RUnlock()
	keys := make([]map[string]string, 0, len(ks.keys))
	for _, k := range ks.keys {
		pub := k.priv.PublicKey
		keys = append(keys, map[string]string{
			"alg": "RS256",
			"e":   base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
			"kid": k.kid,
			"kty": "RSA",
			"n":   base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
			"use": "sig",
		})
	}
	return map[string]any{"keys": keys}
}

// RotateKey generates a new key pair, publishes it in the JWKS and signs with it from now on. Earlier
// keys stay published, so tokens they signed remain valid. If no key can be generated, the signing key
// is kept and the error is logged.
func (e *Emulator) RotateKey() {
	k, err := newSigningKey()
	if err != nil {
		e.log.Error("emulator: key rotation failed", "err", err)
		return
	}
	e.keys.mu.Lock()
	e.keys.keys = append(e.keys.keys, k)
	e.keys.signing = len(e.keys.keys) - 1
	e.keys.mu.Unlock()
	e.log.Info("emulator: signing key rotated", "kid", k.kid)
}

// RetireOldKeys unpublishes every key but the signing key: tokens the others
// signed now fail AgentCore's signature check, as after a rotation that
// retires the old key. Pair it with RotateKey.
func (e *Emulator) RetireOldKeys() {
	e.keys.mu.Lock()
	e.keys.keys = []signingKey{e.keys.keys[e.keys.signing]}
	e.keys.signing = 0
	e.keys.mu.Unlock()
	e.log.Info("emulator: old signing keys retired")
}

// SigningKeyID returns the kid of the key that signs new tokens.
func (e *Emulator) SigningKeyID() string { return e.keys.signer().kid }

// SignClaims signs arbitrary claims with the current signing key (RS256, with kid), for tests that need
// tokens Cognito's client_credentials grant would not issue: an ID token with aud and no client_id, a
// foreign iss, a missing exp.
func (e *Emulator) SignClaims(claims map[string]any) (string, error) {
	k := e.keys.signer()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims(claims))
	tok.Header["kid"] = k.kid
	s, err := tok.SignedString(k.priv)
	if err != nil {
		return "", fmt.Errorf("emulator: sign token: %w", err)
	}
	return s, nil
}

func (e *Emulator) cognitoHandler() http.Handler {
	mux := http.NewServeMux()
	pool := "/" + e.cfg.PoolID
	mux.HandleFunc("GET "+pool+"/.well-known/openid-configuration", e.serveDiscovery)
	mux.HandleFunc("GET "+pool+"/.well-known/jwks.json", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, e.keys.jwks())
	})
	mux.HandleFunc("/oauth2/token", e.serveToken)
	if e.cfg.AuthServerMetadata {
		mux.HandleFunc("GET /.well-known/oauth-authorization-server"+pool, e.serveAuthServerMetadata)
	}
	// Cognito has no RFC 8414 metadata; it answers its generic 400 (body as seen from cognito-idp for
	// operations it does not know; unconfirmed for this exact path). Unknown paths get the same.
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusBadRequest, map[string]string{
			"code":    "BadRequest",
			"message": "The server did not understand the operation that was requested.",
			"type":    "client",
		})
	})
	return mux
}

func (e *Emulator) serveDiscovery(w http.ResponseWriter, _ *http.Request) {
	iss := e.Issuer()
	writeJSON(w, http.StatusOK, map[string]any{
		"authorization_endpoint":                e.cogURL + "/oauth2/authorize",
		"end_session_endpoint":                  e.cogURL + "/logout",
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"issuer":                                iss,
		"jwks_uri":                              iss + "/.well-known/jwks.json",
		"response_types_supported":              []string{"code", "token"},
		"revocation_endpoint":                   e.cogURL + "/oauth2/revoke",
		"scopes_supported":                      []string{"openid", "email", "phone", "profile"},
		"subject_types_supported":               []string{"public"},
		"token_endpoint":                        e.TokenURL(),
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
		"userinfo_endpoint":                     e.cogURL + "/oauth2/userInfo",
	})
}

// serveToken implements the client_credentials grant of Cognito's /oauth2/token.
func (e *Emulator) serveToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "invalid_request"})
		return
	}
	e.mu.Lock()
	e.stats.TokenRequests++
	e.mu.Unlock()

	tok, lifetime, code := e.issue(r)
	if code != "" {
		e.log.Info("token request refused", "error", code)
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": code})
		return
	}
	e.mu.Lock()
	e.stats.TokensIssued++
	e.mu.Unlock()
	e.log.Info("token issued", "token", redact.Fingerprint(tok), "expires_in", lifetime)
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": tok,
		"token_type":   "Bearer",
		"expires_in":   lifetime,
	})
}

// issue checks a token request and returns the signed token and its lifetime in seconds, or an OAuth
// error code.
func (e *Emulator) issue(r *http.Request) (token string, lifetime int64, errCode string) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/x-www-form-urlencoded" {
		return "", 0, "invalid_request"
	}
	if err := r.ParseForm(); err != nil {
		return "", 0, "invalid_request"
	}
	client, ok := e.authenticateClient(r)
	if !ok {
		return "", 0, "invalid_client"
	}
	switch gt := r.PostForm.Get("grant_type"); {
	case gt == "":
		return "", 0, "invalid_request"
	case gt != "client_credentials":
		return "", 0, "unsupported_grant_type"
	}
	if len(client.Scopes) == 0 {
		return "", 0, "unauthorized_client"
	}
	scopes := client.Scopes
	if req := strings.Fields(r.PostForm.Get("scope")); len(req) > 0 {
		for _, s := range req {
			if !slices.Contains(client.Scopes, s) {
				return "", 0, "invalid_scope"
			}
		}
		scopes = slices.Compact(req)
	}

	// exp has whole-second precision: derive it from the truncated iat so that exp-iat is exactly the
	// lifetime in seconds.
	lifetime = int64(e.tokenLifetime() / time.Second)
	lifetime = max(lifetime, 1)
	iat := time.Now().Unix()
	token, err := e.SignClaims(map[string]any{
		"sub":       client.ID,
		"token_use": "access",
		"scope":     strings.Join(scopes, " "),
		"auth_time": iat,
		"iss":       e.Issuer(),
		"exp":       iat + lifetime,
		"iat":       iat,
		"version":   2,
		"jti":       rand.Text(),
		"client_id": client.ID,
	})
	if err != nil {
		e.log.Error("token signing failed", "err", err)
		return "", 0, "server_error"
	}
	return token, lifetime, ""
}

// authenticateClient finds the app client named by HTTP Basic (client_secret_basic, which takes
// precedence) or by the form (client_secret_post) and checks its secret.
func (e *Emulator) authenticateClient(r *http.Request) (Client, bool) {
	id, secret, basic := r.BasicAuth()
	if basic {
		// RFC 6749 §2.3.1 form-encodes both before base64; accept the raw values too.
		if uid, err := url.QueryUnescape(id); err == nil {
			if us, err := url.QueryUnescape(secret); err == nil {
				if c, ok := e.lookupClient(uid, us); ok {
					return c, true
				}
			}
		}
		return e.lookupClient(id, secret)
	}
	return e.lookupClient(r.PostForm.Get("client_id"), r.PostForm.Get("client_secret"))
}

func (e *Emulator) lookupClient(id, secret string) (Client, bool) {
	e.mu.Lock() // SetClientSecret replaces the clients
	defer e.mu.Unlock()
	for _, c := range e.cfg.Clients {
		if c.ID == id && id != "" && subtle.ConstantTimeCompare([]byte(c.Secret), []byte(secret)) == 1 {
			return c, true
		}
	}
	return Client{}, false
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
