package route

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/agentcore-proxy/agentcore-proxy/agentcore"
	"github.com/agentcore-proxy/agentcore-proxy/internal/config"
	"github.com/agentcore-proxy/agentcore-proxy/internal/emulator"
)

// secretlessPeers runs the fake AWS host and an emulated runtime whose authorizer trusts the STS
// issuer with allowedAudience [rt-aud] and no client rule, as the README's setup has it.
func secretlessPeers(t *testing.T) (*emulator.AWS, *emulator.Emulator) {
	t.Helper()
	// The SDK's loader must not read this machine's AWS files.
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	a, err := emulator.StartAWS(t.Context(), emulator.AWSConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	trust, err := a.WebIdentityTrust()
	if err != nil {
		t.Fatal(err)
	}
	emu, err := emulator.Start(t.Context(), emulator.Config{TrustedIssuer: trust, Authorizer: emulator.Authorizer{AllowedAudience: []string{"rt-aud"}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	return a, emu
}

func secretlessRoute(t *testing.T, emu *emulator.Emulator, flags config.RouteFlags) config.Resolved {
	t.Helper()
	flags.RuntimeARN, flags.EndpointURL, flags.Auth = emu.RuntimeARN(), emu.EndpointURL(), "aws-jwt"
	routes, err := config.FromFlags("127.0.0.1:0", flags).Validate(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	return routes[0]
}

func secretlessSetup(a *emulator.AWS) *AuthSetup {
	k := emulator.DefaultAWSCredential
	return NewAuthSetup(AuthOptions{AWSEndpoint: a.URL(), AWSCredentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: k.AccessKeyID, SecretAccessKey: k.SecretAccessKey, Source: "test"}, nil
	})})
}

// TestBuildAWSJWT: a secretless route gets an STS token, checks it against the issuer's key set
// with allowedAudience, and the emulated runtime accepts it.
func TestBuildAWSJWT(t *testing.T) {
	for _, alg := range []string{"RS256", "ES384"} {
		t.Run(alg, func(t *testing.T) {
			a, emu := secretlessPeers(t)
			r := secretlessRoute(t, emu, config.RouteFlags{Audience: "rt-aud", AWSJWTAlg: alg, AWSJWTTags: []string{"team=payments"}})
			life, stop := context.WithCancel(t.Context())
			setup := secretlessSetup(a)
			defer func() { stop(); setup.Wait() }()
			rt, err := Build(t.Context(), life, r, Deps{Auth: setup, Upstream: http.DefaultTransport})
			if err != nil {
				t.Fatalf("Build = %v", err)
			}
			if rt.WebIdentity == nil || rt.WebIdentity.Issuer != a.WebIdentityIssuer() {
				t.Fatalf("WebIdentity = %+v, want issuer %s", rt.WebIdentity, a.WebIdentityIssuer())
			}
			if got := rt.Auth.LocalCheck(); got != LocalCheckJWT {
				t.Errorf("LocalCheck = %q, want %q", got, LocalCheckJWT)
			}
			srv := httptest.NewServer(rt.Handler)
			defer srv.Close()
			req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/json, text/event-stream")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "protocolVersion") {
				t.Fatalf("initialize through the route = %d %s, want 200 and a result", resp.StatusCode, body)
			}
			if s := emu.Stats(); s.Initializes != 1 || len(s.Rejections) != 0 {
				t.Errorf("emulator stats = %+v, want one initialize and no rejection", s)
			}
			calls := 0
			for _, q := range a.Requests() {
				if q.Action == "GetWebIdentityToken" {
					calls++
				}
			}
			if calls != 1 {
				t.Errorf("GetWebIdentityToken called %d times, want 1 (the start-up token is the cache's first)", calls)
			}
			if claims := rt.Auth.Claims(); !strings.Contains(claims, "rt-aud") {
				t.Errorf("Claims() = %q, want the checked token's aud", claims)
			}
		})
	}
}

// TestBuildAWSJWTFailures: start fails, explained, when the account has no outbound federation,
// the role lacks sts:GetWebIdentityToken, or the issuer is not the runtime's.
func TestBuildAWSJWTFailures(t *testing.T) {
	a, emu := secretlessPeers(t)
	key := emulator.DefaultAWSCredential.AccessKeyID
	tests := []struct {
		name     string
		flags    config.RouteFlags
		setup    func()
		wantCode string
		want     []string
	}{
		{name: "federation disabled", flags: config.RouteFlags{Audience: "rt-aud"},
			setup: func() { a.SetOutboundFederation(false) }, wantCode: agentcore.ReasonAWSJWTFederationDisabled,
			want: []string{"outbound identity federation is not enabled for this account", "aws iam enable-outbound-web-identity-federation"}},
		{name: "denied", flags: config.RouteFlags{Audience: "rt-aud"},
			setup: func() { a.DenyActions(key, "sts:GetWebIdentityToken") }, wantCode: agentcore.ReasonAWSJWTAccessDenied,
			want: []string{"allow `sts:GetWebIdentityToken` to the proxy's role"}},
		{name: "issuer not the runtime's", flags: config.RouteFlags{Audience: "rt-aud", DiscoveryURL: "https://other.tokens.sts.global.api.aws/.well-known/openid-configuration"},
			setup: func() {}, wantCode: agentcore.ReasonClaimIss,
			want: []string{"differs from the runtime authorizer's discoveryUrl https://other.tokens.sts.global.api.aws/.well-known/openid-configuration (--discovery-url)",
				"set the runtime's discoveryUrl to " + a.WebIdentityIssuer() + "/.well-known/openid-configuration"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.setup()
			defer func() { a.SetOutboundFederation(true); a.DenyActions(key) }()
			r := secretlessRoute(t, emu, tt.flags)
			life, stop := context.WithCancel(t.Context())
			setup := secretlessSetup(a)
			defer func() { stop(); setup.Wait() }()
			_, err := Build(t.Context(), life, r, Deps{Auth: setup, Upstream: http.DefaultTransport})
			if err == nil {
				t.Fatal("Build = nil error, want the failure explained")
			}
			var coded interface{ Reason() string }
			if !errors.As(err, &coded) || coded.Reason() != tt.wantCode {
				t.Errorf("Build error reason = %v, want %s (err %v)", coded, tt.wantCode, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Build error = %q, want it to contain %q", err, w)
				}
			}
		})
	}
}
