package runtimeconfig

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/agentcore-proxy/agentcore-proxy/agentcore"
	"github.com/agentcore-proxy/agentcore-proxy/internal/secureurl"
)

// answerClient answers every request with status and body, in memory.
type answerClient struct {
	status int
	body   []byte
}

func (c answerClient) Do(req *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: c.status, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(bytes.NewReader(c.body)), Request: req}, nil
}

// FuzzFetchAnswer feeds arbitrary GetAgentRuntime answers through the SDK's
// decoder and fromOutput: Fetch never panics, fails only with the
// package's error types, and a runtime it returns is one a route can act on.
func FuzzFetchAnswer(f *testing.F) {
	f.Add(200, []byte(`{"agentRuntimeId":"a-1","status":"READY","protocolConfiguration":{"serverProtocol":"MCP"},"authorizerConfiguration":{"customJWTAuthorizer":{"discoveryUrl":"https://idp.example.com/.well-known/openid-configuration","allowedClients":["c"]}}}`))
	f.Add(404, []byte(`{"message":"not found"}`))
	arn, err := agentcore.ParseRuntimeARN("arn:aws:bedrock-agentcore:us-west-2:123456789012:runtime/a-1")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		if status < 200 || status > 599 {
			status = 200
		}
		cfg := aws.Config{Region: "us-west-2", BaseEndpoint: aws.String("https://control.invalid"),
			Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
				return aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "secret"}, nil
			}),
			Retryer:    func() aws.Retryer { return aws.NopRetryer{} },
			HTTPClient: answerClient{status: status, body: body}}
		rt, err := Fetch(context.Background(), cfg, arn, Options{Timeout: 5 * time.Second})
		if err != nil {
			var (
				ue *UnavailableError
				nf *NotFoundError
				ae *APIError
				be *AnswerError
			)
			if !errors.As(err, &ue) && !errors.As(err, &nf) && !errors.As(err, &ae) && !errors.As(err, &be) {
				t.Fatalf("Fetch() error = %v (%T), not one of the package's", err, err)
			}
			return
		}
		if rt.Protocol == "" || rt.IdleTimeout < 0 || rt.MaxLifetime < 0 {
			t.Fatalf("Fetch() = %+v: no protocol or a negative lifecycle", rt)
		}
		if rt.JWT != nil {
			if _, err := secureurl.Check(rt.JWT.DiscoveryURL); err != nil {
				t.Fatalf("Fetch() JWT discovery URL %q: %v", rt.JWT.DiscoveryURL, err)
			}
			if err := rt.JWT.Rules().Validate(); err != nil {
				t.Fatalf("Fetch() rules invalid: %v", err)
			}
		}
	})
}
