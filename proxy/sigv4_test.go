package proxy

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/agentcore-proxy/agentcore-proxy/internal/emulator"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// staticCreds returns a provider of fixed credentials, counting its calls.
func staticCreds(c emulator.AWSCredential, calls *int) aws.CredentialsProvider {
	return aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		*calls++
		return aws.Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, SessionToken: c.SessionToken,
			CanExpire: true, Expires: time.Now().Add(time.Hour)}, nil
	})
}

// startSigV4Proxy runs the emulator as a SigV4 runtime and the real proxy handler in front of it,
// signing with creds.
func startSigV4Proxy(t *testing.T, creds aws.CredentialsProvider) (*emulator.Emulator, string) {
	t.Helper()
	temp := emulator.AWSCredential{AccessKeyID: "ASIATEMPORARYEXAMPLE", SecretAccessKey: "temporary/secret", SessionToken: "FwoGZXIvYXdzEXAMPLE//token=="}
	e, err := emulator.Start(t.Context(), emulator.Config{AWSCredentials: []emulator.AWSCredential{emulator.DefaultAWSCredential, temp}})
	if err != nil {
		t.Fatalf("emulator.Start() error = %v", err)
	}
	t.Cleanup(func() { e.Close() })
	e.SetSigV4(true)
	target, err := url.Parse(e.InvocationURL("DEFAULT"))
	if err != nil {
		t.Fatal(err)
	}
	tr, err := NewSigV4Transport(NewTransport(TransportOptions{}), SigV4Options{Credentials: creds, Region: "us-west-2"})
	if err != nil {
		t.Fatalf("NewSigV4Transport() error = %v", err)
	}
	p, err := New(Options{Route: "sigv4", Target: target, Transport: tr, MaxBodyBytes: 20 << 20})
	if err != nil {
		t.Fatalf("New() error = %v", err)
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return e, srv.URL + "/mcp"
}

func connectMCP(t *testing.T, endpoint string, opts *mcp.ClientOptions) *mcp.ClientSession {
	t.Helper()
	client := mcp.NewClient(&mcp.Implementation{Name: "sigv4-test", Version: "1"}, opts)
	cs, err := client.Connect(t.Context(), &mcp.StreamableClientTransport{Endpoint: endpoint, HTTPClient: &http.Client{Timeout: 60 * time.Second}}, nil)
	if err != nil {
		t.Fatalf("Connect() error = %v", err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

func TestSigV4TransportThroughProxy(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cred    emulator.AWSCredential
		bigBody bool // the 5 MB call is slow under -race: once is enough
	}{
		{name: "long-term key", cred: emulator.DefaultAWSCredential, bigBody: true},
		{name: "temporary credentials with session token", cred: emulator.AWSCredential{AccessKeyID: "ASIATEMPORARYEXAMPLE", SecretAccessKey: "temporary/secret", SessionToken: "FwoGZXIvYXdzEXAMPLE//token=="}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var calls int
			e, endpoint := startSigV4Proxy(t, staticCreds(tc.cred, &calls))
			cs := connectMCP(t, endpoint, nil)
			ctx := t.Context()

			tools, err := cs.ListTools(ctx, nil)
			if err != nil || len(tools.Tools) == 0 {
				t.Fatalf("ListTools() = %v, %v; want the emulator's tools", tools, err)
			}
			res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "add_numbers", Arguments: map[string]any{"a": 2, "b": 3}})
			if err != nil || res.IsError || res.Content[0].(*mcp.TextContent).Text != "5" {
				t.Fatalf("CallTool(add_numbers) = %+v, %v; want 5", res, err)
			}
			// 5 MB: over the proxy's replay buffer, so the transport reads it whole to hash it.
			if tc.bigBody {
				big := strings.Repeat("x", 5_000_000)
				res, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: "greet_user", Arguments: map[string]any{"name": big}})
				if err != nil || res.IsError || len(res.Content[0].(*mcp.TextContent).Text) < 5_000_000 {
					t.Fatalf("CallTool(greet_user, 5 MB) error = %v", err)
				}
			}
			// A throttle is retried, signed anew.
			e.InjectFault(emulator.Fault{Status: 429, ErrorType: "ThrottlingException", Message: "Rate exceeded"}, 1)
			if _, err := cs.ListTools(ctx, nil); err != nil {
				t.Errorf("ListTools() after a throttle error = %v, want a retried success", err)
			}
			st := e.Stats()
			if len(st.Rejections) != 1 || st.Rejections[emulator.ReasonInjectedFault] != 1 {
				t.Errorf("emulator rejections = %v, want only the injected throttle", st.Rejections)
			}
			if calls != 1 {
				t.Errorf("credentials provider called %d times, want 1 (cached)", calls)
			}
			for _, inv := range e.Invocations() {
				if inv.Header.Get("X-Amz-Date") == "" || (tc.cred.SessionToken != "") != (inv.Header.Get("X-Amz-Security-Token") != "") {
					t.Errorf("invocation headers = %v, want X-Amz-Date and a session token only with temporary credentials", inv.Header)
				}
			}
		})
	}
}

func TestSigV4TransportStreamsSSE(t *testing.T) {
	var calls int
	_, endpoint := startSigV4Proxy(t, staticCreds(emulator.DefaultAWSCredential, &calls))
	type seen struct {
		progress float64
		emitted  time.Time
		received time.Time
	}
	const steps = 4
	got := make(chan seen, steps)
	cs := connectMCP(t, endpoint, &mcp.ClientOptions{
		ProgressNotificationHandler: func(_ context.Context, req *mcp.ProgressNotificationClientRequest) {
			emitted, _ := time.Parse(time.RFC3339Nano, req.Params.Message)
			got <- seen{req.Params.Progress, emitted, time.Now()}
		},
	})
	params := &mcp.CallToolParams{Name: "stream_progress", Arguments: map[string]any{"steps": steps, "interval_ms": 300}}
	params.SetProgressToken("p")
	if _, err := cs.CallTool(t.Context(), params); err != nil {
		t.Fatalf("CallTool(stream_progress) error = %v", err)
	}
	var first, last seen
	for i := range steps {
		select {
		case s := <-got:
			if i == 0 {
				first = s
			}
			last = s
		case <-time.After(10 * time.Second):
			t.Fatalf("got %d progress notifications, want %d", i, steps)
		}
	}
	// Not buffered: the first event reached the client before the server emitted the last one.
	if first.progress != 1 || !first.received.Before(last.emitted) {
		t.Errorf("progress 1 received at %v, last (%v) emitted at %v; want the first received before the last emitted",
			first.received, last.progress, last.emitted)
	}
}

func TestSigV4TransportCredentialFailures(t *testing.T) {
	noCreds := aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{}, errors.New("no EC2 IMDS role found")
	})
	e, endpoint := startSigV4Proxy(t, noCreds)
	status, body := postInitialize(t, endpoint)
	if status != http.StatusServiceUnavailable || !strings.Contains(body, "could not obtain AWS credentials") || !strings.Contains(body, "no EC2 IMDS role found") {
		t.Errorf("POST initialize = %d %s, want 503 naming the credentials failure", status, body)
	}
	if n := len(e.Invocations()); n != 0 {
		t.Errorf("emulator saw %d invocations, want 0: nothing is sent unsigned", n)
	}

	wrong := emulator.AWSCredential{AccessKeyID: emulator.DefaultAWSCredential.AccessKeyID, SecretAccessKey: "wrong"}
	var calls int
	e, endpoint = startSigV4Proxy(t, staticCreds(wrong, &calls))
	if status, body := postInitialize(t, endpoint); status != http.StatusForbidden || e.Stats().Rejections[emulator.ReasonSigV4Mismatch] != 1 {
		t.Errorf("POST initialize with a wrong secret = %d %s, rejections %v; want 403 and a signature mismatch", status, body, e.Stats().Rejections)
	}
}

func TestNewSigV4TransportRequiresFields(t *testing.T) {
	creds := aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return aws.Credentials{}, nil })
	if _, err := NewSigV4Transport(nil, SigV4Options{Region: "us-west-2"}); err == nil {
		t.Error("NewSigV4Transport(no credentials) error = nil")
	}
	if _, err := NewSigV4Transport(nil, SigV4Options{Credentials: creds}); err == nil {
		t.Error("NewSigV4Transport(no region) error = nil")
	}
}

func postInitialize(t *testing.T, endpoint string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, endpoint, strings.NewReader(
		`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestSigV4TransportRefreshesExpiredCredentials: when AWS answers ExpiredTokenException for
// credentials the cache still holds, the transport fetches fresh ones and the client sees no error.
func TestSigV4TransportRefreshesExpiredCredentials(t *testing.T) {
	first := emulator.DefaultAWSCredential
	second := emulator.AWSCredential{AccessKeyID: "ASIATEMPORARYEXAMPLE", SecretAccessKey: "temporary/secret", SessionToken: "FwoGZXIvYXdzEXAMPLE//token=="}
	var calls int
	creds := aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		calls++
		c := first
		if calls > 1 {
			c = second
		}
		return aws.Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, SessionToken: c.SessionToken,
			CanExpire: true, Expires: time.Now().Add(time.Hour)}, nil
	})
	e, endpoint := startSigV4Proxy(t, creds)
	cs := connectMCP(t, endpoint, nil)
	e.ExpireAWSCredential(first.AccessKeyID)
	if _, err := cs.ListTools(t.Context(), nil); err != nil {
		t.Errorf("ListTools() after the credentials expired = %v, want success with fresh credentials", err)
	}
	if calls != 2 || e.Stats().Rejections[emulator.ReasonSigV4ExpiredToken] != 1 {
		t.Errorf("provider calls = %d, expired-token rejections = %d; want 2 and 1", calls, e.Stats().Rejections[emulator.ReasonSigV4ExpiredToken])
	}
}
