//go:build unix

// Tests of tokencache and jwtcheck against a real provider: panva's
// oidc-provider, started by provider.mjs on Node 22 (npm ci in this
// directory, or .ci/install-deps).
package oidc_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/agentcore-proxy/agentcore-proxy/discovery"
	"github.com/agentcore-proxy/agentcore-proxy/internal/redact"
	"github.com/agentcore-proxy/agentcore-proxy/jwtcheck"
	"github.com/agentcore-proxy/agentcore-proxy/tokencache"
	"github.com/golang-jwt/jwt/v5"
)

const (
	basicID     = "mcp-basic-client"
	basicSecret = "basic-secret-do-not-leak-7f3e9a"
	jwtID       = "mcp-jwt-client"
	resource    = "https://mcp.example.com/mcp"
)

// provider is a running provider.mjs.
type provider struct {
	issuer  string
	key     *tokencache.ClientKey // the private_key_jwt client's key
	keyFile string                // its PEM file
}

// startProvider starts provider.mjs with a fresh EC key for the
// private_key_jwt client and returns once it prints its issuer. The process
// is killed when the test ends.
func startProvider(t *testing.T) *provider {
	t.Helper()
	node, err := filepath.Abs(filepath.Join("node_modules", ".bin", "node"))
	if err == nil {
		_, err = os.Stat(node)
	}
	if err != nil {
		if testing.Short() {
			t.Skipf("skipped under -short: Node 22 for oidc-provider is not installed (%v); run npm ci in e2e/oidc", err)
		}
		t.Fatalf("Node 22 for oidc-provider: %v; run `npm ci --prefix e2e/oidc` (or .ci/install-deps) first", err)
	}

	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(ec)
	keyFile := filepath.Join(t.TempDir(), "client-key.pem")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	key, err := tokencache.LoadClientKey(keyFile, "", "client-key-1")
	if err != nil {
		t.Fatalf("LoadClientKey() = %v", err)
	}
	b64 := func(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
	jwk, _ := json.Marshal(map[string]string{
		"kty": "EC", "crv": "P-256", "kid": "client-key-1", "alg": "ES256",
		"x": b64(ec.X.FillBytes(make([]byte, 32))), "y": b64(ec.Y.FillBytes(make([]byte, 32))),
	})

	cmd := exec.Command(node, "provider.mjs")
	cmd.Env = append(os.Environ(),
		"OIDC_BASIC_CLIENT_ID="+basicID, "OIDC_BASIC_CLIENT_SECRET="+basicSecret,
		"OIDC_JWT_CLIENT_ID="+jwtID, "OIDC_JWT_CLIENT_JWK="+string(jwk), "OIDC_PORT=0")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdin, _ := cmd.StdinPipe() // closing it stops the provider
	stdout, _ := cmd.StdoutPipe()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting provider.mjs: %v", err)
	}
	t.Cleanup(func() {
		stdin.Close()
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
	})
	issuer := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "issuer "); ok {
				issuer <- rest
				break
			}
		}
		io.Copy(io.Discard, stdout)
		close(issuer)
	}()
	select {
	case iss, ok := <-issuer:
		if !ok {
			t.Fatalf("provider.mjs exited without printing its issuer; stderr:\n%s", &stderr)
		}
		return &provider{issuer: iss, key: key, keyFile: keyFile}
	case <-time.After(60 * time.Second):
		t.Fatalf("provider.mjs printed no issuer within 60s; stderr:\n%s", &stderr)
	}
	return nil
}

// rotate makes the provider sign with a new key and returns its kid.
func (p *provider) rotate(t *testing.T) string {
	t.Helper()
	resp, err := http.Post(p.issuer+"/-/rotate", "", nil)
	if err != nil {
		t.Fatalf("rotate: %v", err)
	}
	defer resp.Body.Close()
	var out struct{ Kid string }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.Kid == "" {
		t.Fatalf("rotate: %v, kid %q", err, out.Kid)
	}
	return out.Kid
}

// newCache discovers the provider from its issuer URL and returns a cache
// for cfg, with TokenURL and AssertionAudience filled in from the metadata.
func newCache(t *testing.T, p *provider, cfg tokencache.Config) (*tokencache.Cache, *discovery.AuthServer) {
	t.Helper()
	as, err := discovery.DiscoverAuthServer(t.Context(), nil, p.issuer)
	if err != nil {
		t.Fatalf("DiscoverAuthServer(%s) = %v", p.issuer, err)
	}
	cfg.TokenURL = as.TokenEndpoint
	if cfg.AuthStyle == tokencache.AuthStylePrivateKeyJWT {
		cfg.AssertionAudience = as.Issuer
	}
	ctx, cancel := context.WithCancel(context.Background())
	c, err := tokencache.New(ctx, cfg)
	if err != nil {
		cancel()
		t.Fatalf("tokencache.New() = %v", err)
	}
	t.Cleanup(func() { cancel(); <-c.Done() })
	return c, as
}

// newChecker returns a jwtcheck.Checker for the provider whose key set has loaded.
func newChecker(t *testing.T, as *discovery.AuthServer, rules jwtcheck.Rules) *jwtcheck.Checker {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ch, err := jwtcheck.New(ctx, jwtcheck.Config{Issuer: as.Issuer, JWKSURI: as.JWKSURI, Rules: rules})
	if err != nil {
		cancel()
		t.Fatalf("jwtcheck.New() = %v", err)
	}
	t.Cleanup(func() { cancel(); <-ch.Done() })
	if err := ch.WaitReady(t.Context()); err != nil {
		t.Fatalf("jwtcheck key set from %s: %v", as.JWKSURI, err)
	}
	return ch
}

func kidOf(t *testing.T, token string) string {
	t.Helper()
	tok, _, err := jwt.NewParser().ParseUnverified(token, jwt.MapClaims{})
	if err != nil {
		t.Fatalf("token does not parse as a JWT: %v", err)
	}
	kid, _ := tok.Header["kid"].(string)
	return kid
}

func TestBasicWithResourceGetsJWTAcrossKeyRotation(t *testing.T) {
	p := startProvider(t)
	c, as := newCache(t, p, tokencache.Config{ClientID: basicID, ClientSecret: basicSecret, Resource: resource})
	if as.JWKSURI == "" {
		t.Fatalf("provider metadata from %s has no jwks_uri", as.MetadataURL)
	}
	checker := newChecker(t, as, jwtcheck.Rules{AllowedClients: []string{basicID}, AllowedAudience: []string{resource}})

	first, err := c.Token(t.Context())
	if err != nil {
		t.Fatalf("Token() = %v, want a JWT access token for %s", err, resource)
	}
	if !tokencache.IsJWT(first) {
		t.Fatalf("Token() with resource gave an opaque token (fingerprint %s), want a JWT", redact.Fingerprint(first))
	}
	if _, err := checker.Check(first); err != nil {
		t.Fatalf("jwtcheck Check(first token) = %v", err)
	}

	newKid := p.rotate(t)
	c.Invalidate(first)
	second, err := c.Token(t.Context())
	if err != nil {
		t.Fatalf("Token() after rotation = %v", err)
	}
	if got := kidOf(t, second); got != newKid || got == kidOf(t, first) {
		t.Errorf("token after rotation signed with kid %q, want the new kid %q", got, newKid)
	}
	for name, tok := range map[string]string{"new-key token": second, "old-key token": first} {
		if _, err := checker.Check(tok); err != nil {
			t.Errorf("jwtcheck Check(%s) after rotation = %v, want it valid", name, err)
		}
	}
}

func TestPrivateKeyJWT(t *testing.T) {
	p := startProvider(t)
	for _, tt := range []struct {
		name     string
		resource string
		wantJWT  bool
	}{
		{name: "with resource", resource: resource, wantJWT: true},
		{name: "without resource", wantJWT: false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, as := newCache(t, p, tokencache.Config{
				ClientID: jwtID, AuthStyle: tokencache.AuthStylePrivateKeyJWT, ClientKey: p.key, Resource: tt.resource,
			})
			tok, err := c.Token(t.Context())
			if err != nil {
				t.Fatalf("Token() with private_key_jwt = %v", err)
			}
			if tokencache.IsJWT(tok) != tt.wantJWT {
				t.Fatalf("IsJWT(token) = %v, want %v", !tt.wantJWT, tt.wantJWT)
			}
			if tt.wantJWT {
				checker := newChecker(t, as, jwtcheck.Rules{AllowedClients: []string{jwtID}, AllowedAudience: []string{resource}})
				if _, err := checker.Check(tok); err != nil {
					t.Errorf("jwtcheck Check() = %v", err)
				}
			}
			// A second token needs a second assertion: the provider refuses a reused jti.
			c.Invalidate(tok)
			if again, err := c.Token(t.Context()); err != nil || again == tok {
				t.Errorf("second Token() = %v (same token: %v), want a new token", err, again == tok)
			}
		})
	}
}

func TestNoResourceGivesOpaqueToken(t *testing.T) {
	p := startProvider(t)
	c, _ := newCache(t, p, tokencache.Config{ClientID: basicID, ClientSecret: basicSecret})
	before := time.Now()
	tok, err := c.Token(t.Context())
	if err != nil {
		t.Fatalf("Token() = %v", err)
	}
	if tokencache.IsJWT(tok) {
		t.Fatal("Token() without resource gave a JWT, want an opaque token")
	}
	// The provider's ClientCredentials TTL is 300 s, sent as expires_in.
	if left := c.State().ExpiresAt.Sub(before); left < 290*time.Second || left > 301*time.Second {
		t.Errorf("opaque token expires %v after the request, want about 300s", left)
	}
}

func TestWrongSecretIsInvalidClient(t *testing.T) {
	p := startProvider(t)
	c, _ := newCache(t, p, tokencache.Config{ClientID: basicID, ClientSecret: "wrong", MaxAttempts: 1})
	_, err := c.Token(t.Context())
	if !errors.Is(err, tokencache.ErrInvalidClient) {
		t.Errorf("Token() with a wrong secret = %v, want ErrInvalidClient", err)
	}
}
