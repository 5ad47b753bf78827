package doctor

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentcore-proxy/agentcore-proxy/internal/config"
	"github.com/agentcore-proxy/agentcore-proxy/internal/emulator"
	"github.com/agentcore-proxy/agentcore-proxy/internal/redact"
	"github.com/agentcore-proxy/agentcore-proxy/internal/route"
)

// The emulator's default client.
const (
	emuClientID     = "demo-client-id"
	emuClientSecret = "demo-client-secret"
)

func startEmulator(t *testing.T, cfg emulator.Config) *emulator.Emulator {
	t.Helper()
	emu, err := emulator.Start(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	return emu
}

// oauthFlags are the flags of emu's runtime with its default client.
func oauthFlags(emu *emulator.Emulator) config.RouteFlags {
	return config.RouteFlags{RuntimeARN: emu.RuntimeARN(), EndpointURL: emu.EndpointURL(), DiscoveryURL: emu.DiscoveryURL(),
		ClientID: emuClientID}
}

// check validates rf (secret, if set, from the environment variable) and
// runs the doctor on it with serve's shaping of the handler.
func check(t *testing.T, rf config.RouteFlags, secret string) RouteReport {
	t.Helper()
	rf.SecretInEnv = rf.SecretInEnv || secret != ""
	if rf.RuntimeConfig == "" {
		rf.RuntimeConfig = config.RuntimeConfigOff // these tests are not about the runtime configuration
	}
	routes, err := config.FromFlags("127.0.0.1:0", rf).Validate(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if err := config.ReadSecrets(routes, func(string) string { return secret }); err != nil {
		t.Fatal(err)
	}
	rep := Check(t.Context(), routes[0], 1, Options{Version: "test", Redactor: redact.New(),
		Route: route.Deps{SessionRecovery: true, MaxBodyBytes: 100 << 20}})
	for _, s := range rep.Steps {
		if secret != "" && strings.Contains(s.Detail, secret) {
			t.Errorf("step %s quotes the client secret: %s", s.Name, s.Detail)
		}
	}
	return rep
}

// step returns the step named name, failing the test without one.
func step(t *testing.T, rep RouteReport, name string) Step {
	t.Helper()
	for _, s := range rep.Steps {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("report has no step %q: %+v", name, rep.Steps)
	return Step{}
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestCheckHealthy: every step of a working OAuth runtime passes, in the
// order of the chain.
func TestCheckHealthy(t *testing.T) {
	emu := startEmulator(t, emulator.Config{})
	rep := check(t, oauthFlags(emu), emuClientSecret)
	var names []string
	for _, s := range rep.Steps {
		names = append(names, s.Name)
		if !s.OK || s.Skipped || s.Warning {
			t.Errorf("step %s = %+v, want a pass", s.Name, s)
		}
	}
	want := "configuration,runtime ARN,discovery,token,authorizer rules,protected-resource metadata,MCP initialize and tools/list"
	if got := strings.Join(names, ","); got != want || !rep.OK {
		t.Errorf("steps = %s (ok %v), want %s and ok", got, rep.OK, want)
	}
	if d := step(t, rep, "MCP initialize and tools/list").Detail; !strings.Contains(d, "add_numbers") {
		t.Errorf("MCP step detail = %q, want the tools listed", d)
	}
	if d := step(t, rep, "token").Detail; !strings.Contains(d, "client_id="+emuClientID) {
		t.Errorf("token step detail = %q, want the token's claims", d)
	}
	if st := emu.Stats(); st.TokenRequests != 1 {
		t.Errorf("token requests = %d, want 1: the token step's token is the one the MCP step sends", st.TokenRequests)
	}
}

// TestCheckFailures: each check fails on its own fault, says why, and the
// later steps are skipped.
func TestCheckFailures(t *testing.T) {
	tests := []struct {
		name   string
		setup  func(t *testing.T, emu *emulator.Emulator, rf *config.RouteFlags) (secret string)
		failed string
		want   string
	}{
		{name: "discovery unreachable", failed: "discovery", want: "connection refused",
			setup: func(t *testing.T, _ *emulator.Emulator, rf *config.RouteFlags) string {
				rf.DiscoveryURL = "http://" + closedAddr(t) + "/pool/.well-known/openid-configuration"
				return emuClientSecret
			}},
		{name: "wrong secret", failed: "token", want: "invalid_client",
			setup: func(*testing.T, *emulator.Emulator, *config.RouteFlags) string { return "wrong-secret-0123456789" }},
		{name: "audience rule", failed: "authorizer rules", want: "no aud claim",
			setup: func(_ *testing.T, _ *emulator.Emulator, rf *config.RouteFlags) string {
				rf.AllowedAudience = []string{"my-api"}
				return emuClientSecret
			}},
		{name: "other user pool", failed: "protected-resource metadata", want: "the runtime trusts",
			setup: func(t *testing.T, _ *emulator.Emulator, rf *config.RouteFlags) string {
				rf.DiscoveryURL = startEmulator(t, emulator.Config{PoolID: "us-west-2_OTHERPOOL"}).DiscoveryURL()
				return emuClientSecret
			}},
		{name: "runtime rejects the client", failed: "MCP initialize and tools/list", want: "allowedClients",
			setup: func(_ *testing.T, emu *emulator.Emulator, _ *config.RouteFlags) string {
				emu.SetAuthorizer(emulator.Authorizer{AllowedClients: []string{"another-client"}})
				return emuClientSecret
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			emu := startEmulator(t, emulator.Config{})
			rf := oauthFlags(emu)
			secret := tt.setup(t, emu, &rf)
			rep := check(t, rf, secret)
			s := step(t, rep, tt.failed)
			if rep.OK || s.OK || s.Skipped || !strings.Contains(s.Detail, tt.want) {
				t.Fatalf("step %s = %+v (report ok %v), want a failure saying %q", tt.failed, s, rep.OK, tt.want)
			}
			after := false
			for _, o := range rep.Steps {
				if after && !o.Skipped {
					t.Errorf("step %s after the failed %s ran: %+v", o.Name, tt.failed, o)
				}
				after = after || o.Name == tt.failed
			}
		})
	}
}

// TestCheckRunsServeChain: doctor's MCP step goes through the handler
// serve builds, step-up included: an insufficient_scope challenge is
// answered with a stepped-up token; with step-up off, it fails and the
// explanation says how to turn step-up on.
func TestCheckRunsServeChain(t *testing.T) {
	for _, stepUp := range []bool{true, false} {
		emu := startEmulator(t, emulator.Config{})
		rf := config.RouteFlags{UpstreamURL: emu.InvocationURL("DEFAULT"), DiscoveryURL: emu.DiscoveryURL(), ClientID: emuClientID,
			StepUp: &stepUp}
		// With step-up on, one challenge is answered by stepping up; with it
		// off every call gets one (the SDK retries initialize with an older
		// protocol version after a failure).
		n := 1
		if !stepUp {
			n = 10
		}
		emu.InjectFault(emulator.Fault{Status: 403, Message: "insufficient scope",
			Challenge: `Bearer error="insufficient_scope", scope="default-m2m-resource-server/read"`}, n)
		rep := check(t, rf, emuClientSecret)
		s := step(t, rep, "MCP initialize and tools/list")
		switch {
		case stepUp && (!s.OK || emu.Stats().TokenRequests != 2):
			t.Errorf("step-up on: MCP step = %+v after %d token requests, want a pass after 2 (the route's, the stepped-up one)", s, emu.Stats().TokenRequests)
		case !stepUp && (s.OK || !strings.Contains(s.Detail, "step-up is off") || !strings.Contains(s.Detail, "--step-up to true")):
			t.Errorf("step-up off: MCP step = %+v, want a failure saying step-up is off and to set --step-up to true", s)
		}
	}
}

// TestCheckFilePermissions: a secret file others may read is a warning,
// not a failure.
func TestCheckFilePermissions(t *testing.T) {
	emu := startEmulator(t, emulator.Config{})
	for _, mode := range []os.FileMode{0o600, 0o644} {
		file := filepath.Join(t.TempDir(), "secret")
		if err := os.WriteFile(file, []byte(emuClientSecret), mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(file, mode)
		rf := oauthFlags(emu)
		rf.ClientSecretFile = file
		rep := check(t, rf, "")
		warned := false
		for _, s := range rep.Steps {
			if s.Name == "file permissions" {
				warned = s.Warning && s.OK && strings.Contains(s.Detail, file)
			}
		}
		if want := mode&0o077 != 0; warned != want || !rep.OK {
			t.Errorf("secret file mode %o: warned %v (report ok %v), want warned %v and ok", mode, warned, rep.OK, want)
		}
	}
}

// awsEnv points the AWS credential chain at the fake AWS host with the
// emulator's key (none with noKey), and at nothing else on this machine.
func awsEnv(t *testing.T, host *emulator.AWS, noKey bool) {
	t.Helper()
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
		"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_ENDPOINT_URL_SSM", "AWS_ENDPOINT_URL_SECRETS_MANAGER", "AWS_ENDPOINT_URL_STS",
		"AWS_ENDPOINT_URL_BEDROCK_AGENTCORE", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "AWS_CA_BUNDLE"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	dir := t.TempDir()
	for _, name := range []string{"config", "credentials"} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_ENDPOINT_URL", host.URL())
	if !noKey {
		t.Setenv("AWS_ACCESS_KEY_ID", emulator.DefaultAWSCredential.AccessKeyID)
		t.Setenv("AWS_SECRET_ACCESS_KEY", emulator.DefaultAWSCredential.SecretAccessKey)
	}
}

// TestCheckAWS: the AWS signing step names who signs (from STS) or that no
// credentials were found; the client-from-AWS step names what it read
// from SSM, never a value, or the parameter that is missing.
func TestCheckAWS(t *testing.T) {
	const prefix = "/app/mcp/demo"
	tests := []struct {
		name   string
		noKey  bool
		flags  func(emu *emulator.Emulator) config.RouteFlags
		params bool // the SSM parameters exist
		step   string
		ok     bool
		want   string
	}{
		{name: "SigV4 signs", step: "AWS signing", ok: true,
			want: "signs as arn:aws:sts::123456789012:assumed-role/agentcore-proxy/emulator (account 123456789012), access key " +
				redact.Fingerprint(emulator.DefaultAWSCredential.AccessKeyID),
			flags: func(emu *emulator.Emulator) config.RouteFlags {
				return config.RouteFlags{RuntimeARN: emu.RuntimeARN(), EndpointURL: emu.EndpointURL(), Auth: config.AuthSigV4}
			}},
		{name: "SigV4 without credentials", noKey: true, step: "AWS signing", want: "no AWS credentials found",
			flags: func(emu *emulator.Emulator) config.RouteFlags {
				return config.RouteFlags{RuntimeARN: emu.RuntimeARN(), EndpointURL: emu.EndpointURL(), Auth: config.AuthSigV4}
			}},
		{name: "client from SSM", params: true, step: "client from AWS", ok: true,
			want: "read " + prefix + "/machine_client_id (String), " + prefix + "/cognito_discovery_url (String), " + prefix + "/cognito_secret (SecureString); values never shown",
			flags: func(emu *emulator.Emulator) config.RouteFlags {
				return config.RouteFlags{RuntimeARN: emu.RuntimeARN(), EndpointURL: emu.EndpointURL(), SSMPrefix: prefix}
			}},
		{name: "SSM parameters missing", step: "client from AWS", want: "not found",
			flags: func(emu *emulator.Emulator) config.RouteFlags {
				return config.RouteFlags{RuntimeARN: emu.RuntimeARN(), EndpointURL: emu.EndpointURL(), SSMPrefix: prefix}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			emu := startEmulator(t, emulator.Config{})
			emu.SetSigV4(tt.flags(emu).Auth == config.AuthSigV4)
			var params []emulator.Parameter
			if tt.params {
				params = []emulator.Parameter{
					{Name: prefix + "/machine_client_id", Type: "String", Value: emuClientID},
					{Name: prefix + "/cognito_secret", Type: "SecureString", Value: emuClientSecret},
					{Name: prefix + "/cognito_discovery_url", Type: "String", Value: emu.DiscoveryURL()},
				}
			}
			host, err := emulator.StartAWS(t.Context(), emulator.AWSConfig{Parameters: params})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { host.Close() })
			awsEnv(t, host, tt.noKey)
			rep := check(t, tt.flags(emu), "")
			s := step(t, rep, tt.step)
			if s.OK != tt.ok || !strings.Contains(s.Detail, tt.want) {
				t.Fatalf("step %s = %+v, want ok %v saying %q", tt.step, s, tt.ok, tt.want)
			}
			if tt.ok && !rep.OK {
				t.Errorf("report = %+v, want every step to pass", rep.Steps)
			}
			for _, st := range rep.Steps {
				if strings.Contains(st.Detail, emuClientSecret) || strings.Contains(st.Detail, emulator.DefaultAWSCredential.SecretAccessKey) {
					t.Errorf("step %s quotes a secret: %s", st.Name, st.Detail)
				}
			}
		})
	}
}
