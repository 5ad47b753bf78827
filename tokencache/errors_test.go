package tokencache

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/agentcore-proxy/agentcore-proxy/internal/secureurl"
)

// reasoner is what a caller of the cache asks an error for its reason code.
type reasoner interface{ Reason() string }

// TestTokenErrorTyped: every failure of a real token request is a
// *TokenError with its reason code, and errors.As reaches the error of
// x/oauth2 or net/http beneath it.
func TestTokenErrorTyped(t *testing.T) {
	tests := []struct {
		name       string
		reply      reply
		want       error
		wantReason string
		wantStatus int
		wantCode   string
	}{
		{name: "invalid_client", reply: reply{401, `{"error":"invalid_client","error_description":"bad secret ` + testSecret + `"}`},
			want: ErrInvalidClient, wantReason: ReasonInvalidClient, wantStatus: 401, wantCode: "invalid_client"},
		{name: "invalid_scope", reply: reply{400, `{"error":"invalid_scope"}`},
			want: ErrInvalidScope, wantReason: ReasonInvalidScope, wantStatus: 400, wantCode: "invalid_scope"},
		{name: "unauthorized_client", reply: reply{400, `{"error":"unauthorized_client"}`},
			want: ErrUnauthorizedClient, wantReason: ReasonUnauthorizedClient, wantStatus: 400, wantCode: "unauthorized_client"},
		{name: "unsupported_grant_type", reply: reply{400, `{"error":"unsupported_grant_type"}`},
			want: ErrUnsupportedGrantType, wantReason: ReasonUnsupportedGrantType, wantStatus: 400, wantCode: "unsupported_grant_type"},
		{name: "another error code", reply: reply{400, `{"error":"invalid_request"}`},
			want: ErrTokenEndpoint, wantReason: ReasonTokenEndpoint, wantStatus: 400, wantCode: "invalid_request"},
		{name: "5xx", reply: reply{503, "unavailable"},
			want: ErrTokenEndpoint, wantReason: ReasonTokenEndpoint, wantStatus: 503},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeIdP(t, 3600)
			f.push(tt.reply)
			c := newTestCache(t, f, &syncBuffer{}, func(cfg *Config) { cfg.MaxAttempts = 1 })

			_, err := c.Token(t.Context())
			if !errors.Is(err, tt.want) {
				t.Fatalf("Token() = %v, want errors.Is %v", err, tt.want)
			}
			var te *TokenError
			if !errors.As(err, &te) || te.Reason() != tt.wantReason || te.Status != tt.wantStatus || te.Code != tt.wantCode || te.TokenURL != f.tokenURL() {
				t.Fatalf("Token() = %#v, want a *TokenError with reason %s, status %d, code %q", err, tt.wantReason, tt.wantStatus, tt.wantCode)
			}
			var r reasoner
			if !errors.As(err, &r) || r.Reason() != tt.wantReason {
				t.Errorf("errors.As(Token(), reasoner) = %v, want reason %s", r, tt.wantReason)
			}
			var re *oauth2.RetrieveError
			if !errors.As(err, &re) || re.Response == nil || re.Response.StatusCode != tt.wantStatus || re.ErrorCode != tt.wantCode {
				t.Errorf("errors.As(Token(), *oauth2.RetrieveError) = %+v, want the x/oauth2 error of the %d answer", re, tt.wantStatus)
			}
			if strings.Contains(err.Error(), testSecret) {
				t.Errorf("Token() error %q holds the secret", err)
			}
		})
	}
}

// TestTokenErrorNetwork: an unreachable endpoint and a redirect are
// *TokenErrors too, reaching the *url.Error and the
// *secureurl.RedirectError beneath.
func TestTokenErrorNetwork(t *testing.T) {
	t.Run("unreachable", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		tokenURL := srv.URL + "/oauth2/token"
		srv.Close() // nothing listens on the port now
		c, err := New(t.Context(), Config{TokenURL: tokenURL, ClientID: testClientID, ClientSecret: testSecret, MaxAttempts: 1})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { <-c.Done() })
		_, err = c.Token(t.Context())
		var te *TokenError
		var ue *url.Error
		if !errors.As(err, &te) || te.Reason() != ReasonTokenEndpoint || te.Status != 0 || !errors.As(err, &ue) || !errors.Is(err, ErrTokenEndpoint) {
			t.Errorf("Token() = %#v, want a *TokenError (token_endpoint_error, no status) over a *url.Error", err)
		}
	})
	t.Run("redirect", func(t *testing.T) {
		idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/elsewhere", http.StatusTemporaryRedirect)
		}))
		defer idp.Close()
		c, err := New(t.Context(), Config{TokenURL: idp.URL + "/oauth2/token", ClientID: testClientID, ClientSecret: testSecret})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { <-c.Done() })
		_, err = c.Token(t.Context())
		var te *TokenError
		var rd *secureurl.RedirectError
		if !errors.As(err, &te) || te.Status != http.StatusTemporaryRedirect || !errors.As(err, &rd) || !errors.Is(err, ErrTokenRedirect) {
			t.Errorf("Token() = %#v, want a *TokenError with status 307 over a *secureurl.RedirectError", err)
		}
	})
}
