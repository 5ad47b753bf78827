package cli

import (
	"strings"
	"testing"
)

func TestResourceMetadata(t *testing.T) {
	const u = "https://bedrock-agentcore.us-west-2.amazonaws.com/runtimes/arn%3Aaws%3A.../invocations/.well-known/oauth-protected-resource?qualifier=DEFAULT"
	tests := []struct {
		challenge, want string
		ok              bool
	}{
		{challenge: `Bearer resource_metadata="` + u + `"`, want: u, ok: true},
		{challenge: `bearer realm="x", error="invalid_token", resource_metadata="` + u + `"`, want: u, ok: true},
		{challenge: `Bearer error=invalid_token, resource_metadata="` + u + `"`, want: u, ok: true},
		{challenge: `Basic realm="x"`},
		{challenge: `Bearer resource_metadata=` + u},
		{challenge: `Bearer resource_metadata="unterminated`},
		{challenge: ``},
	}
	for _, tt := range tests {
		got, ok := resourceMetadata(tt.challenge)
		if got != tt.want || ok != tt.ok {
			t.Errorf("resourceMetadata(%q) = %q, %v; want %q, %v", tt.challenge, got, ok, tt.want, tt.ok)
		}
	}
}

func FuzzResourceMetadata(f *testing.F) {
	f.Add(`Bearer resource_metadata="https://example.com/.well-known/oauth-protected-resource"`)
	f.Add(`Bearer realm="a,b", resource_metadata="x"`)
	f.Add(`Bearer ,,,="`)
	f.Fuzz(func(t *testing.T, challenge string) {
		got, ok := resourceMetadata(challenge)
		// A value is only ever a non-empty piece of the challenge, without quotes.
		if ok && (got == "" || strings.Contains(got, `"`) || !strings.Contains(challenge, got)) {
			t.Fatalf("resourceMetadata(%q) = %q", challenge, got)
		}
		if !ok && got != "" {
			t.Fatalf("resourceMetadata(%q) = %q with ok=false", challenge, got)
		}
	})
}
