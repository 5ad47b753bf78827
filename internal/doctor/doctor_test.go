package doctor

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
		// RFC 9110 wants a token or a quoted string: a URL is not a token.
		{challenge: `Bearer resource_metadata=` + u},
		// A malformed challenge in front hides nothing (discovery.ParseChallenges).
		{challenge: "Gateway realm=\"a\x01\", Bearer resource_metadata=\"" + u + `"`, want: u, ok: true},
		{challenge: `Bearer resource_metadata="unterminated`},
		{challenge: ``},
	}
	for _, tt := range tests {
		got, ok := resourceMetadata([]string{tt.challenge})
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
		got, ok := resourceMetadata([]string{challenge})
		// A value is never empty, and only found in a Bearer challenge that
		// names resource_metadata.
		if ok && (got == "" || !strings.Contains(strings.ToLower(challenge), "resource_metadata") || !strings.Contains(strings.ToLower(challenge), "bearer")) {
			t.Fatalf("resourceMetadata(%q) = %q", challenge, got)
		}
		if !ok && got != "" {
			t.Fatalf("resourceMetadata(%q) = %q with ok=false", challenge, got)
		}
	})
}
