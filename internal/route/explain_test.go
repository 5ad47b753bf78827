package route

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/agentcore-proxy/agentcore-proxy/agentcore"
	"github.com/agentcore-proxy/agentcore-proxy/jwtcheck"
	"github.com/agentcore-proxy/agentcore-proxy/tokencache"
)

// TestExplainTokenFailure: a real token endpoint's refusal gets its reason
// code and the catalogue's fix (the library's sentinel states only what
// the endpoint said), and the x/oauth2 error stays reachable.
func TestExplainTokenFailure(t *testing.T) {
	tests := []struct {
		name       string
		answer     string
		wantCode   string
		wantInText []string
	}{
		{name: "unauthorized_client", answer: `{"error":"unauthorized_client"}`, wantCode: agentcore.ReasonTokenUnauthorized,
			wantInText: []string{"tokencache: the client may not use the client_credentials grant (HTTP 400 unauthorized_client from ", ": enable the client_credentials flow for this app client"}},
		{name: "invalid_scope", answer: `{"error":"invalid_scope"}`, wantCode: agentcore.ReasonTokenInvalidScope,
			wantInText: []string{"rejected the requested scopes (HTTP 400 invalid_scope", ": each scope must be `resourceServer/scope` allowed for this app client"}},
		{name: "invalid_client", answer: `{"error":"invalid_client"}`, wantCode: agentcore.ReasonTokenInvalidClient,
			wantInText: []string{"rejected the client id or secret", ": check client_id and client_secret"}},
		{name: "another error", answer: `{"error":"invalid_request"}`, wantCode: agentcore.ReasonTokenEndpoint,
			wantInText: []string{"token request failed", "answered HTTP 400 invalid_request"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusBadRequest)
				fmt.Fprint(w, tt.answer)
			}))
			defer idp.Close()
			ctx, cancel := context.WithCancel(t.Context())
			cache, err := tokencache.New(ctx, tokencache.Config{TokenURL: idp.URL + "/oauth2/token", ClientID: "c", ClientSecret: "s", MaxAttempts: 1})
			if err != nil {
				t.Fatal(err)
			}
			defer func() { cancel(); <-cache.Done() }()
			_, err = cache.Token(t.Context())

			f := ExplainTokenFailure(err, nil)
			if f.Code != tt.wantCode || f.Reason() != tt.wantCode {
				t.Errorf("ExplainTokenFailure(%v).Code = %s, want %s", err, f.Code, tt.wantCode)
			}
			for _, w := range tt.wantInText {
				if !strings.Contains(f.Error(), w) {
					t.Errorf("ExplainTokenFailure().Error() = %q, want it to contain %q", f, w)
				}
			}
			var re *oauth2.RetrieveError
			if !errors.As(f, &re) || re.Response.StatusCode != http.StatusBadRequest {
				t.Errorf("errors.As(ExplainTokenFailure(), *oauth2.RetrieveError) = %v, want the 400 answer", re)
			}
		})
	}
}

// TestTokenReasonOfRuleError: a token the checker refuses, wrapped by the
// cache, has the reason of the rule; with no fix of its own, the
// catalogue's is given.
func TestTokenReasonOfRuleError(t *testing.T) {
	now := time.Now()
	err := jwtcheck.CheckClaims(&jwtcheck.Claims{ClientID: "c", ExpiresAt: now.Add(time.Hour)}, "", jwtcheck.Rules{AllowedAudience: []string{"api"}}, now, 0)
	err = fmt.Errorf("%w: %w", tokencache.ErrTokenRejected, err)
	f := ExplainTokenFailure(err, nil)
	if f.Code != agentcore.ReasonClaimAud || !strings.Contains(f.Error(), "(allowedAudience): with Cognito, whose access tokens never carry `aud`") {
		t.Errorf("ExplainTokenFailure(%v) = %s %q, want claim_aud with the catalogue's fix", err, f.Code, f)
	}
}
