package tokencache

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// ErrClientKey is wrapped by every [*ClientKeyError].
var ErrClientKey = errors.New("tokencache: unusable client key")

// ClientAssertionType is the client_assertion_type of RFC 7523 §2.2.
const ClientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// AssertionLifetime is how long a client assertion is valid: short, since a
// new one is made for every token request (RFC 7523 §3 asks for a limited
// lifetime; the MCP client-credentials extension for at most five minutes).
const AssertionLifetime = 2 * time.Minute

// minRSABits is the smallest RSA key accepted for signing.
const minRSABits = 2048

// ClientKeyError says why a private key for private_key_jwt client
// authentication cannot be used. It never holds key material.
type ClientKeyError struct {
	// Source names where the key came from, such as its file path.
	Source string
	// Problem says what is wrong and how to fix it.
	Problem string
}

func (e *ClientKeyError) Error() string {
	return ErrClientKey.Error() + ": " + e.Source + ": " + e.Problem
}

// Unwrap returns ErrClientKey.
func (e *ClientKeyError) Unwrap() error { return ErrClientKey }

// ClientKey is a private key that signs RFC 7523 client assertions
// (private_key_jwt). Its String and GoString methods show only the
// algorithm, key id and a fingerprint of the public key, so a ClientKey can
// be logged or printed safely. Create one with [LoadClientKey] or
// [ParseClientKey].
type ClientKey struct {
	signer      crypto.Signer
	method      jwt.SigningMethod
	kid         string
	source      string
	fingerprint string
	// der is the private key as its PEM block held it, for a Redactor only.
	der []byte
}

// algorithms lists the JWS algorithms each key type can sign with, the
// default first.
func algorithms(pub crypto.PublicKey) []string {
	switch pub := pub.(type) {
	case *rsa.PublicKey:
		return []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}
	case *ecdsa.PublicKey:
		switch pub.Curve {
		case elliptic.P256():
			return []string{"ES256"}
		case elliptic.P384():
			return []string{"ES384"}
		case elliptic.P521():
			return []string{"ES512"}
		}
	case ed25519.PublicKey:
		return []string{"EdDSA"}
	}
	return nil
}

// keyKind names the key type of pub for error messages.
func keyKind(pub crypto.PublicKey) string {
	switch pub := pub.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("an RSA %d-bit key", pub.N.BitLen())
	case *ecdsa.PublicKey:
		return "an EC " + pub.Curve.Params().Name + " key"
	case ed25519.PublicKey:
		return "an Ed25519 key"
	}
	return fmt.Sprintf("a %T key", pub)
}

// LoadClientKey reads a PEM private key from path; see [ParseClientKey].
// Errors are [*ClientKeyError] values naming the file.
func LoadClientKey(path, alg, kid string) (*ClientKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, &ClientKeyError{Source: path, Problem: "cannot read the file: " + err.Error()}
	}
	return ParseClientKey(data, path, alg, kid)
}

// ParseClientKey parses a PEM private key: PKCS#8 ("PRIVATE KEY"), SEC 1
// ("EC PRIVATE KEY") or PKCS#1 ("RSA PRIVATE KEY"); other blocks such as
// "EC PARAMETERS" before it are skipped. alg is the JWS algorithm; ""
// selects RS256 for RSA keys, ES256/ES384/ES512 for EC keys on P-256/P-384/
// P-521 and EdDSA for Ed25519 keys. An algorithm the key cannot sign with,
// such as ES256 with an RSA key, is an error, as is an RSA key shorter
// than 2048 bits. kid, if not "", goes into each assertion's header. source
// names the key in errors, such as its file path. Errors are
// [*ClientKeyError] values and never hold key material.
func ParseClientKey(data []byte, source, alg, kid string) (*ClientKey, error) {
	fail := func(format string, args ...any) (*ClientKey, error) {
		return nil, &ClientKeyError{Source: source, Problem: fmt.Sprintf(format, args...)}
	}
	var key any
	var der []byte // the private key's, as its block held it
	rest := data
	sawPEM := false
	for key == nil {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			if sawPEM {
				return fail("no private key block in the PEM data (want PRIVATE KEY, EC PRIVATE KEY or RSA PRIVATE KEY)")
			}
			return fail("not PEM: want a private key file that starts with -----BEGIN PRIVATE KEY-----")
		}
		sawPEM = true
		var err error
		switch block.Type {
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			if _, encrypted := block.Headers["DEK-Info"]; encrypted {
				return fail("the RSA key is encrypted: decrypt it first (openssl pkey -in FILE -out PLAIN)")
			}
			key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		case "ENCRYPTED PRIVATE KEY":
			return fail("the key is encrypted: decrypt it first (openssl pkey -in FILE -out PLAIN)")
		case "PUBLIC KEY", "RSA PUBLIC KEY", "CERTIFICATE":
			return fail("holds a %s, not a private key: give the private key whose public key is registered with the authorization server", block.Type)
		default:
			continue
		}
		if err != nil {
			return fail("the %s block does not parse: %v", block.Type, err)
		}
		der = block.Bytes
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return fail("a %T key cannot sign", key)
	}
	pub := signer.Public()
	if rk, ok := pub.(*rsa.PublicKey); ok && rk.N.BitLen() < minRSABits {
		return fail("%s is too short: use at least %d bits", keyKind(pub), minRSABits)
	}
	algs := algorithms(pub)
	if len(algs) == 0 {
		return fail("%s is not supported (want RSA, EC P-256/P-384/P-521 or Ed25519)", keyKind(pub))
	}
	if alg == "" {
		alg = algs[0]
	}
	if !slices.Contains(algs, alg) {
		return fail("%s cannot sign %s (want %v)", keyKind(pub), alg, algs)
	}
	method := jwt.GetSigningMethod(alg)
	if method == nil {
		return fail("algorithm %s is unknown", alg)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return fail("the public key does not encode: %v", err)
	}
	sum := sha256.Sum256(pubDER)
	return &ClientKey{signer: signer, method: method, kid: kid, source: source, fingerprint: hex.EncodeToString(sum[:4]), der: der}, nil
}

// Alg returns the JWS algorithm the key signs with, such as "ES256".
func (k *ClientKey) Alg() string { return k.method.Alg() }

// KeyID returns the kid put in assertions' headers, or "".
func (k *ClientKey) KeyID() string { return k.kid }

// Public returns the public key, for registering the client or for tests.
func (k *ClientKey) Public() crypto.PublicKey { return k.signer.Public() }

// Fingerprint returns the first 8 hex digits of the SHA-256 of the public
// key's DER encoding: enough to tell keys apart, nothing secret.
func (k *ClientKey) Fingerprint() string { return k.fingerprint }

// String describes k without key material, such as
// "ES256 key 1a2b3c4d (kid k1) from key.pem".
func (k *ClientKey) String() string {
	if k == nil {
		return "<nil ClientKey>"
	}
	s := k.Alg() + " key " + k.fingerprint
	if k.kid != "" {
		s += " (kid " + k.kid + ")"
	}
	if k.source != "" {
		s += " from " + k.source
	}
	return s
}

// GoString is String, so that %#v never prints key material either.
func (k *ClientKey) GoString() string { return k.String() }

// Assertion returns a new signed client assertion (RFC 7523 §3) for
// clientID: iss and sub the client id, aud audience, a random jti, iat now
// and exp now plus [AssertionLifetime].
func (k *ClientKey) Assertion(clientID, audience string, now time.Time) (string, error) {
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", fmt.Errorf("%w: jti: %w", ErrClientKey, err)
	}
	claims := jwt.MapClaims{
		"iss": clientID,
		"sub": clientID,
		"aud": audience, // a string, not an array: some servers accept only that
		"jti": hex.EncodeToString(id[:]),
		"iat": now.Unix(),
		"exp": now.Add(AssertionLifetime).Unix(),
	}
	t := jwt.NewWithClaims(k.method, claims)
	if k.kid != "" {
		t.Header["kid"] = k.kid
	}
	s, err := t.SignedString(k.signer)
	if err != nil {
		return "", &ClientKeyError{Source: k.source, Problem: "signing the assertion failed: " + err.Error()}
	}
	return s, nil
}
