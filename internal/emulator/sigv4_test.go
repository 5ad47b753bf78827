package emulator

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/smithy-go/logging"
)

const testRegion = "us-west-2"

var testCreds = aws.Credentials{AccessKeyID: DefaultAWSCredential.AccessKeyID, SecretAccessKey: DefaultAWSCredential.SecretAccessKey}

// signWithSDK signs req with the SDK's v4 signer: the reference our verifier must agree with.
func signWithSDK(t *testing.T, req *http.Request, body string, creds aws.Credentials, service, region string, at time.Time) {
	t.Helper()
	sum := sha256.Sum256([]byte(body))
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), service, region, at); err != nil {
		t.Fatalf("SignHTTP() error = %v", err)
	}
}

// verifyServer runs the verifier for bedrock-agentcore in us-west-2 and answers 200 or 403 with the
// reason code in the body.
func verifyServer(t *testing.T, store *credentialStore) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := readBody(r)
		v := sigv4Verifier{creds: store, now: time.Now}
		if _, err := v.verify(r, body, agentCoreService, testRegion); err != nil {
			http.Error(w, err.reason+" "+err.Error(), err.status)
			return
		}
		io.WriteString(w, "ok")
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestSigV4VerifierAgreesWithSDK(t *testing.T) {
	store := newCredentialStore([]AWSCredential{DefaultAWSCredential,
		{AccessKeyID: "ASIATEMPORARYEXAMPLE", SecretAccessKey: "temporary-secret", SessionToken: "session-token-example"}})
	srv := verifyServer(t, store)
	escapedARN := EscapeSegment("arn:aws:bedrock-agentcore:us-west-2:123456789012:runtime/my_mcp_server-xyz123")
	rawURL := srv.URL + "/runtimes/" + escapedARN + "/invocations?qualifier=DEFAULT&b=x%20y&a=1"
	const body = `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`
	tempCreds := aws.Credentials{AccessKeyID: "ASIATEMPORARYEXAMPLE", SecretAccessKey: "temporary-secret", SessionToken: "session-token-example"}

	tests := []struct {
		name       string
		creds      aws.Credentials
		region     string
		at         time.Duration // signing time relative to now
		tamper     func(*http.Request)
		wantStatus int
		wantReason string
	}{
		{name: "signed by the SDK", creds: testCreds, wantStatus: 200},
		{name: "session token", creds: tempCreds, wantStatus: 200},
		{name: "session token stripped", creds: tempCreds, tamper: func(r *http.Request) { r.Header.Del("X-Amz-Security-Token") },
			wantStatus: 403, wantReason: ReasonSigV4UnknownKey},
		{name: "body changed", creds: testCreds, tamper: func(r *http.Request) {
			r.Body = io.NopCloser(strings.NewReader(strings.Replace(body, "list", "call", 1)))
		}, wantStatus: 403, wantReason: ReasonSigV4Mismatch},
		{name: "path unescaped after signing", creds: testCreds, tamper: func(r *http.Request) {
			r.URL.RawPath = strings.ReplaceAll(r.URL.RawPath, "%3A", ":")
		}, wantStatus: 403, wantReason: ReasonSigV4Mismatch},
		{name: "query changed", creds: testCreds, tamper: func(r *http.Request) {
			r.URL.RawQuery = strings.Replace(r.URL.RawQuery, "DEFAULT", "prod", 1)
		}, wantStatus: 403, wantReason: ReasonSigV4Mismatch},
		{name: "wrong secret", creds: aws.Credentials{AccessKeyID: testCreds.AccessKeyID, SecretAccessKey: "not-the-secret"},
			wantStatus: 403, wantReason: ReasonSigV4Mismatch},
		{name: "unknown access key", creds: aws.Credentials{AccessKeyID: "AKIAUNKNOWNEXAMPLE", SecretAccessKey: "x"},
			wantStatus: 403, wantReason: ReasonSigV4UnknownKey},
		{name: "host not signed", creds: testCreds, tamper: func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "host;", "", 1))
		}, wantStatus: 403, wantReason: ReasonSigV4Mismatch},
		{name: "signed header changed", creds: testCreds, tamper: func(r *http.Request) { r.Header.Set("Content-Type", "text/plain") },
			wantStatus: 403, wantReason: ReasonSigV4Mismatch},
		{name: "unsigned header added", creds: testCreds, tamper: func(r *http.Request) { r.Header.Set("X-Extra", "1") },
			wantStatus: 200},
		{name: "signed 6 minutes ago", creds: testCreds, at: -6 * time.Minute, wantStatus: 403, wantReason: ReasonSigV4ClockSkew},
		{name: "signed 6 minutes ahead", creds: testCreds, at: 6 * time.Minute, wantStatus: 403, wantReason: ReasonSigV4ClockSkew},
		{name: "signed 4 minutes ago", creds: testCreds, at: -4 * time.Minute, wantStatus: 200},
		{name: "wrong region", creds: testCreds, region: "us-east-1", wantStatus: 403, wantReason: ReasonSigV4Scope},
		{name: "no signature", tamper: func(r *http.Request) { r.Header.Del("Authorization") }, wantStatus: 403, wantReason: ReasonSigV4Missing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, rawURL, strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/json, text/event-stream")
			region := tt.region
			if region == "" {
				region = testRegion
			}
			if tt.creds.AccessKeyID != "" {
				signWithSDK(t, req, body, tt.creds, agentCoreService, region, time.Now().Add(tt.at))
			}
			if tt.tamper != nil {
				tt.tamper(req)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus || !strings.HasPrefix(string(got), tt.wantReason) {
				t.Errorf("verify = %d %q, want %d %q", resp.StatusCode, got, tt.wantStatus, tt.wantReason)
			}
		})
	}
}

// TestCanonicalURIIsDoubleEscaped signs the real AgentCore invocation path with the SDK and checks,
// from the SDK's own canonical request, that the ARN segment is escaped twice (%3A -> %253A), and
// that our verifier's canonical URI is the same string.
func TestCanonicalURIIsDoubleEscaped(t *testing.T) {
	arn := "arn:aws:bedrock-agentcore:us-west-2:123456789012:runtime/my_mcp_server-xyz123"
	rawURL := "https://bedrock-agentcore.us-west-2.amazonaws.com/runtimes/" + EscapeSegment(arn) + "/invocations?qualifier=DEFAULT"
	req, err := http.NewRequest(http.MethodPost, rawURL, strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	var logged strings.Builder
	signer := v4.NewSigner(func(o *v4.SignerOptions) {
		o.LogSigning = true
		o.Logger = logging.LoggerFunc(func(_ logging.Classification, format string, v ...any) { fmt.Fprintf(&logged, format, v...) })
	})
	sum := sha256.Sum256([]byte("{}"))
	if err := signer.SignHTTP(context.Background(), testCreds, req, hex.EncodeToString(sum[:]), agentCoreService, testRegion, time.Now()); err != nil {
		t.Fatal(err)
	}
	const want = "/runtimes/arn%253Aaws%253Abedrock-agentcore%253Aus-west-2%253A123456789012%253Aruntime%252Fmy_mcp_server-xyz123/invocations"
	if !strings.Contains(logged.String(), "POST\n"+want+"\nqualifier=DEFAULT\n") {
		t.Errorf("SDK canonical request =\n%s\nwant canonical URI %s", logged.String(), want)
	}
	if got := canonicalURI(req.URL.EscapedPath()); got != want {
		t.Errorf("canonicalURI(%q) = %q, want %q", req.URL.EscapedPath(), got, want)
	}
}

func TestCanonicalQuery(t *testing.T) {
	tests := []struct{ raw, want string }{
		{"", ""},
		{"qualifier=DEFAULT", "qualifier=DEFAULT"},
		{"b=2&a=1&a-b=3", "a=1&a-b=3&b=2"},
		{"x=a+b&y=%7E", "x=a%20b&y=~"},
		{"k=2&k=1", "k=1&k=2"},
	}
	for _, tt := range tests {
		if got := canonicalQuery(tt.raw); got != tt.want {
			t.Errorf("canonicalQuery(%q) = %q, want %q", tt.raw, got, tt.want)
		}
	}
}
