package tokencache_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/agentcore-proxy/agentcore-proxy/tokencache"
)

func Example() {
	// A stand-in for https://DOMAIN.auth.REGION.amazoncognito.com/oauth2/token.
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id, secret, ok := r.BasicAuth(); !ok || id != "my-client" || secret != "my-secret" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"error":"invalid_client"}`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"access_token":"example-token","token_type":"Bearer","expires_in":3600}`)
	}))
	defer idp.Close()

	// The cache's context is the process's: cancel it at shutdown.
	ctx, cancel := context.WithCancel(context.Background())
	cache, err := tokencache.New(ctx, tokencache.Config{
		TokenURL:     idp.URL + "/oauth2/token",
		ClientID:     "my-client",
		ClientSecret: "my-secret",
		Scopes:       []string{"agentcore/invoke"},
	})
	if err != nil {
		cancel()
		fmt.Println(err)
		return
	}
	defer func() { cancel(); <-cache.Done() }()

	// Per request: the token for the Authorization header. Never log it:
	// State gives its fingerprint.
	token, err := cache.Token(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	req := httptest.NewRequest(http.MethodPost, "https://bedrock-agentcore.us-west-2.amazonaws.com/runtimes/x/invocations", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	fmt.Println("token fingerprint:", cache.State().Fingerprint)
	fmt.Println("ready:", cache.State().Valid)

	// Had the upstream answered 401 to token, cache.Invalidate(token) would
	// make the next Token call fetch a new one.

	// Output:
	// token fingerprint: 4d1566a1
	// ready: true
}
