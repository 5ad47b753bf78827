package tokencache

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// writePEM writes blocks to a file in a temporary directory and returns its path.
func writePEM(t *testing.T, name string, blocks ...*pem.Block) string {
	t.Helper()
	var data []byte
	for _, b := range blocks {
		data = append(data, pem.EncodeToMemory(b)...)
	}
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func pkcs8(t *testing.T, key any) *pem.Block {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return &pem.Block{Type: "PRIVATE KEY", Bytes: der}
}

func TestLoadClientKey(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ec384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	sec1, _ := x509.MarshalECPrivateKey(ec)
	pubDER, _ := x509.MarshalPKIXPublicKey(&ec.PublicKey)

	tests := []struct {
		name    string
		blocks  []*pem.Block
		alg     string
		wantAlg string
		wantErr string // substring of the error; "" for success
	}{
		{name: "PKCS#8 P-256", blocks: []*pem.Block{pkcs8(t, ec)}, wantAlg: "ES256"},
		{name: "SEC1 P-256 after EC PARAMETERS", blocks: []*pem.Block{{Type: "EC PARAMETERS", Bytes: []byte{6, 8, 42, 134, 72, 206, 61, 3, 1, 7}}, {Type: "EC PRIVATE KEY", Bytes: sec1}}, wantAlg: "ES256"},
		{name: "PKCS#8 P-384", blocks: []*pem.Block{pkcs8(t, ec384)}, wantAlg: "ES384"},
		{name: "PKCS#1 RSA", blocks: []*pem.Block{{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rk)}}, wantAlg: "RS256"},
		{name: "PKCS#8 RSA with PS256", blocks: []*pem.Block{pkcs8(t, rk)}, alg: "PS256", wantAlg: "PS256"},
		{name: "Ed25519", blocks: []*pem.Block{pkcs8(t, ed)}, wantAlg: "EdDSA"},
		{name: "RSA key with ES256", blocks: []*pem.Block{pkcs8(t, rk)}, alg: "ES256", wantErr: "an RSA 2048-bit key cannot sign ES256"},
		{name: "P-256 key with RS256", blocks: []*pem.Block{pkcs8(t, ec)}, alg: "RS256", wantErr: "an EC P-256 key cannot sign RS256 (want [ES256])"},
		{name: "short RSA key", blocks: []*pem.Block{pkcs8(t, small)}, wantErr: "too short"},
		{name: "public key", blocks: []*pem.Block{{Type: "PUBLIC KEY", Bytes: pubDER}}, wantErr: "holds a PUBLIC KEY, not a private key"},
		{name: "encrypted", blocks: []*pem.Block{{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{1}}}, wantErr: "encrypted"},
		{name: "garbage in a key block", blocks: []*pem.Block{{Type: "PRIVATE KEY", Bytes: []byte("nope")}}, wantErr: "the PRIVATE KEY block does not parse"},
		{name: "only other blocks", blocks: []*pem.Block{{Type: "EC PARAMETERS", Bytes: []byte{6}}}, wantErr: "no private key block"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writePEM(t, "key.pem", tt.blocks...)
			k, err := LoadClientKey(path, tt.alg, "kid-1")
			if tt.wantErr != "" {
				var ke *ClientKeyError
				if !errors.As(err, &ke) || !errors.Is(err, ErrClientKey) || !strings.Contains(err.Error(), tt.wantErr) || ke.Source != path {
					t.Fatalf("LoadClientKey(%s) = %v, %v, want a *ClientKeyError for the file containing %q", tt.name, k, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("LoadClientKey(%s) = %v, want no error", tt.name, err)
			}
			if k.Alg() != tt.wantAlg || k.KeyID() != "kid-1" || len(k.Fingerprint()) != 8 {
				t.Errorf("LoadClientKey(%s) = alg %s kid %s fingerprint %q, want alg %s kid kid-1 and 8 hex digits", tt.name, k.Alg(), k.KeyID(), k.Fingerprint(), tt.wantAlg)
			}
		})
	}
	t.Run("not PEM", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "secret.txt")
		os.WriteFile(path, []byte("s3cr3t"), 0o600)
		_, err := LoadClientKey(path, "", "")
		if err == nil || !strings.Contains(err.Error(), path+": not PEM") || strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("LoadClientKey(not PEM) = %v, want an error naming the file and not quoting it", err)
		}
	})
	t.Run("missing file", func(t *testing.T) {
		_, err := LoadClientKey(filepath.Join(t.TempDir(), "absent.pem"), "", "")
		if !errors.Is(err, ErrClientKey) || !strings.Contains(err.Error(), "cannot read the file: no such file") {
			t.Errorf("LoadClientKey(absent) = %v, want cannot read the file", err)
		}
	})
}

func TestClientKeyNeverPrintsKeyMaterial(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	path := writePEM(t, "k.pem", pkcs8(t, ec))
	k, err := LoadClientKey(path, "", "k1")
	if err != nil {
		t.Fatal(err)
	}
	d := fmt.Sprintf("%x", mustBytes(t, ec))
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		out := fmt.Sprintf(format, k)
		if strings.Contains(out, d) || !strings.Contains(out, "ES256 key "+k.Fingerprint()+" (kid k1) from "+path) {
			t.Errorf("Sprintf(%q, key) = %q, want the safe description only", format, out)
		}
	}
}

func TestAssertion(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	k, err := ParseClientKey(pem.EncodeToMemory(pkcs8(t, ec)), "test", "", "kid-7")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	seen := map[string]bool{}
	for range 2 {
		s, err := k.Assertion("client-1", "https://as.example", now)
		if err != nil {
			t.Fatalf("Assertion() = %v", err)
		}
		claims := verifyAssertion(t, s, k.Public(), "https://as.example")
		if claims["iss"] != "client-1" || claims["sub"] != "client-1" {
			t.Errorf("assertion iss, sub = %v, %v, want client-1", claims["iss"], claims["sub"])
		}
		jti, _ := claims["jti"].(string)
		if jti == "" || seen[jti] {
			t.Errorf("assertion jti %q: want a fresh one", jti)
		}
		seen[jti] = true
		iat, _ := claims.GetIssuedAt()
		exp, _ := claims.GetExpirationTime()
		if iat == nil || exp == nil || exp.Sub(iat.Time) > 5*time.Minute || !exp.After(now) {
			t.Errorf("assertion iat %v exp %v: want exp after now and at most 5 minutes after iat", iat, exp)
		}
	}
}

// verifyAssertion checks an assertion's signature and audience and returns
// its claims; the audience must be a single string.
func verifyAssertion(t *testing.T, s string, pub crypto.PublicKey, aud string) jwt.MapClaims {
	t.Helper()
	claims := jwt.MapClaims{}
	tok, err := jwt.ParseWithClaims(s, claims, func(*jwt.Token) (any, error) { return pub, nil },
		jwt.WithAudience(aud), jwt.WithExpirationRequired(), jwt.WithIssuedAt())
	if err != nil {
		t.Fatalf("assertion does not verify: %v", err)
	}
	if _, ok := claims["aud"].(string); !ok {
		t.Errorf("assertion aud = %#v, want a string", claims["aud"])
	}
	if tok.Header["kid"] == nil {
		t.Errorf("assertion header %v has no kid", tok.Header)
	}
	return claims
}

func mustBytes(t *testing.T, k *ecdsa.PrivateKey) []byte {
	t.Helper()
	b, err := k.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FuzzParseClientKey checks that the key parser never panics, that its
// errors never quote the input, and that a key it accepts signs an
// assertion that verifies.
func FuzzParseClientKey(f *testing.F) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(ec)
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), "")
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: []byte{0x30, 0x03, 0x02, 0x01, 0x01}}), "ES256")
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), "RS256")
	f.Fuzz(func(t *testing.T, data []byte, alg string) {
		k, err := ParseClientKey(data, "fuzz.pem", alg, "kid")
		if err != nil {
			var ke *ClientKeyError
			if !errors.As(err, &ke) {
				t.Fatalf("ParseClientKey error %v is not a *ClientKeyError", err)
			}
			if block, _ := pem.Decode(data); block != nil && len(block.Bytes) >= 8 {
				body := strings.Join(strings.Fields(string(pem.EncodeToMemory(&pem.Block{Type: "X", Bytes: block.Bytes}))), "")
				body = strings.TrimSuffix(strings.TrimPrefix(body, "-----BEGINX-----"), "-----ENDX-----")
				if len(body) >= 12 && strings.Contains(err.Error(), body[:12]) {
					t.Fatalf("ParseClientKey error %q quotes the key data", err)
				}
			}
			return
		}
		s, err := k.Assertion("c", "https://as", time.Now())
		if err != nil {
			t.Fatalf("Assertion() with an accepted key = %v", err)
		}
		verifyAssertion(t, s, k.Public(), "https://as")
	})
}
