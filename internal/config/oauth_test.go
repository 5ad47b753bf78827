package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentcore-proxy/agentcore-proxy/tokencache"
)

// writeKey writes key as a PKCS#8 PEM file and returns its path.
func writeKey(t *testing.T, key any) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestReadSecretsClientKey(t *testing.T) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecFile, rsaFile := writeKey(t, ec), writeKey(t, rsaKey)
	notKey := filepath.Join(t.TempDir(), "secret.txt")
	if err := os.WriteFile(notKey, []byte("just-a-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		file    string
		alg     string
		want    string // substring of the error; "" means the key loads
		wantAlg string
	}{
		{name: "P-256 key", file: ecFile, wantAlg: "ES256"},
		{name: "RSA key", file: rsaFile, wantAlg: "RS256"},
		{name: "not a key", file: notKey, want: `--client-key-file "` + notKey + `": `},
		{name: "RSA key with ES256", file: rsaFile, alg: "ES256", want: `--client-key-file "` + rsaFile + `": `},
		{name: "missing file", file: filepath.Join(t.TempDir(), "nope.pem"), want: "--client-key-file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := RouteFlags{UpstreamURL: "http://127.0.0.1:8000/mcp", ClientID: "c", ClientKeyFile: tt.file, ClientKeyAlg: tt.alg}
			routes, err := FromFlags("127.0.0.1:0", f).Validate(noEnv)
			if err != nil {
				t.Fatalf("Validate() = %v", err)
			}
			err = ReadSecrets(routes, noEnv)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("ReadSecrets() = %v, want nil", err)
				}
				a := routes[0].Auth
				if a.ClientKey == nil || a.ClientKey.Alg() != tt.wantAlg || a.AuthStyle != tokencache.AuthStylePrivateKeyJWT {
					t.Fatalf("ReadSecrets() key = %v style %v, want %s private_key_jwt", a.ClientKey, a.AuthStyle, tt.wantAlg)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ReadSecrets() = %v, want an error containing %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "just-a-secret") || strings.Contains(err.Error(), "MII") {
				t.Fatalf("ReadSecrets() = %v: shows file contents", err)
			}
			t.Log(err)
		})
	}
}

func TestParseYAMLTokenRequestKeys(t *testing.T) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := writeKey(t, ec)
	data := `
listen: 127.0.0.1:0
routes:
  - name: jwt
    path: /jwt/mcp
    target: {upstream_url: "https://mcp.example.com/mcp"}
    auth:
      client_id: c1
      issuer: https://auth.example.com
      token_auth_style: private_key_jwt
      client_key_file: ` + keyFile + `
      client_key_id: k1
      client_assertion_aud: token_endpoint
      resource: ""
      audience: https://api.example.com
      token_params: {prompt: none}
  - name: bad
    path: /bad/mcp
    target: {upstream_url: "https://mcp.example.com/mcp"}
    auth:
      client_id: c2
      client_secret_env: X
      token_params: {resource: x}
`
	cfg, err := Parse("routes.yaml", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	_, err = cfg.Validate(noEnv)
	want := `--config routes.yaml: routes[1].auth.token_params "resource": set by --config routes.yaml: routes[1].auth.resource`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Validate() = %v, want %q", err, want)
	}
	cfg.Routes = cfg.Routes[:1]
	routes, err := cfg.Validate(noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if err := ReadSecrets(routes, noEnv); err != nil {
		t.Fatal(err)
	}
	a := routes[0].Auth
	if a.AuthStyle != tokencache.AuthStylePrivateKeyJWT || a.ClientKey == nil || a.ClientKey.KeyID() != "k1" ||
		a.AssertionAud != AssertionAudTokenEndpoint || a.Resource == nil || *a.Resource != "" ||
		a.Audience != "https://api.example.com" || a.Params.Get("prompt") != "none" || a.Issuer != "https://auth.example.com" {
		t.Errorf("resolved auth = %+v, want every key applied", a)
	}
}
