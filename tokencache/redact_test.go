package tokencache

import (
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
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/agentcore-proxy/agentcore-proxy/internal/redact"
)

// TestEchoingIdPRedacted: a token endpoint that quotes the Authorization
// header and the form body it got, in error_description (400
// invalid_client) and in a 500 body, gets neither the secret nor the Basic
// credentials into the error or the log: their fingerprint stands there.
func TestEchoingIdPRedacted(t *testing.T) {
	const secret = "s3cr3t+with/odd=chars"
	basicPlain := base64.StdEncoding.EncodeToString([]byte(testClientID + ":" + secret))
	basicForm := base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(testClientID) + ":" + url.QueryEscape(secret)))
	leaks := []string{secret, url.QueryEscape(secret), basicPlain, basicForm}
	label := "[secret sha256:" + redact.Fingerprint(secret) + "]"
	for _, tc := range []struct {
		name   string
		status int
		style  AuthStyle
		want   error
	}{
		{name: "400 invalid_client, Basic", status: 400, style: AuthStyleBasic, want: ErrInvalidClient},
		{name: "400 invalid_client, post", status: 400, style: AuthStylePost, want: ErrInvalidClient},
		{name: "401 other, Basic", status: 401, style: AuthStyleBasic, want: ErrTokenEndpoint},
		{name: "500, post", status: 500, style: AuthStylePost, want: ErrTokenEndpoint},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				echo := "you sent " + r.Header.Get("Authorization") + " and " + string(body)
				code := "invalid_client"
				if tc.status != 400 {
					code = "server_error"
				}
				b, _ := json.Marshal(map[string]string{"error": code, "error_description": echo})
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tc.status)
				w.Write(b)
			}))
			defer srv.Close()
			var logs syncBuffer
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			c, err := New(ctx, Config{TokenURL: srv.URL, ClientID: testClientID, ClientSecret: secret, AuthStyle: tc.style, MaxAttempts: 1,
				Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Token(ctx)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Token() = %v, want %v", err, tc.want)
			}
			cancel()
			<-c.Done()
			for _, leak := range leaks {
				if strings.Contains(err.Error(), leak) {
					t.Errorf("Token() error = %q, holds %q", err, leak)
				}
				if strings.Contains(logs.String(), leak) {
					t.Errorf("log holds %q: %s", leak, logs.String())
				}
			}
			if !strings.Contains(err.Error(), label) {
				t.Errorf("Token() error = %q, want the secret's fingerprint %s", err, label)
			}
		})
	}
}

// TestEchoedAssertionAndKeyRedacted: under private_key_jwt, an identity
// provider that quotes the form body gets no client assertion into the
// error, and the key's PEM text is redacted line by line.
func TestEchoedAssertionAndKeyRedacted(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(ec)
	pemText := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	key, err := ParseClientKey([]byte(pemText), "key.pem", "", "")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var assertions []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		mu.Lock()
		assertions = append(assertions, r.PostForm.Get("client_assertion"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(401)
		json.NewEncoder(w).Encode(map[string]string{"error": "invalid_client", "error_description": "bad assertion in " + r.PostForm.Encode()})
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, err := New(ctx, Config{TokenURL: srv.URL, ClientID: testClientID, AuthStyle: AuthStylePrivateKeyJWT, ClientKey: key,
		AssertionAudience: srv.URL, MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Token(ctx)
	if !errors.Is(err, ErrInvalidClient) {
		t.Fatalf("Token() = %v, want ErrInvalidClient", err)
	}
	cancel()
	<-c.Done()
	mu.Lock()
	defer mu.Unlock()
	if len(assertions) == 0 || assertions[0] == "" {
		t.Fatal("the token endpoint got no client assertion")
	}
	for _, a := range assertions {
		if strings.Contains(err.Error(), a) {
			t.Errorf("Token() error = %q, holds the client assertion", err)
		}
		if label := "[token sha256:" + redact.Fingerprint(a) + "]"; !strings.Contains(err.Error(), label) {
			t.Errorf("Token() error = %q, want the assertion's fingerprint %s", err, label)
		}
	}
	got := c.redact("key: " + pemText)
	for _, line := range strings.Split(pemText, "\n") {
		if len(line) >= 8 && !strings.HasPrefix(line, "-----") && strings.Contains(got, line) {
			t.Errorf("redact(PEM) = %q, keeps the line %q", got, line)
		}
	}
	if !strings.Contains(got, "[key sha256:"+key.Fingerprint()+"]") {
		t.Errorf("redact(PEM) = %q, want the key's fingerprint", got)
	}
}
