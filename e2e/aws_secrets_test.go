package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentcore-proxy/agentcore-proxy/internal/emulator"
)

// rotatedSecret is the client secret after a rotation; the secret scan
// looks for it too.
const rotatedSecret = "rotated-client-secret-2"

func init() { testSecrets = append(testSecrets, rotatedSecret) }

const ssmPrefix = "/app/mcp/demo"

// startAWS starts the fake SSM, Secrets Manager and STS for one test, with
// the guide's parameters for emu's client under ssmPrefix, and points the
// SDK at it through AWS_ENDPOINT_URL with the emulator's access key.
func startAWS(t *testing.T, emu *emulator.Emulator, secrets ...emulator.Secret) *emulator.AWS {
	t.Helper()
	a, err := emulator.StartAWS(t.Context(), emulator.AWSConfig{
		Parameters: []emulator.Parameter{
			{Name: ssmPrefix + "/machine_client_id", Type: "String", Value: testClientID},
			{Name: ssmPrefix + "/cognito_secret", Type: "SecureString", Value: testClientSecret},
			{Name: ssmPrefix + "/cognito_discovery_url", Type: "String", Value: emu.DiscoveryURL()},
		},
		Secrets: secrets,
	})
	if err != nil {
		t.Fatalf("emulator.StartAWS: %v", err)
	}
	t.Cleanup(func() { a.Close() })
	awsEnv(t, awsKeyEnv(map[string]string{"AWS_ENDPOINT_URL": a.URL()}))
	return a
}

// oauthFlags are serve flags for emu's OAuth runtime with nothing of the
// client: each test adds where it comes from.
func oauthFlags(emu *emulator.Emulator, extra ...string) []string {
	return append([]string{"serve", "--listen", "127.0.0.1:0", "--log-format", "json", "--log-level", "debug",
		"--runtime-arn", emu.RuntimeARN(), "--endpoint-url", emu.EndpointURL()}, extra...)
}

// awsCalls counts the fake AWS host's answered requests by action.
func awsCalls(a *emulator.AWS) map[string]int {
	n := map[string]int{}
	for _, r := range a.Requests() {
		if r.Rejection == "" {
			n[r.Action]++
		}
	}
	return n
}

// TestClientFromAWS runs a Go SDK client through routes whose OAuth client
// comes from SSM Parameter Store (the guide's three parameters, the region
// from the ARN) or whose secret comes from Secrets Manager, and one where
// an explicit flag overrides its parameter.
func TestClientFromAWS(t *testing.T) {
	tests := []struct {
		name      string
		secret    string // SecretString of agentcore-proxy/client
		flags     []string
		wantCalls map[string]int
	}{
		{name: "SSM prefix", flags: []string{"--ssm-prefix", ssmPrefix},
			wantCalls: map[string]int{"GetParameters": 1, "GetParameter": 1}},
		{name: "SSM prefix, client id from the flag", flags: []string{"--ssm-prefix", ssmPrefix + "/", "--client-id", testClientID},
			wantCalls: map[string]int{"GetParameters": 1, "GetParameter": 1}},
		{name: "Secrets Manager JSON", secret: `{"client_secret":"` + testClientSecret + `","note":"x"}`,
			flags:     []string{"--client-id", testClientID, "--discovery-url", "DISCOVERY", "--client-secret-arn", "agentcore-proxy/client"},
			wantCalls: map[string]int{"GetSecretValue": 1}},
		{name: "Secrets Manager JSON, another key", secret: `{"secret":"` + testClientSecret + `"}`,
			flags:     []string{"--client-id", testClientID, "--discovery-url", "DISCOVERY", "--client-secret-arn", "agentcore-proxy/client", "--client-secret-json-key", "secret"},
			wantCalls: map[string]int{"GetSecretValue": 1}},
		{name: "Secrets Manager plain", secret: testClientSecret,
			flags:     []string{"--client-id", testClientID, "--discovery-url", "DISCOVERY", "--client-secret-arn", "agentcore-proxy/client"},
			wantCalls: map[string]int{"GetSecretValue": 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			emu := startEmulator(t, emulator.Config{})
			var secrets []emulator.Secret
			if tt.secret != "" {
				secrets = []emulator.Secret{{Name: "agentcore-proxy/client", SecretString: tt.secret}}
			}
			a := startAWS(t, emu, secrets...)
			if strings.Contains(tt.name, "from the flag") {
				a.SetParameter(emulator.Parameter{Name: ssmPrefix + "/machine_client_id", Type: "String", Value: "not-this-client"})
			}
			flags := oauthFlags(emu, tt.flags...)
			for i, f := range flags {
				if f == "DISCOVERY" {
					flags[i] = emu.DiscoveryURL()
				}
			}
			p := startProxy(t, nil, flags...)
			waitReady(t, p)
			cs := connect(t, p.MCPURL(), nil)
			if got := callText(t, cs, "add_numbers", map[string]any{"a": 2, "b": 3}); got != "5" {
				t.Errorf("add_numbers(2, 3) = %q, want 5", got)
			}
			got := awsCalls(a)
			for action, n := range tt.wantCalls {
				if got[action] != n {
					t.Errorf("AWS calls = %v, want %d %s", got, n, action)
				}
			}
			if st := emu.Stats(); st.TokensIssued != 1 || len(st.Rejections) != 0 {
				t.Errorf("emulator stats = %+v, want one token issued and no rejection", st)
			}
		})
	}
}

// TestClientFromAWSBadInput checks that each unusable AWS source stops serve
// at start with a sentence naming what is missing, and that nothing is sent
// to the token endpoint or the runtime.
func TestClientFromAWSBadInput(t *testing.T) {
	tests := []struct {
		name   string
		secret string
		setup  func(a *emulator.AWS)
		flags  []string
		want   []string
	}{
		{name: "missing parameters", flags: []string{"--ssm-prefix", "/app/mcp/nothing"},
			want: []string{"--ssm-prefix /app/mcp/nothing: SSM parameter /app/mcp/nothing/machine_client_id, /app/mcp/nothing/cognito_discovery_url, /app/mcp/nothing/cognito_secret not found"}},
		{name: "SecureString not decryptable", flags: []string{"--ssm-prefix", ssmPrefix},
			setup: func(a *emulator.AWS) { a.BreakKMS(true) },
			want:  []string{"--ssm-prefix " + ssmPrefix, "cannot be decrypted", "kms:Decrypt"}},
		{name: "SSM access denied", flags: []string{"--ssm-prefix", ssmPrefix},
			setup: func(a *emulator.AWS) { a.DenyActions(emulator.DefaultAWSCredential.AccessKeyID, "ssm:GetParameters") },
			want:  []string{"--ssm-prefix " + ssmPrefix, "access denied", "ssm:GetParameters"}},
		{name: "secret JSON without the key", secret: `{"other":"x"}`,
			flags: []string{"--client-id", testClientID, "--discovery-url", "DISCOVERY", "--client-secret-arn", "agentcore-proxy/client"},
			want:  []string{"--client-secret-arn agentcore-proxy/client", `the secret is JSON without the key "client_secret" (keys present: other)`, "--client-secret-json-key"}},
		{name: "no such secret",
			flags: []string{"--client-id", testClientID, "--discovery-url", "DISCOVERY", "--client-secret-arn", "agentcore-proxy/none"},
			want:  []string{"--client-secret-arn agentcore-proxy/none: no Secrets Manager secret agentcore-proxy/none"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			emu := startEmulator(t, emulator.Config{})
			var secrets []emulator.Secret
			if tt.secret != "" {
				secrets = []emulator.Secret{{Name: "agentcore-proxy/client", SecretString: tt.secret}}
			}
			a := startAWS(t, emu, secrets...)
			if tt.setup != nil {
				tt.setup(a)
			}
			flags := oauthFlags(emu, tt.flags...)
			for i, f := range flags {
				if f == "DISCOVERY" {
					flags[i] = emu.DiscoveryURL()
				}
			}
			_, _, err := runCmd(t, nil, flags...)
			if err == nil {
				t.Fatal("serve started, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("serve error = %v\nwant it to contain %q", err, w)
				}
			}
			if st := emu.Stats(); st.TokenRequests != 0 || len(emu.Invocations()) != 0 {
				t.Errorf("emulator stats = %+v, want nothing sent", st)
			}
		})
	}
}

// TestSecretRotation rotates the client secret while a client keeps calling:
// the emulated Cognito starts refusing the old secret, the source holds the
// new one (SSM, Secrets Manager, a Kubernetes-style secret volume), and the
// proxy picks it up (on invalid_client, or when the file changes) without a
// single failed call. Logs carry fingerprints, never values.
func TestSecretRotation(t *testing.T) {
	long(t, "keeps traffic going for 4 s across each of three secret rotations")
	tests := []struct {
		name    string
		wantLog string // how the proxy noticed
		setup   func(t *testing.T, emu *emulator.Emulator, a *emulator.AWS) (flags []string, rotate func())
	}{
		{name: "SSM SecureString", wantLog: "answered invalid_client; retrying with the re-read client secret", setup: func(t *testing.T, emu *emulator.Emulator, a *emulator.AWS) ([]string, func()) {
			return []string{"--ssm-prefix", ssmPrefix}, func() {
				a.SetParameter(emulator.Parameter{Name: ssmPrefix + "/cognito_secret", Type: "SecureString", Value: rotatedSecret})
			}
		}},
		{name: "Secrets Manager", wantLog: "answered invalid_client; retrying with the re-read client secret", setup: func(t *testing.T, emu *emulator.Emulator, a *emulator.AWS) ([]string, func()) {
			return []string{"--client-id", testClientID, "--discovery-url", emu.DiscoveryURL(), "--client-secret-arn", "agentcore-proxy/client"}, func() {
				a.RotateSecret("agentcore-proxy/client", `{"client_secret":"`+rotatedSecret+`"}`)
			}
		}},
		{name: "secret volume symlink swap", wantLog: `"msg":"secret changed","route":"default","origin":"file:`, setup: func(t *testing.T, emu *emulator.Emulator, a *emulator.AWS) ([]string, func()) {
			dir := t.TempDir()
			for v, val := range map[string]string{"..v1": testClientSecret, "..v2": rotatedSecret} {
				os.Mkdir(filepath.Join(dir, v), 0o700)
				os.WriteFile(filepath.Join(dir, v, "secret"), []byte(val+"\n"), 0o600)
			}
			must(t, os.Symlink("..v1", filepath.Join(dir, "..data")))
			must(t, os.Symlink("..data/secret", filepath.Join(dir, "secret")))
			return []string{"--client-id", testClientID, "--discovery-url", emu.DiscoveryURL(), "--client-secret-file", filepath.Join(dir, "secret")}, func() {
				must(t, os.Symlink("..v2", filepath.Join(dir, "..data_tmp")))
				must(t, os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")))
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			emu := startEmulator(t, emulator.Config{TokenLifetime: 3 * time.Second})
			a := startAWS(t, emu, emulator.Secret{Name: "agentcore-proxy/client", SecretString: `{"client_secret":"` + testClientSecret + `"}`})
			flags, rotate := tt.setup(t, emu, a)
			p := startProxy(t, nil, oauthFlags(emu, flags...)...)
			waitReady(t, p)
			cs := connect(t, p.MCPURL(), nil)
			if got := callText(t, cs, "add_numbers", map[string]any{"a": 1, "b": 1}); got != "2" {
				t.Fatalf("add_numbers(1, 1) = %q, want 2", got)
			}

			if !emu.SetClientSecret(testClientID, rotatedSecret) {
				t.Fatal("SetClientSecret: no such client")
			}
			rotate()
			issued := emu.Stats().TokensIssued
			deadline := time.Now().Add(20 * time.Second)
			calls := 0
			for emu.Stats().TokensIssued < issued+2 {
				if time.Now().After(deadline) {
					t.Fatalf("no token with the rotated secret within 20s; stats %+v\nlogs:\n%s", emu.Stats(), p.Logs())
				}
				ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
				if _, err := cs.ListTools(ctx, nil); err != nil {
					t.Fatalf("tools/list %d after the rotation: %v", calls, err)
				}
				cancel()
				calls++
				time.Sleep(50 * time.Millisecond) // pacing of the client's calls, not synchronization
			}
			logs := p.Logs()
			for _, w := range []string{tt.wantLog, fingerprint(rotatedSecret), fingerprint(testClientSecret)} {
				if !strings.Contains(logs, w) {
					t.Errorf("logs lack %q (how the rotation was noticed, or the old or new secret's fingerprint):\n%s", w, logs)
				}
			}
			t.Logf("%d tools/list calls across the rotation, all answered; emulator stats %+v", calls, emu.Stats())
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestTokenFromSSM prints a token for a route whose client comes from SSM:
// token shares serve's path through AWS (AuthSetup.Discover).
func TestTokenFromSSM(t *testing.T) {
	emu := startEmulator(t, emulator.Config{})
	startAWS(t, emu)
	stdout, stderr, err := runCmd(t, nil, "token", "--runtime-arn", emu.RuntimeARN(), "--endpoint-url", emu.EndpointURL(), "--ssm-prefix", ssmPrefix, "--decode")
	if err != nil {
		t.Fatalf("token --ssm-prefix = %v\n%s", err, stderr)
	}
	if !strings.Contains(stdout, `"client_id": "`+testClientID+`"`) {
		t.Errorf("token --decode = %s, want the claims of %s's token", stdout, testClientID)
	}
}
