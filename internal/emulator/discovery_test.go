package emulator

import (
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/agentcore-proxy/agentcore-proxy/discovery"
)

// TestZeroConfigDiscovery walks the chain a client without configuration
// follows from the invocation URL: the authorizer's 401 challenge, the
// runtime's protected resource metadata, then the pool's metadata, which
// Cognito serves only as OpenID Connect discovery appended to the issuer.
func TestZeroConfigDiscovery(t *testing.T) {
	tests := []struct {
		name     string
		rfc8414  bool
		wantHops []string
	}{
		{
			name: "Cognito: RFC 8414 and path-inserted OIDC answer 400",
			wantHops: []string{
				"probe {inv} 401", "resource_metadata {meta} 200",
				"server_metadata {cog}/.well-known/oauth-authorization-server/{pool} 400",
				"server_metadata {cog}/.well-known/openid-configuration/{pool} 400",
				"server_metadata {cog}/{pool}/.well-known/openid-configuration 200",
			},
		},
		{
			name:    "with the RFC 8414 option",
			rfc8414: true,
			wantHops: []string{
				"probe {inv} 401", "resource_metadata {meta} 200",
				"server_metadata {cog}/.well-known/oauth-authorization-server/{pool} 200",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := startEmulator(t, Config{AuthServerMetadata: tt.rfc8414})
			inv := e.InvocationURL("DEFAULT")
			d, err := discovery.DiscoverResource(t.Context(), testHTTPClient(), inv, nil)
			if err != nil {
				t.Fatalf("DiscoverResource(%s) = %v", inv, err)
			}
			cog := strings.TrimSuffix(e.Issuer(), "/"+e.cfg.PoolID)
			r := strings.NewReplacer("{inv}", inv, "{meta}", d.Challenge.ResourceMetadata, "{cog}", cog, "{pool}", e.cfg.PoolID)
			var got, want []string
			for _, h := range d.Hops {
				got = append(got, fmt.Sprintf("%s %s %d", h.Purpose, h.URL, h.Status))
			}
			for _, w := range tt.wantHops {
				want = append(want, r.Replace(w))
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("hops = %q, want %q", got, want)
			}
			if d.Resource.Resource != inv || d.AuthServer.Issuer != e.Issuer() || d.AuthServer.TokenEndpoint != e.TokenURL() ||
				d.AuthServer.JWKSURI != e.Issuer()+"/.well-known/jwks.json" {
				t.Errorf("discovered resource %s, issuer %s, token endpoint %s, jwks %s; want %s, %s, %s, the pool's JWKS",
					d.Resource.Resource, d.AuthServer.Issuer, d.AuthServer.TokenEndpoint, d.AuthServer.JWKSURI, inv, e.Issuer(), e.TokenURL())
			}
		})
	}
}

// TestZeroConfigDiscoveryNeedsQualifier documents that the runtime's
// metadata names the invocation URL with ?qualifier=, so a client that
// leaves the qualifier out (AgentCore's DEFAULT) fails the RFC 9728 §3.3
// check: callers must discover with the qualifier spelled out.
func TestZeroConfigDiscoveryNeedsQualifier(t *testing.T) {
	e := startEmulator(t, Config{})
	_, err := discovery.DiscoverResource(t.Context(), testHTTPClient(), e.InvocationURL(""), nil)
	if err == nil || !strings.Contains(err.Error(), "does not name") {
		t.Errorf("DiscoverResource(invocation URL without qualifier) = %v, want a resource mismatch", err)
	}
	resp, err := testHTTPClient().Get(e.Issuer()[:strings.LastIndex(e.Issuer(), "/")] + "/.well-known/oauth-authorization-server/" + e.cfg.PoolID)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("RFC 8414 metadata without the option: HTTP %d, want 400 as Cognito answers", resp.StatusCode)
	}
}
