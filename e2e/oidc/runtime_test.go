//go:build unix

package oidc_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/agentcore-proxy/agentcore-proxy/discovery"
	"github.com/agentcore-proxy/agentcore-proxy/internal/emulator"
	"github.com/agentcore-proxy/agentcore-proxy/tokencache"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// bearer adds the cache's token to every request.
type bearer struct{ cache *tokencache.Cache }

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	tok, err := b.cache.Token(r.Context())
	if err != nil {
		return nil, err
	}
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+tok)
	return http.DefaultTransport.RoundTrip(r)
}

// TestEmulatedRuntimeTrustsProvider points the emulated runtime's
// authorizer at oidc-provider and goes from the invocation URL alone to a
// tool call: the 401 challenge names the runtime's metadata, which names the
// provider; the token is requested with the discovered resource (without
// it the provider issues an opaque token, which the authorizer cannot parse).
func TestEmulatedRuntimeTrustsProvider(t *testing.T) {
	p := startProvider(t)
	as, err := discovery.DiscoverAuthServer(t.Context(), nil, p.issuer)
	if err != nil {
		t.Fatal(err)
	}
	kf, err := keyfunc.NewDefaultCtx(t.Context(), []string{as.JWKSURI})
	if err != nil {
		t.Fatalf("keyfunc for %s: %v", as.JWKSURI, err)
	}
	e, err := emulator.Start(t.Context(), emulator.Config{TrustedIssuer: &emulator.TrustedIssuer{Issuer: as.Issuer, Keyfunc: kf.Keyfunc}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	inv := e.InvocationURL("DEFAULT")
	e.SetAuthorizer(emulator.Authorizer{AllowedClients: []string{basicID}, AllowedAudience: []string{inv}})

	d, err := discovery.DiscoverResource(t.Context(), nil, inv, nil)
	if err != nil {
		t.Fatalf("DiscoverResource(%s) = %v", inv, err)
	}
	if d.AuthServer.Issuer != p.issuer || d.Resource.Resource != inv {
		t.Fatalf("discovered issuer %s for resource %s, want %s for %s", d.AuthServer.Issuer, d.Resource.Resource, p.issuer, inv)
	}

	for _, tt := range []struct {
		name     string
		resource string
		wantErr  string
	}{
		{name: "resource from the metadata", resource: d.Resource.Resource},
		{name: "no resource: opaque token refused", wantErr: "Forbidden"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			cache, err := tokencache.New(ctx, tokencache.Config{
				TokenURL: d.AuthServer.TokenEndpoint, ClientID: basicID, ClientSecret: basicSecret, Resource: tt.resource,
			})
			if err != nil {
				cancel()
				t.Fatal(err)
			}
			t.Cleanup(func() { cancel(); <-cache.Done() })
			client := mcp.NewClient(&mcp.Implementation{Name: "oidc-e2e", Version: "0"}, nil)
			session, err := client.Connect(t.Context(), &mcp.StreamableClientTransport{
				Endpoint: inv, HTTPClient: &http.Client{Transport: bearer{cache}}, DisableStandaloneSSE: true, MaxRetries: -1,
			}, nil)
			if tt.wantErr != "" {
				if err == nil {
					session.Close()
					t.Fatalf("Connect() with an opaque token succeeded, want a refusal")
				}
				if !strings.Contains(err.Error(), tt.wantErr) || e.Stats().Rejections[emulator.ReasonUnparseableToken] == 0 {
					t.Errorf("Connect() = %v, rejections %v; want %q and an unparseable-token rejection", err, e.Stats().Rejections, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Connect() = %v", err)
			}
			defer session.Close()
			tools, err := session.ListTools(t.Context(), nil)
			if err != nil || len(tools.Tools) == 0 {
				t.Fatalf("ListTools() = %v, %v", tools, err)
			}
			res, err := session.CallTool(t.Context(), &mcp.CallToolParams{Name: "add_numbers", Arguments: map[string]any{"a": 2, "b": 3}})
			if err != nil || res.IsError {
				t.Fatalf("CallTool(add_numbers) = %+v, %v", res, err)
			}
			if got, _ := res.StructuredContent.(map[string]any); got["result"] != 5.0 {
				t.Errorf("add_numbers(2, 3) = %v, want result 5", res.StructuredContent)
			}
		})
	}
}
