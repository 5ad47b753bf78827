// Command libclient is an MCP conformance-suite client (scenarios
// auth/client-credentials-basic and auth/client-credentials-jwt) that
// authenticates with package tokencache alone: zero-configuration discovery
// from the MCP URL, client_secret_basic or private_key_jwt, opaque tokens.
// It checks the library against the suite until the proxy's own client
// command (agentcore-proxy serve with only --upstream-url and --client-id)
// replaces it.
//
// The suite runs it as `libclient SERVER_URL` with MCP_CONFORMANCE_SCENARIO
// and MCP_CONFORMANCE_CONTEXT in the environment (see ../README.md).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"time"

	"github.com/agentcore-proxy/agentcore-proxy/discovery"
	"github.com/agentcore-proxy/agentcore-proxy/tokencache"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "libclient:", err)
		os.Exit(1)
	}
}

// conformanceContext is MCP_CONFORMANCE_CONTEXT for the two scenarios.
type conformanceContext struct {
	Name             string `json:"name"`
	ClientID         string `json:"client_id"`
	ClientSecret     string `json:"client_secret"`
	PrivateKeyPEM    string `json:"private_key_pem"`
	SigningAlgorithm string `json:"signing_algorithm"`
}

func run(ctx context.Context, args []string, getenv func(string) string, stderr *os.File) error {
	if len(args) == 0 {
		return errors.New("usage: libclient MCP_SERVER_URL (with MCP_CONFORMANCE_CONTEXT set)")
	}
	serverURL := args[len(args)-1]
	var cc conformanceContext
	if err := json.Unmarshal([]byte(getenv("MCP_CONFORMANCE_CONTEXT")), &cc); err != nil {
		return fmt.Errorf("MCP_CONFORMANCE_CONTEXT: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 25*time.Second)
	defer cancel()

	d, err := discovery.DiscoverResource(ctx, nil, serverURL, nil)
	if err != nil {
		return err
	}
	for _, h := range d.Hops {
		fmt.Fprintf(stderr, "discovery: %-17s %s\n", h.Purpose, h)
	}
	cfg := tokencache.Config{
		TokenURL: d.AuthServer.TokenEndpoint,
		ClientID: cc.ClientID,
		Resource: d.Resource.Resource,
	}
	methods := d.AuthServer.TokenEndpointAuthMethods
	switch {
	case cc.PrivateKeyPEM != "":
		if len(methods) > 0 && !slices.Contains(methods, "private_key_jwt") {
			return fmt.Errorf("token endpoint supports %v, not private_key_jwt", methods)
		}
		key, err := tokencache.ParseClientKey([]byte(cc.PrivateKeyPEM), "MCP_CONFORMANCE_CONTEXT private_key_pem", cc.SigningAlgorithm, "")
		if err != nil {
			return err
		}
		cfg.AuthStyle, cfg.ClientKey, cfg.AssertionAudience = tokencache.AuthStylePrivateKeyJWT, key, d.AuthServer.Issuer
		fmt.Fprintf(stderr, "client auth: private_key_jwt with %v, aud %s\n", key, cfg.AssertionAudience)
	default:
		cfg.ClientSecret = cc.ClientSecret
		cfg.AuthStyle = tokencache.AuthStyleBasic
		if slices.Contains(methods, "client_secret_post") && !slices.Contains(methods, "client_secret_basic") {
			cfg.AuthStyle = tokencache.AuthStylePost
		}
		fmt.Fprintf(stderr, "client auth: %s\n", cfg.AuthStyle)
	}
	cache, err := tokencache.New(ctx, cfg)
	if err != nil {
		return err
	}

	hc := &http.Client{Transport: &bearer{cache: cache, next: http.DefaultTransport}}
	client := mcp.NewClient(&mcp.Implementation{Name: "agentcore-proxy-tokencache-conformance", Version: "0.0.0"}, nil)
	session, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: serverURL, HTTPClient: hc, DisableStandaloneSSE: true}, nil)
	if err != nil {
		return fmt.Errorf("MCP connect: %w", err)
	}
	defer session.Close()
	tools, err := session.ListTools(ctx, nil)
	if err != nil {
		return fmt.Errorf("tools/list: %w", err)
	}
	res, err := session.CallTool(ctx, &mcp.CallToolParams{Name: tools.Tools[0].Name, Arguments: map[string]any{}})
	if err != nil {
		return fmt.Errorf("tools/call %s: %w", tools.Tools[0].Name, err)
	}
	st := cache.State()
	fmt.Fprintf(stderr, "ok: %d tool(s), called %s (error %v); token %s opaque=%v\n",
		len(tools.Tools), tools.Tools[0].Name, res.IsError, st.Fingerprint, !tokencache.IsJWT(mustToken(ctx, cache)))
	return nil
}

func mustToken(ctx context.Context, c *tokencache.Cache) string {
	t, _ := c.Token(ctx)
	return t
}

// bearer adds the cached token to every request and drops it when the
// server answers 401.
type bearer struct {
	cache *tokencache.Cache
	next  http.RoundTripper
}

func (b *bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	tok, err := b.cache.Token(r.Context())
	if err != nil {
		return nil, err
	}
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+tok)
	resp, err := b.next.RoundTrip(r)
	if err == nil && resp.StatusCode == http.StatusUnauthorized {
		b.cache.Invalidate(tok)
	}
	return resp, err
}
