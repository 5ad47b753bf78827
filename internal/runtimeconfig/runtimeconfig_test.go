package runtimeconfig

import (
	"cmp"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/agentcore-proxy/agentcore-proxy/agentcore"
	"github.com/agentcore-proxy/agentcore-proxy/internal/awssecrets"
	"github.com/agentcore-proxy/agentcore-proxy/internal/emulator"
	"github.com/agentcore-proxy/agentcore-proxy/jwtcheck"
)

var testCreds = aws.Credentials{AccessKeyID: emulator.DefaultAWSCredential.AccessKeyID,
	SecretAccessKey: emulator.DefaultAWSCredential.SecretAccessKey}

func startAWS(t *testing.T, cfg emulator.AWSConfig) *emulator.AWS {
	t.Helper()
	a, err := emulator.StartAWS(t.Context(), cfg)
	if err != nil {
		t.Fatalf("StartAWS() error = %v", err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

// sdkConfig reaches only base: static credentials, no retries.
func sdkConfig(base string, creds aws.Credentials) aws.Config {
	return aws.Config{
		Region:       "us-west-2",
		BaseEndpoint: aws.String(base),
		Credentials:  aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return creds, nil }),
		Retryer:      func() aws.Retryer { return aws.NopRetryer{} },
	}
}

func arnOf(t *testing.T, id string) agentcore.RuntimeARN {
	t.Helper()
	arn, err := agentcore.ParseRuntimeARN("arn:aws:bedrock-agentcore:us-west-2:123456789012:runtime/" + id)
	if err != nil {
		t.Fatal(err)
	}
	return arn
}

func TestFetch(t *testing.T) {
	t.Parallel()
	em, err := emulator.Start(t.Context(), emulator.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { em.Close() })
	jwtRT := em.ControlRuntime()
	jwtRT.HeaderAllowlist = []string{"Authorization", "X-Amzn-Bedrock-AgentCore-Runtime-Custom-Tenant"}
	jwtRT.JWT.AllowedAudience = []string{"api://mcp"}
	jwtRT.JWT.CustomClaims = []emulator.ControlClaim{
		{Name: "tier", Type: "STRING", Operator: "EQUALS", Values: []string{"gold"}},
		{Name: "groups", Type: "STRING_ARRAY", Operator: "CONTAINS_ANY", Values: []string{"a", "b"}},
	}
	a := startAWS(t, emulator.AWSConfig{Runtimes: []emulator.ControlRuntime{
		jwtRT,
		{ID: "iam_server-IAM0000001"},
		{ID: "http_agent-HTTP000001", Protocol: "HTTP", JWT: &emulator.ControlAuthorizer{DiscoveryURL: em.DiscoveryURL()}},
		{ID: "bad_server-BAD0000001", JWT: &emulator.ControlAuthorizer{DiscoveryURL: "ftp://example.com/.well-known/openid-configuration"}},
	}})
	cfg := sdkConfig(a.URL(), testCreds)

	t.Run("jwt", func(t *testing.T) {
		rt, err := Fetch(t.Context(), cfg, arnOf(t, jwtRT.ID), Options{})
		if err != nil {
			t.Fatalf("Fetch() error = %v", err)
		}
		if rt.IAM() || rt.JWT.DiscoveryURL != em.DiscoveryURL() || !slices.Equal(rt.JWT.AllowedClients, []string{"demo-client-id"}) {
			t.Errorf("Fetch() = %+v, JWT %+v; want the emulator's authorizer", rt, rt.JWT)
		}
		if rt.Audience() != "api://mcp" {
			t.Errorf("Audience() = %q, want api://mcp", rt.Audience())
		}
		wantClaims := []jwtcheck.CustomClaim{{Name: "tier", Type: "STRING", Operator: "EQUALS", Values: []string{"gold"}},
			{Name: "groups", Type: "STRING_ARRAY", Operator: "CONTAINS_ANY", Values: []string{"a", "b"}}}
		if !slices.EqualFunc(rt.JWT.CustomClaims, wantClaims, func(x, y jwtcheck.CustomClaim) bool {
			return x.Name == y.Name && x.Type == y.Type && x.Operator == y.Operator && slices.Equal(x.Values, y.Values)
		}) {
			t.Errorf("CustomClaims = %+v, want %+v", rt.JWT.CustomClaims, wantClaims)
		}
		if rt.Protocol != "MCP" || rt.Status != "READY" || rt.IdleTimeout != 15*time.Minute || rt.MaxLifetime != 8*time.Hour ||
			!slices.Equal(rt.HeaderAllowlist, jwtRT.HeaderAllowlist) || !strings.HasSuffix(rt.ARN, jwtRT.ID) {
			t.Errorf("Fetch() = %+v; want MCP, READY, 15m/8h, allowlist %v", rt, jwtRT.HeaderAllowlist)
		}
		if s := rt.String(); !strings.Contains(s, "allowedClients [demo-client-id]") || !strings.Contains(s, "header allowlist") {
			t.Errorf("String() = %q; want the rules and the allowlist", s)
		}
	})
	t.Run("iam", func(t *testing.T) {
		rt, err := Fetch(t.Context(), cfg, arnOf(t, "iam_server-IAM0000001"), Options{})
		if err != nil || !rt.IAM() || rt.Audience() != "" || rt.IdleTimeout != 0 {
			t.Fatalf("Fetch() = %+v, %v; want an IAM runtime without lifecycle", rt, err)
		}
	})
	t.Run("http protocol", func(t *testing.T) {
		rt, err := Fetch(t.Context(), cfg, arnOf(t, "http_agent-HTTP000001"), Options{})
		if err != nil || rt.Protocol != "HTTP" {
			t.Fatalf("Fetch() = %+v, %v; want protocol HTTP", rt, err)
		}
	})
	t.Run("not found", func(t *testing.T) {
		_, err := Fetch(t.Context(), cfg, arnOf(t, "gone-GONE000001"), Options{})
		var nf *NotFoundError
		if !errors.As(err, &nf) || !strings.Contains(err.Error(), "runtime/gone-GONE000001") || nf.Region != "us-west-2" {
			t.Fatalf("Fetch() error = %v; want a NotFoundError naming the ARN", err)
		}
	})
	t.Run("unusable discovery url", func(t *testing.T) {
		_, err := Fetch(t.Context(), cfg, arnOf(t, "bad_server-BAD0000001"), Options{})
		var ae *AnswerError
		if !errors.As(err, &ae) || !strings.Contains(err.Error(), "ftp://") {
			t.Fatalf("Fetch() error = %v; want an AnswerError naming the discoveryUrl", err)
		}
	})
	t.Run("unknown key", func(t *testing.T) {
		_, err := Fetch(t.Context(), sdkConfig(a.URL(), aws.Credentials{AccessKeyID: "AKIAUNKNOWN", SecretAccessKey: "x"}), arnOf(t, jwtRT.ID), Options{})
		var ue *UnavailableError
		if !errors.As(err, &ue) || ue.Cause != CauseNoCredentials {
			t.Fatalf("Fetch() error = %v; want UnavailableError(no_credentials)", err)
		}
	})
	t.Run("no credentials", func(t *testing.T) {
		c := cfg
		c.Credentials = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{}, errors.New("no EC2 IMDS role found")
		})
		_, err := Fetch(t.Context(), c, arnOf(t, jwtRT.ID), Options{})
		var ue *UnavailableError
		if !errors.As(err, &ue) || ue.Cause != CauseNoCredentials {
			t.Fatalf("Fetch() error = %v; want UnavailableError(no_credentials)", err)
		}
		c.Credentials = nil
		if _, err := Fetch(t.Context(), c, arnOf(t, jwtRT.ID), Options{}); !errors.As(err, &ue) {
			t.Fatalf("Fetch(nil credentials) error = %v; want UnavailableError", err)
		}
	})
}

// TestFetchAccessDenied runs apart: DenyActions changes the host's only key.
func TestFetchAccessDenied(t *testing.T) {
	t.Parallel()
	a := startAWS(t, emulator.AWSConfig{Runtimes: []emulator.ControlRuntime{{ID: "iam_server-IAM0000001"}}})
	a.DenyActions(testCreds.AccessKeyID, Action)
	_, err := Fetch(t.Context(), sdkConfig(a.URL(), testCreds), arnOf(t, "iam_server-IAM0000001"), Options{})
	var ue *UnavailableError
	if !errors.As(err, &ue) || ue.Cause != CauseAccessDenied || ue.Action != Action {
		t.Fatalf("Fetch() error = %v; want UnavailableError(access_denied, %s)", err, Action)
	}
	reqs := a.Requests()
	if len(reqs) != 1 || reqs[0].Rejection != emulator.ReasonSigV4AccessDenied || reqs[0].Service != "bedrock-agentcore-control" {
		t.Errorf("Requests() = %+v; want one refused GetAgentRuntime", reqs)
	}
}

// TestFetchEndpointFromEnvironment checks that the configuration loaded the
// usual way honours AWS_ENDPOINT_URL_BEDROCK_AGENTCORE_CONTROL, over
// AWS_ENDPOINT_URL.
func TestFetchEndpointFromEnvironment(t *testing.T) {
	a := startAWS(t, emulator.AWSConfig{Runtimes: []emulator.ControlRuntime{{ID: "iam_server-IAM0000001"}}})
	t.Setenv("AWS_ENDPOINT_URL_BEDROCK_AGENTCORE_CONTROL", a.URL())
	t.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
	t.Setenv("AWS_ACCESS_KEY_ID", testCreds.AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", testCreds.SecretAccessKey)
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_PROFILE", "")
	cfg, err := awssecrets.LoadConfig(t.Context(), awssecrets.ConfigOptions{FallbackRegion: "us-west-2"})
	if err != nil {
		t.Fatal(err)
	}
	rt, err := Fetch(t.Context(), cfg, arnOf(t, "iam_server-IAM0000001"), Options{})
	if err != nil || !rt.IAM() {
		t.Fatalf("Fetch() = %+v, %v; want the IAM runtime from the endpoint in the environment", rt, err)
	}
}

func TestFetchFailures(t *testing.T) {
	t.Parallel()
	arn := arnOf(t, "any-ANY0000001")
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
		check   func(error) bool
		timeout time.Duration // 0: 10s, ample on a loaded machine
	}{
		{name: "throttled", handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Amzn-Errortype", "ThrottlingException")
			w.WriteHeader(http.StatusTooManyRequests)
			w.Write([]byte(`{"message":"Rate exceeded"}`))
		}, check: func(err error) bool { var e *APIError; return errors.As(err, &e) && e.Throttled() }},
		{name: "too large", handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"description":"`))
			w.Write([]byte(strings.Repeat("x", MaxAnswerBytes)))
			w.Write([]byte(`"}`))
		}, check: func(err error) bool {
			var e *AnswerError
			return errors.As(err, &e) && strings.Contains(err.Error(), "too large")
		}},
		{name: "not json", handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`<html>`))
		}, check: func(err error) bool { var e *AnswerError; return errors.As(err, &e) }},
		{name: "timeout", handler: func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
		}, check: func(err error) bool {
			var e *APIError
			return errors.As(err, &e) && errors.Is(err, context.DeadlineExceeded)
		}, timeout: 300 * time.Millisecond},
		{name: "unreachable", handler: nil, check: func(err error) bool {
			var e *APIError
			return errors.As(err, &e) && e.Unreachable && strings.Contains(err.Error(), "the control plane cannot be reached") &&
				strings.Contains(err.Error(), "connection refused") && !strings.Contains(err.Error(), "StatusCode: 0")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(tc.handler)
			if tc.handler == nil {
				srv.Close() // nothing listens on its port now
			}
			t.Cleanup(srv.Close)
			_, err := Fetch(t.Context(), sdkConfig(srv.URL, testCreds), arn, Options{Timeout: cmp.Or(tc.timeout, 10*time.Second)})
			if err == nil || !tc.check(err) {
				t.Fatalf("Fetch() error = %v (%T)", err, err)
			}
		})
	}
}

// TestFetchCredentialsTimeout: a credential chain that never answers (the
// SDK's, waiting on an EC2 metadata endpoint that accepts and never
// replies) is given up after CredentialsTimeout, not after Timeout, as
// "no credentials"; without CredentialsTimeout, Timeout bounds it.
func TestFetchCredentialsTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := aws.Config{Region: "us-west-2", Credentials: aws.CredentialsProviderFunc(func(ctx context.Context) (aws.Credentials, error) {
			<-ctx.Done()
			return aws.Credentials{}, ctx.Err()
		})}
		arn := arnOf(t, "any-ANY0000001")
		for _, tc := range []struct {
			opts Options
			want time.Duration
		}{
			{Options{Timeout: 10 * time.Second, CredentialsTimeout: time.Second}, time.Second},
			{Options{Timeout: 3 * time.Second}, 3 * time.Second},
		} {
			start := time.Now()
			_, err := Fetch(t.Context(), cfg, arn, tc.opts)
			var ue *UnavailableError
			if !errors.As(err, &ue) || ue.Cause != CauseNoCredentials {
				t.Fatalf("Fetch(%+v) error = %v, want no credentials", tc.opts, err)
			}
			if got := time.Since(start); got != tc.want {
				t.Errorf("Fetch(%+v) gave up after %v, want %v", tc.opts, got, tc.want)
			}
		}
	})
}
