package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agentcore-proxy/agentcore-proxy/internal/emulator"
)

// awsEnvVars are every environment variable through which a developer's own
// AWS setup could reach a test: awsEnv clears them all.
var awsEnvVars = []string{
	"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
	"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION",
	"AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME",
	"AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN",
	"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "AWS_EC2_METADATA_DISABLED", "AWS_EC2_METADATA_SERVICE_ENDPOINT",
	"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SSM", "AWS_ENDPOINT_URL_SECRETS_MANAGER", "AWS_ENDPOINT_URL_STS",
	"AWS_ENDPOINT_URL_BEDROCK_AGENTCORE", "AWS_ENDPOINT_URL_BEDROCK_AGENTCORE_CONTROL", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "AWS_SDK_LOAD_CONFIG", "AWS_CA_BUNDLE",
}

// awsEnv gives the test a clean AWS environment, restored when it ends: every
// AWS variable unset, the config and credentials files pointed at empty temp
// files, instance metadata off; then set applies. The AWS SDK reads the real
// process environment, so this uses t.Setenv (and forbids t.Parallel).
func awsEnv(t *testing.T, set map[string]string) {
	t.Helper()
	for _, k := range awsEnvVars {
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
	// No test reads a real runtime: a route to an ARN reads its
	// configuration (--runtime-config auto), here from a closed port unless
	// the test names its fake control plane.
	t.Setenv("AWS_ENDPOINT_URL_BEDROCK_AGENTCORE_CONTROL", "http://127.0.0.1:1")
	for k, v := range set {
		t.Setenv(k, v)
	}
}

// awsKeyEnv is the emulator's access key in the environment.
func awsKeyEnv(extra map[string]string) map[string]string {
	m := map[string]string{
		"AWS_ACCESS_KEY_ID":     emulator.DefaultAWSCredential.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY": emulator.DefaultAWSCredential.SecretAccessKey,
	}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

// sigv4Flags are serve flags for emu's runtime, signed with AWS credentials.
func sigv4Flags(emu *emulator.Emulator, extra ...string) []string {
	return append([]string{"serve", "--listen", "127.0.0.1:0", "--log-format", "json", "--log-level", "debug",
		"--runtime-arn", emu.RuntimeARN(), "--endpoint-url", emu.EndpointURL(), "--auth", "sigv4"}, extra...)
}

// TestSigV4RuntimeWithGoSDKClient runs a Go SDK MCP client through serve
// --auth sigv4 to a runtime that accepts only SigV4: tools/list, tools/call,
// a 5 MB argument, and a streamed tool whose progress arrives as it runs.
func TestSigV4RuntimeWithGoSDKClient(t *testing.T) {
	awsEnv(t, awsKeyEnv(nil))
	emu := startEmulator(t, emulator.Config{})
	emu.SetSigV4(true)
	p := startProxy(t, nil, sigv4Flags(emu)...)
	waitReady(t, p)

	progress := make(chan string, 10)
	cs := connect(t, p.MCPURL(), &mcp.ClientOptions{
		ProgressNotificationHandler: func(_ context.Context, req *mcp.ProgressNotificationClientRequest) {
			progress <- req.Params.Message
		},
	})
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	tools, err := cs.ListTools(ctx, nil)
	if err != nil || len(tools.Tools) == 0 {
		t.Fatalf("ListTools = %v, %v; want the emulator's tools", tools, err)
	}
	if got := callText(t, cs, "add_numbers", map[string]any{"a": 5, "b": 3}); got != "8" {
		t.Errorf("add_numbers(5, 3) = %q, want 8", got)
	}
	big := strings.Repeat("x", 5<<20)
	if got := callText(t, cs, "greet_user", map[string]any{"name": big}); !strings.Contains(got, big) {
		t.Errorf("greet_user(5 MB name) = %d bytes, want the name echoed", len(got))
	}
	params := &mcp.CallToolParams{Name: "stream_progress", Arguments: map[string]any{"steps": 3, "interval_ms": 50}}
	params.SetProgressToken("p-1")
	if _, err := cs.CallTool(ctx, params); err != nil {
		t.Fatalf("CallTool(stream_progress): %v", err)
	}
	for i := range 3 {
		select {
		case <-progress:
		case <-time.After(10 * time.Second):
			t.Fatalf("received %d progress notifications, want 3", i)
		}
	}

	st := emu.Stats()
	if st.TokenRequests != 0 || st.Invocations < 4 || len(st.Rejections) != 0 {
		t.Errorf("emulator stats = %+v, want no token request, every invocation signed and accepted (the runtime takes only SigV4)", st)
	}

	// Readiness and the status page say how the route signs, and whose key.
	resp, err := http.Get(p.BaseURL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	var ready struct {
		Routes map[string]struct {
			Ready       bool   `json:"ready"`
			Auth        string `json:"auth"`
			Fingerprint string `json:"aws_access_key_fingerprint"`
		} `json:"routes"`
	}
	json.NewDecoder(resp.Body).Decode(&ready)
	resp.Body.Close()
	wantFP := fingerprint(emulator.DefaultAWSCredential.AccessKeyID)
	if r := ready.Routes["default"]; !r.Ready || r.Auth != "sigv4" || r.Fingerprint != wantFP {
		t.Errorf("/readyz route default = %+v, want ready, auth sigv4, key fingerprint %s", r, wantFP)
	}
	resp, err = http.Get(p.BaseURL + "/status")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(page), "AWS SigV4 (bedrock-agentcore, us-west-2), access key "+wantFP) {
		t.Errorf("/status does not say the route signs with SigV4 and whose key:\n%.2000s", page)
	}
	if logs := p.Logs(); strings.Contains(logs, emulator.DefaultAWSCredential.SecretAccessKey) || strings.Contains(logs, emulator.DefaultAWSCredential.AccessKeyID) {
		t.Errorf("logs hold the AWS access key or secret key")
	}
}

// TestSigV4BadStart checks that each mistake with --auth sigv4 stops serve
// at start with a sentence naming what is wrong, and that nothing reaches
// the runtime.
func TestSigV4BadStart(t *testing.T) {
	tests := []struct {
		name  string
		env   map[string]string // AWS environment
		extra []string
		want  []string
	}{
		{name: "no credentials in the chain", env: nil,
			want: []string{"--auth sigv4", "no AWS credentials found", "AWS_ACCESS_KEY_ID", "shared credentials file",
				"web identity token", "container credentials", "EC2 instance metadata", "IAM role"}},
		{name: "with OAuth flags", env: awsKeyEnv(nil), extra: []string{"--client-id", "x", "--scope", "a/b"},
			want: []string{"--auth sigv4 signs with AWS credentials", "--client-id, --scope", "remove them"}},
		{name: "an unknown mode", env: awsKeyEnv(nil), extra: []string{"--auth", "iam"},
			want: []string{`--auth "iam": want oauth (alias client_credentials), sigv4, aws-jwt or none`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			awsEnv(t, tt.env)
			emu := startEmulator(t, emulator.Config{})
			emu.SetSigV4(true)
			_, _, err := runCmd(t, nil, sigv4Flags(emu, tt.extra...)...)
			if err == nil {
				t.Fatal("serve started, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("serve error = %v\nwant it to contain %q", err, w)
				}
			}
			if n := emu.Stats().Invocations + len(emu.Invocations()); n != 0 {
				t.Errorf("%d requests reached the runtime, want none", n)
			}
		})
	}
	t.Run("with an upstream URL", func(t *testing.T) {
		awsEnv(t, awsKeyEnv(nil))
		_, _, err := runCmd(t, nil, "serve", "--listen", "127.0.0.1:0", "--upstream-url", "http://127.0.0.1:1/mcp", "--auth", "sigv4")
		if err == nil || !strings.Contains(err.Error(), "--auth sigv4 signs for an AgentCore runtime in its ARN's region: give --runtime-arn instead of --upstream-url") {
			t.Errorf("serve error = %v, want it to ask for --runtime-arn", err)
		}
	})
}

func init() { testSecrets = append(testSecrets, emulator.DefaultAWSCredential.SecretAccessKey) }

// sigv4Row is a TestEveryReasonExplained setup for a route signed with
// SigV4: the emulator's key in a clean AWS environment, with env over it,
// and the runtime in SigV4 mode with runtime applied (nil: an OAuth
// runtime).
func sigv4Row(env map[string]string, runtime func(*emulator.Emulator)) func(*testing.T, *emulator.Emulator) setup {
	return func(t *testing.T, emu *emulator.Emulator) setup {
		awsEnv(t, awsKeyEnv(env))
		if runtime != nil {
			emu.SetSigV4(true)
			runtime(emu)
		}
		return setup{flags: sigv4Flags(emu), env: map[string]string{}}
	}
}

// TestSigV4AndOAuthRoutesInOneFile serves two routes from YAML, one signed
// with SigV4 and one whose OAuth client comes from SSM, each to its own
// runtime, and calls a tool through each.
func TestSigV4AndOAuthRoutesInOneFile(t *testing.T) {
	signed := startEmulator(t, emulator.Config{})
	signed.SetSigV4(true)
	oauth := startEmulator(t, emulator.Config{})
	startAWS(t, oauth)
	file := filepath.Join(t.TempDir(), "routes.yaml")
	yaml := `listen: 127.0.0.1:0
routes:
  - name: signed
    path: /signed/mcp
    target: {runtime_arn: "` + signed.RuntimeARN() + `", endpoint_url: "` + signed.EndpointURL() + `"}
    auth: {type: sigv4}
  - name: oauth
    path: /oauth/mcp
    target: {runtime_arn: "` + oauth.RuntimeARN() + `", endpoint_url: "` + oauth.EndpointURL() + `"}
    auth: {ssm_prefix: ` + ssmPrefix + `}
`
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startProxy(t, nil, "serve", "--config", file, "--log-format", "json")
	waitReady(t, p)
	for _, path := range []string{"/signed/mcp", "/oauth/mcp"} {
		cs := connect(t, p.BaseURL+path, nil)
		if got := callText(t, cs, "add_numbers", map[string]any{"a": 20, "b": 22}); got != "42" {
			t.Errorf("%s: add_numbers(20, 22) = %q, want 42", path, got)
		}
	}
	if s, o := signed.Stats(), oauth.Stats(); s.TokenRequests != 0 || s.Invocations == 0 || o.TokensIssued != 1 || o.Invocations == 0 {
		t.Errorf("signed runtime %+v, OAuth runtime %+v; want SigV4 calls with no token, and bearer calls with one token", s, o)
	}
}
