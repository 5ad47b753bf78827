package discovery_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/agentcore-proxy/agentcore-proxy/discovery"
)

// ExampleDiscoverResource finds the token endpoint of an MCP server that
// answers 401 with an RFC 9728 challenge, as the MCP authorization
// specification asks, and prints each request made.
func ExampleDiscoverResource() {
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	defer srv.Close()
	mux.HandleFunc("POST /mcp", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("WWW-Authenticate", `Bearer resource_metadata="`+srv.URL+`/.well-known/oauth-protected-resource/mcp"`)
		w.WriteHeader(http.StatusUnauthorized)
	})
	mux.HandleFunc("GET /.well-known/oauth-protected-resource/mcp", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, `{"resource":%q,"authorization_servers":[%q]}`, srv.URL+"/mcp", srv.URL+"/as")
	})
	mux.HandleFunc("GET /.well-known/oauth-authorization-server/as", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, `{"issuer":%q,"token_endpoint":%q,"token_endpoint_auth_methods_supported":["private_key_jwt"]}`,
			srv.URL+"/as", srv.URL+"/as/token")
	})

	d, err := discovery.DiscoverResource(context.Background(), nil, srv.URL+"/mcp", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, h := range d.Hops {
		fmt.Println(h.Purpose, strings.TrimPrefix(h.URL, srv.URL), h.Status)
	}
	fmt.Println("token endpoint:", strings.TrimPrefix(d.AuthServer.TokenEndpoint, srv.URL))
	fmt.Println("auth methods:", d.AuthServer.TokenEndpointAuthMethods)
	// Output:
	// probe /mcp 401
	// resource_metadata /.well-known/oauth-protected-resource/mcp 200
	// server_metadata /.well-known/oauth-authorization-server/as 200
	// token endpoint: /as/token
	// auth methods: [private_key_jwt]
}

// ExampleParseBearerChallenge reads the step-up challenge of an MCP server
// (MCP 2025-11-25) behind a middlebox that added a malformed challenge of
// its own: that one is skipped, the Bearer challenge is read.
func ExampleParseBearerChallenge() {
	header := http.Header{}
	header.Add("WWW-Authenticate", "Gateway realm=\"edge\x01\", Bearer error=\"insufficient_scope\", scope=\"mcp:read mcp:write\"")
	ch, ok := discovery.ParseBearerChallenge(header.Values("WWW-Authenticate"))
	fmt.Println(ok, ch.Error, ch.Scope)
	// Output:
	// true insufficient_scope [mcp:read mcp:write]
}
