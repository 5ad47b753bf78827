package tokencache

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// formRecorder is a token endpoint that records each request's form and
// Authorization header and answers an opaque token valid for lifetime seconds.
type formRecorder struct {
	srv      *httptest.Server
	lifetime int

	mu    sync.Mutex
	forms []url.Values
	auths []string
}

func newFormRecorder(t *testing.T, lifetime int) *formRecorder {
	t.Helper()
	f := &formRecorder{lifetime: lifetime}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		f.forms = append(f.forms, r.PostForm)
		f.auths = append(f.auths, r.Header.Get("Authorization"))
		n := len(f.forms)
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"access_token": "opaque-" + string(rune('a'+n)), "token_type": "Bearer", "expires_in": f.lifetime})
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *formRecorder) requests() ([]url.Values, []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]url.Values(nil), f.forms...), append([]string(nil), f.auths...)
}

func TestPrivateKeyJWTAndParamsOnEveryRequest(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	key, err := ParseClientKey(pem.EncodeToMemory(pkcs8(t, ec)), "test key", "", "k1")
	if err != nil {
		t.Fatal(err)
	}
	f := newFormRecorder(t, 3600)
	c := newCacheFor(t, Config{
		TokenURL:          f.srv.URL + "/token",
		ClientID:          "client-1",
		ClientSecret:      "ignored-secret",
		AuthStyle:         AuthStylePrivateKeyJWT,
		ClientKey:         key,
		AssertionAudience: "https://as.example",
		Resource:          "https://mcp.example/mcp",
		Audience:          "api://mcp",
		Params:            url.Values{"tenant": {"t1"}},
	})
	first, err := c.Token(t.Context())
	if err != nil {
		t.Fatalf("Token() = %v, want a token", err)
	}
	c.Invalidate(first) // the refresh must carry the same parameters
	if second, err := c.Token(t.Context()); err != nil || second == first {
		t.Fatalf("Token() after Invalidate = %q, %v, want a new token", second, err)
	}
	forms, auths := f.requests()
	if len(forms) != 2 {
		t.Fatalf("token requests = %d, want 2", len(forms))
	}
	jtis := map[string]bool{}
	for i, form := range forms {
		for k, want := range map[string]string{
			"grant_type": "client_credentials", "resource": "https://mcp.example/mcp", "audience": "api://mcp",
			"tenant": "t1", "client_assertion_type": ClientAssertionType, "client_id": "client-1",
		} {
			if got := form.Get(k); got != want {
				t.Errorf("request %d: %s = %q, want %q", i+1, k, got, want)
			}
		}
		if form.Has("client_secret") || auths[i] != "" {
			t.Errorf("request %d sent a client secret (form %v, Authorization %q)", i+1, form.Has("client_secret"), auths[i])
		}
		claims := verifyAssertion(t, form.Get("client_assertion"), key.Public(), "https://as.example")
		jtis[claims["jti"].(string)] = true
	}
	if len(jtis) != 2 {
		t.Errorf("assertions reused a jti: %v", jtis)
	}
}

func TestOpaqueTokenExpiryFromExpiresIn(t *testing.T) {
	f := newFormRecorder(t, 600)
	c := newCacheFor(t, Config{TokenURL: f.srv.URL + "/token", ClientID: "c", ClientSecret: "s"})
	before := time.Now()
	tok, err := c.Token(t.Context())
	if err != nil || IsJWT(tok) {
		t.Fatalf("Token() = %q, %v, want an opaque token", tok, err)
	}
	st := c.State()
	if exp := st.ExpiresAt.Sub(before); exp < 590*time.Second || exp > 601*time.Second {
		t.Errorf("opaque token expires %v after the request, want about expires_in = 600s", exp)
	}
}

func TestIsJWT(t *testing.T) {
	for tok, want := range map[string]bool{
		"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln": true,
		"cc-token-1733000000000":                    false,
		"a.b":                                       false,
		"a.b.c.d.e":                                 false,
		"!!.eyJ9.x":                                 false,
	} {
		if got := IsJWT(tok); got != want {
			t.Errorf("IsJWT(%q) = %v, want %v", tok, got, want)
		}
	}
}

func TestNewValidatesAssertionAndParams(t *testing.T) {
	base := Config{TokenURL: "https://idp/token", ClientID: "id"}
	cfg := base
	cfg.AuthStyle = AuthStylePrivateKeyJWT
	cfg.Resource = "not a uri"
	cfg.Params = url.Values{"client_secret": {"x"}, "scope": {"y"}, "": {"z"}}
	_, err := New(t.Context(), cfg)
	if !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("New() = %v, want ErrInvalidConfig", err)
	}
	for _, w := range []string{"ClientKey is nil", "AssertionAudience is empty", `Resource "not a uri"`, `may not set "client_secret"`, `may not set "scope"`, "empty parameter name"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("New() = %q, want it to mention %q", err, w)
		}
	}
	if strings.Contains(err.Error(), "ClientSecret is empty") {
		t.Errorf("New() = %q: private_key_jwt needs no client secret", err)
	}
}

// newCacheFor returns a Cache for cfg that stops when the test ends.
func newCacheFor(t *testing.T, cfg Config) *Cache {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	c, err := New(ctx, cfg)
	if err != nil {
		cancel()
		t.Fatalf("New() = %v", err)
	}
	t.Cleanup(func() {
		cancel()
		<-c.Done()
	})
	return c
}
