package discovery

import (
	"errors"
	"maps"
	"reflect"
	"strings"
	"testing"
)

func TestParseChallenges(t *testing.T) {
	tests := []struct {
		name    string
		header  string
		want    []Challenge
		wantErr bool
	}{
		{
			name:   "AgentCore 401",
			header: `Bearer resource_metadata="https://bedrock-agentcore.us-west-2.amazonaws.com/runtimes/arn%3Aaws%3Abedrock-agentcore%3Aus-west-2%3A123456789012%3Aruntime%2Fx-1/invocations/.well-known/oauth-protected-resource?qualifier=DEFAULT"`,
			want: []Challenge{{Scheme: "Bearer", Params: map[string]string{
				"resource_metadata": "https://bedrock-agentcore.us-west-2.amazonaws.com/runtimes/arn%3Aaws%3Abedrock-agentcore%3Aus-west-2%3A123456789012%3Aruntime%2Fx-1/invocations/.well-known/oauth-protected-resource?qualifier=DEFAULT",
			}}},
		},
		{
			name:   "MCP TS SDK 401",
			header: `Bearer error="invalid_token", error_description="Missing Authorization header", resource_metadata="http://localhost:1/.well-known/oauth-protected-resource/mcp"`,
			want: []Challenge{{Scheme: "Bearer", Params: map[string]string{
				"error": "invalid_token", "error_description": "Missing Authorization header",
				"resource_metadata": "http://localhost:1/.well-known/oauth-protected-resource/mcp",
			}}},
		},
		{
			name:   "two challenges, token values, case-folded names, escapes",
			header: `Basic realm="a \"b\" \\c", charset=UTF-8, BEARER Scope="x y" ,Error=insufficient_scope`,
			want: []Challenge{
				{Scheme: "Basic", Params: map[string]string{"realm": `a "b" \c`, "charset": "UTF-8"}},
				{Scheme: "BEARER", Params: map[string]string{"scope": "x y", "error": "insufficient_scope"}},
			},
		},
		{
			name:   "token68 then a challenge; empty list elements",
			header: `, Negotiate abc+/def==,  , Bearer`,
			want:   []Challenge{{Scheme: "Negotiate", Token68: "abc+/def=="}, {Scheme: "Bearer"}},
		},
		{name: "BWS around =", header: `Bearer realm = "x"`, want: []Challenge{{Scheme: "Bearer", Params: map[string]string{"realm": "x"}}}},
		{name: "empty", header: "", want: nil},
		{name: "unterminated quote", header: `Bearer realm="x`, wantErr: true},
		{name: "repeated parameter", header: `Bearer scope="a", scope="b"`, wantErr: true},
		{name: "no comma between parameters", header: `Bearer a="1" b="2"`, wantErr: true},
		{name: "a trailing = makes a token68", header: `Bearer realm=`, want: []Challenge{{Scheme: "Bearer", Token68: "realm="}}},
		{name: "missing value", header: `Bearer a=1, b=`, wantErr: true},
		{name: "control character", header: "Bearer realm=\"a\x01\"", wantErr: true},
		{name: "starts with =", header: `=x`, wantErr: true},
		{name: "good then bad keeps the good", header: `Basic realm="r", Bearer x="`, want: []Challenge{{Scheme: "Basic", Params: map[string]string{"realm": "r"}}}, wantErr: true},
		{name: "bad then good keeps the good", header: "DPoP algs=\"ES256\x01, x\", Bearer error=\"insufficient_scope\", scope=\"a b\"",
			want: []Challenge{{Scheme: "Bearer", Params: map[string]string{"error": "insufficient_scope", "scope": "a b"}}}, wantErr: true},
		{name: "a repeated parameter skips that challenge only", header: `Bearer scope="a", scope="b", Basic realm="r"`,
			want: []Challenge{{Scheme: "Basic", Params: map[string]string{"realm": "r"}}}, wantErr: true},
		{name: "no comma: skipped up to the next scheme", header: `Bearer a="1" b="2", c="3", Negotiate abc==`,
			want: []Challenge{{Scheme: "Negotiate", Token68: "abc=="}}, wantErr: true},
		{name: "a comma inside the bad challenge's quoted string", header: "Basic realm=\"x\x01, Bearer z\", Bearer realm=\"ok\"",
			want: []Challenge{{Scheme: "Bearer", Params: map[string]string{"realm": "ok"}}}, wantErr: true},
		{name: "too long", header: `Bearer realm="` + strings.Repeat("x", MaxChallengeHeader) + `"`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseChallenges(tt.header)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseChallenges(%q) error = %v, want error %v", tt.header, err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, ErrChallenge) {
				t.Errorf("ParseChallenges(%q) error %v does not wrap ErrChallenge", tt.header, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseChallenges(%q) = %#v, want %#v", tt.header, got, tt.want)
			}
		})
	}
}

func TestParseBearerChallenge(t *testing.T) {
	values := []string{
		`Basic realm="x", Bearer realm="`, // malformed: skipped
		`Bearer abc==`,                    // token68: not what RFC 6750 sends
		`DPoP algs="ES256", Bearer error="insufficient_scope", scope="mcp:read mcp:write", resource_metadata="https://r.example/.well-known/oauth-protected-resource"`,
	}
	got, ok := ParseBearerChallenge(values)
	want := BearerChallenge{
		ResourceMetadata: "https://r.example/.well-known/oauth-protected-resource",
		Error:            "insufficient_scope",
		Scope:            []string{"mcp:read", "mcp:write"},
	}
	if !ok || !reflect.DeepEqual(got, want) {
		t.Errorf("ParseBearerChallenge(%q) = %+v, %v, want %+v, true", values, got, ok, want)
	}
	if _, ok := ParseBearerChallenge([]string{`Basic realm="x"`}); ok {
		t.Error("ParseBearerChallenge(Basic only) reported a Bearer challenge")
	}
}

// FuzzParseChallenges checks that the parser never panics, that what it
// accepts formats back into a header that parses to the same challenges,
// and that names are lower case.
func FuzzParseChallenges(f *testing.F) {
	for _, s := range []string{
		`Bearer resource_metadata="https://h/.well-known/oauth-protected-resource?qualifier=DEFAULT"`,
		`Bearer error="insufficient_scope", scope="a b", error_description="need \"b\""`,
		`Basic realm="x", Bearer, Negotiate abc==`,
		`Bearer realm = x ,, charset=utf-8`,
		"Bearer realm=\"\x80\xff\"",
		"DPoP algs=\"ES256\x01, x\", Bearer error=\"insufficient_scope\", scope=\"a b\"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		got, err := ParseChallenges(header)
		if err != nil && !errors.Is(err, ErrChallenge) {
			t.Fatalf("ParseChallenges(%q) error %v does not wrap ErrChallenge", header, err)
		}
		for _, c := range got {
			if c.Scheme == "" {
				t.Fatalf("ParseChallenges(%q) gave an empty scheme", header)
			}
			for name := range c.Params {
				if name == "" {
					t.Fatalf("ParseChallenges(%q) gave an empty parameter name", header)
				}
				for i := range len(name) {
					if 'A' <= name[i] && name[i] <= 'Z' {
						t.Fatalf("ParseChallenges(%q) kept upper case in parameter name %q", header, name)
					}
				}
			}
			again, err := ParseChallenges(c.String())
			if err != nil || len(again) != 1 || again[0].Scheme != c.Scheme || again[0].Token68 != c.Token68 ||
				!maps.Equal(again[0].Params, c.Params) {
				t.Fatalf("ParseChallenges(%q) = %#v, error %v: the round trip of %q differs", c.String(), again, err, header)
			}
		}
		if err != nil || len(header) > MaxChallengeHeader-64 {
			return
		}
		// A malformed challenge in front hides nothing of a good header.
		bad := "Broken realm=\"a\x01, Bearer b\", "
		after, err := ParseChallenges(bad + header)
		if !errors.Is(err, ErrChallenge) || !reflect.DeepEqual(after, got) {
			t.Fatalf("ParseChallenges(%q) = %#v, %v; want %#v after the skipped challenge", bad+header, after, err, got)
		}
	})
}
