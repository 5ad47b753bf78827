package agentcore

import (
	"errors"
	"strings"
	"testing"
)

func TestParseRuntimeARN(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    RuntimeARN
		wantErr string // substring; "" means success
	}{
		{name: "typical", in: "arn:aws:bedrock-agentcore:us-west-2:123456789012:runtime/my_mcp_server-xyz123",
			want: RuntimeARN{Partition: "aws", Region: "us-west-2", Account: "123456789012", RuntimeID: "my_mcp_server-xyz123"}},
		{name: "gov partition", in: "arn:aws-us-gov:bedrock-agentcore:us-gov-west-1:123456789012:runtime/a-1",
			want: RuntimeARN{Partition: "aws-us-gov", Region: "us-gov-west-1", Account: "123456789012", RuntimeID: "a-1"}},
		{name: "empty", in: "", wantErr: "not an AgentCore runtime ARN"},
		{name: "bare id", in: "my_mcp_server-xyz123", wantErr: "not an AgentCore runtime ARN"},
		{name: "other service", in: "arn:aws:lambda:us-west-2:123456789012:function/f", wantErr: `service is "lambda"`},
		{name: "short account", in: "arn:aws:bedrock-agentcore:us-west-2:12345:runtime/x", wantErr: `account "12345" is not 12 digits`},
		{name: "bad region", in: "arn:aws:bedrock-agentcore:uswest2:123456789012:runtime/x", wantErr: `region "uswest2"`},
		{name: "gateway not runtime", in: "arn:aws:bedrock-agentcore:us-west-2:123456789012:gateway/x", wantErr: "does not start with runtime/"},
		{name: "id with slash", in: "arn:aws:bedrock-agentcore:us-west-2:123456789012:runtime/a/b", wantErr: "runtime id"},
		{name: "already escaped", in: "arn%3Aaws%3Abedrock-agentcore%3Aus-west-2%3A123456789012%3Aruntime%2Fx", wantErr: "not an AgentCore runtime ARN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseRuntimeARN(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrNotRuntimeARN) {
					t.Fatalf("ParseRuntimeARN(%q) error = %v, want one containing %q that Is ErrNotRuntimeARN", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseRuntimeARN(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			}
			if got.String() != tt.in {
				t.Errorf("String() = %q, want %q", got.String(), tt.in)
			}
		})
	}
}

func TestInvocationURL(t *testing.T) {
	arn, err := ParseRuntimeARN("arn:aws:bedrock-agentcore:us-west-2:123456789012:runtime/my_mcp_server-xyz123")
	if err != nil {
		t.Fatal(err)
	}
	const escaped = "arn%3Aaws%3Abedrock-agentcore%3Aus-west-2%3A123456789012%3Aruntime%2Fmy_mcp_server-xyz123"
	tests := []struct {
		name, endpoint, qualifier, want string
	}{
		{name: "default qualifier", endpoint: arn.DefaultEndpoint(),
			want: "https://bedrock-agentcore.us-west-2.amazonaws.com/runtimes/" + escaped + "/invocations?qualifier=DEFAULT"},
		{name: "named qualifier", endpoint: "https://bedrock-agentcore.us-west-2.amazonaws.com/", qualifier: "prod_v2",
			want: "https://bedrock-agentcore.us-west-2.amazonaws.com/runtimes/" + escaped + "/invocations?qualifier=prod_v2"},
		{name: "path prefix", endpoint: "http://127.0.0.1:9000/prefix", qualifier: "DEFAULT",
			want: "http://127.0.0.1:9000/prefix/runtimes/" + escaped + "/invocations?qualifier=DEFAULT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := InvocationURL(tt.endpoint, arn, tt.qualifier)
			if err != nil {
				t.Fatal(err)
			}
			if got := u.String(); got != tt.want {
				t.Errorf("InvocationURL(%q, arn, %q) = %s, want %s", tt.endpoint, tt.qualifier, got, tt.want)
			}
			// What net/http puts on the request line.
			if got, want := u.RequestURI(), strings.TrimPrefix(tt.want, u.Scheme+"://"+u.Host); got != want {
				t.Errorf("RequestURI() = %s, want %s", got, want)
			}
		})
	}
}

func TestEscapeSegmentMatchesPythonQuote(t *testing.T) {
	// Expected values from Python: urllib.parse.quote(s, safe="").
	tests := []struct{ in, want string }{
		{in: "arn:aws:bedrock-agentcore:us-west-2:123456789012:runtime/x", want: "arn%3Aaws%3Abedrock-agentcore%3Aus-west-2%3A123456789012%3Aruntime%2Fx"},
		{in: "a b+c~d.e_f", want: "a%20b%2Bc~d.e_f"},
		{in: "é", want: "%C3%A9"},
	}
	for _, tt := range tests {
		if got := EscapeSegment(tt.in); got != tt.want {
			t.Errorf("EscapeSegment(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzParseRuntimeARN(f *testing.F) {
	f.Add("arn:aws:bedrock-agentcore:us-west-2:123456789012:runtime/my_mcp_server-xyz123")
	f.Add("arn:aws:bedrock-agentcore:us-west-2:123456789012:runtime/")
	f.Add("arn:::::")
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseRuntimeARN(s)
		if err != nil {
			if !errors.Is(err, ErrNotRuntimeARN) {
				t.Fatalf("ParseRuntimeARN(%q) error %v is not ErrNotRuntimeARN", s, err)
			}
			return
		}
		// A parsed ARN round-trips and escapes into one path segment.
		if a.String() != s {
			t.Fatalf("String() = %q, want %q", a.String(), s)
		}
		u, err := InvocationURL(a.DefaultEndpoint(), a, "")
		if err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(u.EscapedPath(), "/"); n != 3 {
			t.Fatalf("escaped path %q has %d slashes, want 3", u.EscapedPath(), n)
		}
	})
}
