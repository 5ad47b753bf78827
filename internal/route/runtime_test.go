package route

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/agentcore-proxy/agentcore-proxy/internal/config"
	"github.com/agentcore-proxy/agentcore-proxy/internal/emulator"
	"github.com/agentcore-proxy/agentcore-proxy/internal/otherhost"
	"github.com/agentcore-proxy/agentcore-proxy/proxy"
)

// cleanAWS points the AWS SDK's shared files at empty ones and turns
// instance metadata off, so that only what a test sets is found.
func cleanAWS(t *testing.T, endpoint string) {
	t.Helper()
	empty := filepath.Join(t.TempDir(), "empty")
	os.WriteFile(empty, nil, 0o600)
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_REGION", "AWS_ENDPOINT_URL"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	t.Setenv("AWS_CONFIG_FILE", empty)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", empty)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_ENDPOINT_URL_BEDROCK_AGENTCORE_CONTROL", endpoint)
}

func resolveFlags(t *testing.T, f config.RouteFlags) config.Resolved {
	t.Helper()
	routes, err := config.FromFlags("127.0.0.1:0", f).Validate(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	return routes[0]
}

// TestReadRuntime applies a runtime's configuration to routes: rules and
// discovery URL filled where none are given, a given rule that differs
// wins with a warning naming both values, SigV4 for an IAM runtime without
// auth, a non-MCP runtime refused, and an unreadable runtime passed over in
// auto mode but not in required mode.
func TestReadRuntime(t *testing.T) {
	const (
		arn  = "arn:aws:bedrock-agentcore:us-west-2:123456789012:runtime/"
		disc = "https://idp.example.com/pool/.well-known/openid-configuration"
	)
	a, err := emulator.StartAWS(t.Context(), emulator.AWSConfig{Runtimes: []emulator.ControlRuntime{
		{ID: "jwt-JWT0000001", JWT: &emulator.ControlAuthorizer{DiscoveryURL: disc, AllowedClients: []string{"A"}, AllowedScopes: []string{"s/read"}}},
		{ID: "iam-IAM0000001"},
		{ID: "a2a-A2A0000001", Protocol: "A2A"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	cleanAWS(t, a.URL())
	key := emulator.DefaultAWSCredential
	creds := aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: key.AccessKeyID, SecretAccessKey: key.SecretAccessKey}, nil
	})
	for _, tc := range []struct {
		name    string
		flags   config.RouteFlags
		noCreds bool
		wantErr string
		check   func(t *testing.T, r config.Resolved, logs string)
	}{
		{name: "fills the unset", flags: config.RouteFlags{RuntimeARN: arn + "jwt-JWT0000001", ClientID: "A", SecretInEnv: true},
			check: func(t *testing.T, r config.Resolved, logs string) {
				if !r.Auth.DiscoveryFromRuntime {
					t.Error("DiscoveryFromRuntime = false, want true: the URL came from the runtime")
				}
				if r.Auth.DiscoveryURL != disc || !slices.Equal(r.Rules.AllowedClients, []string{"A"}) || !slices.Equal(r.Rules.AllowedScopes, []string{"s/read"}) || r.RulesDefaulted {
					t.Errorf("route = discovery %q, rules %+v; want the runtime's", r.Auth.DiscoveryURL, r.Rules)
				}
				if strings.Contains(logs, "level=WARN") {
					t.Errorf("warnings without a conflict:\n%s", logs)
				}
			}},
		{name: "a given rule wins, with a warning", flags: config.RouteFlags{RuntimeARN: arn + "jwt-JWT0000001", ClientID: "B", SecretInEnv: true, AllowedClients: []string{"B"}},
			check: func(t *testing.T, r config.Resolved, logs string) {
				if !slices.Equal(r.Rules.AllowedClients, []string{"B"}) || !slices.Equal(r.Rules.AllowedScopes, []string{"s/read"}) {
					t.Errorf("rules = %+v; want [B] kept and the runtime's scopes", r.Rules)
				}
				if n := strings.Count(logs, "--allowed-client is [B], but the runtime's allowedClients is [A]: using --allowed-client"); n != 1 {
					t.Errorf("the warning naming both values is logged %d times, want once (ReadRuntime runs twice):\n%s", n, logs)
				}
			}},
		{name: "IAM without auth gets SigV4", flags: config.RouteFlags{RuntimeARN: arn + "iam-IAM0000001"},
			check: func(t *testing.T, r config.Resolved, logs string) {
				if r.SigV4 == nil || r.SigV4.Region != "us-west-2" || r.AuthFromRuntime || r.Auth != nil {
					t.Errorf("route = sigv4 %+v, auth %+v; want SigV4 in us-west-2", r.SigV4, r.Auth)
				}
				if !strings.Contains(logs, "signing requests with AWS SigV4") {
					t.Errorf("logs lack the SigV4 choice:\n%s", logs)
				}
			}},
		{name: "JWT without auth", flags: config.RouteFlags{RuntimeARN: arn + "jwt-JWT0000001"},
			wantErr: "the runtime has a JWT authorizer (discovery URL " + disc + ", allowedClients [A], allowedScopes [s/read]): give --client-id"},
		{name: "not MCP", flags: config.RouteFlags{RuntimeARN: arn + "a2a-A2A0000001", ClientID: "A", SecretInEnv: true},
			wantErr: "is a A2A runtime (protocolConfiguration.serverProtocol), and this proxy speaks MCP only"},
		{name: "not found in auto", flags: config.RouteFlags{RuntimeARN: arn + "gone-GONE000001", ClientID: "A", SecretInEnv: true},
			check: func(t *testing.T, r config.Resolved, logs string) {
				if r.Auth.DiscoveryURL != "" || !strings.Contains(logs, "level=WARN") || !strings.Contains(logs, "runtime/gone-GONE000001") {
					t.Errorf("route discovery %q; want nothing taken and a warning naming the ARN:\n%s", r.Auth.DiscoveryURL, logs)
				}
			}},
		{name: "not found when required", flags: config.RouteFlags{RuntimeARN: arn + "gone-GONE000001", ClientID: "A", SecretInEnv: true, RuntimeConfig: "required"},
			wantErr: "--runtime-config required, and the runtime's configuration cannot be read: runtimeconfig: no runtime arn:aws:bedrock-agentcore:us-west-2:123456789012:runtime/gone-GONE000001 in region us-west-2"},
		{name: "no credentials in auto", flags: config.RouteFlags{RuntimeARN: arn + "jwt-JWT0000001", ClientID: "A", SecretInEnv: true}, noCreds: true,
			check: func(t *testing.T, r config.Resolved, logs string) {
				if r.Auth.DiscoveryURL != "" || !strings.Contains(logs, "level=INFO msg=\"runtime configuration not read") {
					t.Errorf("route discovery %q; want nothing taken and one info line:\n%s", r.Auth.DiscoveryURL, logs)
				}
			}},
		{name: "off reads nothing", flags: config.RouteFlags{RuntimeARN: arn + "jwt-JWT0000001", ClientID: "A", SecretInEnv: true, RuntimeConfig: "off"},
			check: func(t *testing.T, r config.Resolved, logs string) {
				if r.Auth.DiscoveryURL != "" || logs != "" {
					t.Errorf("route discovery %q, logs %q; want nothing", r.Auth.DiscoveryURL, logs)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			opts := AuthOptions{Logger: slog.New(slog.NewTextHandler(&logs, nil)), AWSCredentials: creds}
			if tc.noCreds {
				opts.AWSCredentials = nil
			}
			r := resolveFlags(t, tc.flags)
			setup := NewAuthSetup(opts)
			calls := len(a.Requests())
			_, err := setup.ReadRuntime(t.Context(), &r)
			if _, err2 := setup.ReadRuntime(t.Context(), &r); (err == nil) != (err2 == nil) {
				t.Errorf("ReadRuntime() again: error %v, first %v; want the same outcome", err2, err)
			}
			if n := len(a.Requests()) - calls; n > 1 {
				t.Errorf("two ReadRuntime calls sent %d GetAgentRuntime requests, want at most 1", n)
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ReadRuntime() error = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ReadRuntime() error = %v", err)
			}
			tc.check(t, r, logs.String())
		})
	}
}

// TestReadRuntimeLooksForCredentialsOnce: two routes on one profile and no
// AWS credentials: the second route does not look for them again (each
// look may wait up to AutoCredentialsWait), and both go on as configured.
func TestReadRuntimeLooksForCredentialsOnce(t *testing.T) {
	cleanAWS(t, "http://127.0.0.1:1")
	var looks atomic.Int32
	creds := aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		looks.Add(1)
		return aws.Credentials{}, errors.New("no credentials here")
	})
	setup := NewAuthSetup(AuthOptions{AWSCredentials: creds})
	first := resolveFlags(t, config.RouteFlags{RuntimeARN: "arn:aws:bedrock-agentcore:us-west-2:123456789012:runtime/one-ONE0000001", ClientID: "A", SecretInEnv: true})
	second := resolveFlags(t, config.RouteFlags{RuntimeARN: "arn:aws:bedrock-agentcore:us-west-2:123456789012:runtime/two-TWO0000001", ClientID: "A", SecretInEnv: true})
	second.Name = "second"
	for _, r := range []*config.Resolved{&first, &second} {
		if rt, err := setup.ReadRuntime(t.Context(), r); rt != nil || err != nil {
			t.Fatalf("ReadRuntime(%s) = %v, %v; want nothing read and no error in auto mode", r.Name, rt, err)
		}
	}
	if n := looks.Load(); n != 1 {
		t.Errorf("credentials looked for %d times, want 1", n)
	}
}

// TestReadRuntimeAWSJWTProfile: a secretless route reads its runtime with
// the credentials of its own --aws-profile (the one that signs its STS
// calls), and takes its audience and discovery URL from the runtime.
func TestReadRuntimeAWSJWTProfile(t *testing.T) {
	const disc = "https://sts-issuer.example.com/.well-known/openid-configuration"
	a, err := emulator.StartAWS(t.Context(), emulator.AWSConfig{Runtimes: []emulator.ControlRuntime{
		{ID: "jwt-JWT0000001", JWT: &emulator.ControlAuthorizer{DiscoveryURL: disc, AllowedAudience: []string{"rt-aud", "other"}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	cleanAWS(t, a.URL())
	k := emulator.DefaultAWSCredential
	creds := filepath.Join(t.TempDir(), "credentials")
	os.WriteFile(creds, []byte("[ops]\naws_access_key_id = "+k.AccessKeyID+"\naws_secret_access_key = "+k.SecretAccessKey+"\n"), 0o600)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", creds)
	r := resolveFlags(t, config.RouteFlags{RuntimeARN: "arn:aws:bedrock-agentcore:us-west-2:123456789012:runtime/jwt-JWT0000001",
		Auth: "aws-jwt", AWSProfile: "ops"})
	rt, err := NewAuthSetup(AuthOptions{}).ReadRuntime(t.Context(), &r)
	if err != nil || rt == nil {
		t.Fatalf("ReadRuntime() = %v, %v; want the runtime, read with profile ops", rt, err)
	}
	if !slices.Equal(r.AWSJWT.Audience, []string{"rt-aud"}) || r.AWSJWT.DiscoveryURL != disc || !r.AWSJWT.DiscoveryFromRuntime ||
		!slices.Equal(r.Rules.AllowedAudience, []string{"rt-aud", "other"}) {
		t.Errorf("route = %+v, rules %+v; want audience rt-aud, the runtime's discovery URL and allowedAudience", r.AWSJWT, r.Rules)
	}
}

// TestRuntimeDiscoveryURLMeetsIssuer: a runtime whose authorizer names an
// identity provider on another host (its configuration changed behind the
// user's back, or a hostile control-plane endpoint) does not receive the
// client's credentials when --issuer names the user's own provider: the
// route does not start, the error names both, and the other host gets no
// token request and no secret.
func TestRuntimeDiscoveryURLMeetsIssuer(t *testing.T) {
	emu, err := emulator.Start(t.Context(), emulator.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	other := otherhost.Start(t, func(w http.ResponseWriter, r *http.Request) {
		base := "http://" + r.Host
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{"issuer": base, "token_endpoint": base + "/token", "jwks_uri": base + "/jwks"})
	})
	rt := emu.ControlRuntime()
	rt.JWT.DiscoveryURL = other.URL + "/.well-known/openid-configuration"
	a, err := emulator.StartAWS(t.Context(), emulator.AWSConfig{Runtimes: []emulator.ControlRuntime{rt}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	cleanAWS(t, a.URL())
	k := emulator.DefaultAWSCredential
	creds := aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: k.AccessKeyID, SecretAccessKey: k.SecretAccessKey}, nil
	})
	const secret = "demo-client-secret"
	r := resolve(t, config.RouteFlags{RuntimeARN: emu.RuntimeARN(), EndpointURL: emu.EndpointURL(), ClientID: "demo-client-id",
		Issuer: emu.Issuer(), RuntimeConfig: config.RuntimeConfigAuto}, secret)
	life, stop := context.WithCancel(t.Context())
	setup := NewAuthSetup(AuthOptions{AWSCredentials: creds})
	t.Cleanup(func() { stop(); setup.Wait() })
	_, err = Build(t.Context(), life, r, Deps{Auth: setup, Upstream: proxy.NewTransport(proxy.TransportOptions{})})
	if !errors.Is(err, ErrUntrustedAuthServer) || !strings.Contains(err.Error(), other.URL) || !strings.Contains(err.Error(), emu.Issuer()) {
		t.Fatalf("Build() = %v, want the untrusted authorization server refused, naming %s and %s", err, other.URL, emu.Issuer())
	}
	if !strings.Contains(err.Error(), "the runtime's discoveryUrl") {
		t.Errorf("Build() = %v, want it to say the discovery URL came from the runtime", err)
	}
	for _, req := range other.Received() {
		if strings.HasPrefix(req, "POST") || strings.Contains(req, secret) || !strings.Contains(req, `Authorization=""`) {
			t.Errorf("the other host received %s", req)
		}
	}
	if st := emu.Stats(); st.TokenRequests != 0 || st.Invocations != 0 {
		t.Errorf("emulator stats = %+v, want nothing asked of the user's provider or the runtime", st)
	}
}
