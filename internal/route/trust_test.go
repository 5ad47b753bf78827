package route

import (
	"errors"
	"strings"
	"testing"

	"github.com/agentcore-proxy/agentcore-proxy/internal/config"
	"github.com/agentcore-proxy/agentcore-proxy/tokencache"
)

func TestTrustUpstreamAuthServer(t *testing.T) {
	const arn = "arn:aws:bedrock-agentcore:us-west-2:123456789012:runtime/calc-AbC123xYz9"
	tests := []struct {
		name   string
		flags  config.RouteFlags
		named  string
		want   bool
		detail []string // substrings of the refusal
	}{
		{name: "same host, other port", flags: config.RouteFlags{UpstreamURL: "http://127.0.0.1:8000/mcp"}, named: "http://127.0.0.1:9000", want: true},
		{name: "same name, other case", flags: config.RouteFlags{UpstreamURL: "https://MCP.example.com/mcp"}, named: "https://mcp.example.com/tenant", want: true},
		{name: "other host", flags: config.RouteFlags{UpstreamURL: "http://127.0.0.1:8000/mcp"}, named: "http://127.0.0.2:9000",
			detail: []string{"names the authorization server http://127.0.0.2:9000", "not on the upstream's host 127.0.0.1", "give --issuer http://127.0.0.2:9000"}},
		{name: "localhost is not 127.0.0.1", flags: config.RouteFlags{UpstreamURL: "http://127.0.0.1:8000/mcp"}, named: "http://localhost:9000"},
		{name: "subdomain is another host", flags: config.RouteFlags{UpstreamURL: "https://mcp.example.com/mcp"}, named: "https://auth.mcp.example.com"},
		{name: "issuer given", flags: config.RouteFlags{UpstreamURL: "http://127.0.0.1:8000/mcp", Issuer: "http://127.0.0.2:9000/"}, named: "http://127.0.0.2:9000", want: true},
		{name: "issuer given, same host named", flags: config.RouteFlags{UpstreamURL: "http://127.0.0.1:8000/mcp", Issuer: "http://127.0.0.2:9000"}, named: "http://127.0.0.1:8000",
			detail: []string{"but --issuer is http://127.0.0.2:9000", "nothing was sent to http://127.0.0.1:8000"}},
		{name: "runtime ARN", flags: config.RouteFlags{RuntimeARN: arn}, named: "https://cognito-idp.us-west-2.amazonaws.com/us-west-2_AbCdEf123", want: true},
		{name: "runtime ARN, issuer given", flags: config.RouteFlags{RuntimeARN: arn, Issuer: "https://cognito-idp.us-west-2.amazonaws.com/us-west-2_Other"},
			named: "https://cognito-idp.us-west-2.amazonaws.com/us-west-2_AbCdEf123"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.flags
			f.ClientID, f.SecretInEnv = "c1", true
			routes, err := config.FromFlags("127.0.0.1:0", f).Validate(func(string) string { return "" })
			if err != nil {
				t.Fatal(err)
			}
			d := &tokencache.Discovered{ResourceMetadataURL: "https://prm.example/.well-known/oauth-protected-resource",
				Resource: tokencache.ResourceMetadata{AuthorizationServers: []string{tt.named}}}
			err = trustUpstreamAuthServer(routes[0])(d)
			if tt.want {
				if err != nil {
					t.Errorf("trust(%s) = %v, want trusted", tt.named, err)
				}
				return
			}
			var ue *UntrustedAuthServerError
			if !errors.As(err, &ue) || !errors.Is(err, ErrUntrustedAuthServer) {
				t.Fatalf("trust(%s) = %v, want an *UntrustedAuthServerError", tt.named, err)
			}
			for _, w := range append(tt.detail, "route default:", "--issuer") {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("trust(%s) = %q, want it to say %q", tt.named, err, w)
				}
			}
		})
	}
}
