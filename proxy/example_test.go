package proxy_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"

	"github.com/agentcore-proxy/agentcore-proxy/proxy"
)

// staticToken is a TokenSource with one token, as a test or a sidecar with
// a token from elsewhere might use.
type staticToken string

func (s staticToken) Token(context.Context) (string, error) { return string(s), nil }
func (s staticToken) Invalidate(string)                     {}

func ExampleNew() {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"jsonrpc":"2.0","id":1,"result":{"authorization":%q}}`, r.Header.Get("Authorization"))
	}))
	defer upstream.Close()
	target, _ := url.Parse(upstream.URL + "/mcp")
	p, err := proxy.New(proxy.Options{Target: target, Tokens: staticToken("t0ken")})
	if err != nil {
		panic(err)
	}
	front := httptest.NewServer(p)
	defer front.Close()

	resp, err := http.Post(front.URL+"/mcp", "application/json", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"ping"}`))
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, string(body))
	// Output:
	// 200 {"jsonrpc":"2.0","id":1,"result":{"authorization":"Bearer t0ken"}}
}
