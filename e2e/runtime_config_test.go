package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agentcore-proxy/agentcore-proxy/internal/emulator"
)

// startControlPlane runs the fake AWS host with rt as its only runtime and
// points the AWS environment at it, with the emulator's access key.
func startControlPlane(t *testing.T, rt emulator.ControlRuntime) *emulator.AWS {
	t.Helper()
	a, err := emulator.StartAWS(t.Context(), emulator.AWSConfig{Runtimes: []emulator.ControlRuntime{rt}})
	if err != nil {
		t.Fatalf("emulator.StartAWS: %v", err)
	}
	t.Cleanup(func() { a.Close() })
	awsEnv(t, awsKeyEnv(map[string]string{"AWS_ENDPOINT_URL": a.URL(), "AWS_ENDPOINT_URL_BEDROCK_AGENTCORE_CONTROL": a.URL()}))
	return a
}

// runtimeFlags are serve flags naming only the runtime: no discovery URL,
// no --allowed-*, no --auth.
func runtimeFlags(emu *emulator.Emulator, extra ...string) []string {
	return append([]string{"serve", "--listen", "127.0.0.1:0", "--log-format", "json", "--log-level", "debug",
		"--runtime-arn", emu.RuntimeARN(), "--endpoint-url", emu.EndpointURL()}, extra...)
}

// TestRuntimeConfigJWT: an ARN, AWS credentials and a client (no discovery
// URL, no --allowed-*) work with the Go SDK client; the proxy took the
// runtime's discovery URL and rules, checks tokens with them, and shows the
// runtime on /status.
func TestRuntimeConfigJWT(t *testing.T) {
	emu := startEmulator(t, emulator.Config{})
	rt := emu.ControlRuntime()
	rt.HeaderAllowlist = []string{"Authorization"}
	a := startControlPlane(t, rt)
	p := startProxy(t, secretEnv, runtimeFlags(emu, "--client-id", testClientID)...)
	waitReady(t, p)
	cs := connectHTTP(t, p.MCPURL(), "2025-11-25", nil)
	defer cs.Close()
	if _, err := cs.ListTools(t.Context(), nil); err != nil {
		t.Fatalf("ListTools() error = %v", err)
	}
	logs := p.Logs()
	for _, want := range []string{"route configured from the runtime's JWT authorizer", emu.DiscoveryURL(), "allowedClients [demo-client-id]"} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
	if n := awsCalls(a)["GetAgentRuntime"]; n != 1 {
		t.Errorf("GetAgentRuntime calls = %d, want 1 (read once at start)", n)
	}
	var st struct {
		Routes []struct {
			Runtime *struct {
				Protocol        string   `json:"protocol"`
				Authorizer      string   `json:"authorizer"`
				HeaderAllowlist []string `json:"header_allowlist"`
				Idle            int64    `json:"idle_timeout_seconds"`
				MaxLifetime     int64    `json:"max_lifetime_seconds"`
			} `json:"runtime"`
		} `json:"routes"`
	}
	getJSON(t, p.BaseURL+"/status", &st)
	if len(st.Routes) != 1 || st.Routes[0].Runtime == nil {
		t.Fatalf("/status routes = %+v, want one with the runtime", st.Routes)
	}
	got := st.Routes[0].Runtime
	if got.Protocol != "MCP" || !strings.Contains(got.Authorizer, "allowedClients [demo-client-id]") ||
		len(got.HeaderAllowlist) != 1 || got.Idle != 900 || got.MaxLifetime != 28800 {
		t.Errorf("/status runtime = %+v; want MCP, the authorizer, the allowlist and the lifecycle", got)
	}
}

// TestRuntimeConfigExcludedClientRefusedLocally: a runtime whose
// allowedClients excludes the client gets no request at all; the client is
// told why, naming both the runtime's clients and the token's.
func TestRuntimeConfigExcludedClientRefusedLocally(t *testing.T) {
	emu := startEmulator(t, emulator.Config{})
	rt := emu.ControlRuntime()
	rt.JWT.AllowedClients = []string{"another-client"}
	startControlPlane(t, rt)
	p := startProxy(t, secretEnv, runtimeFlags(emu, "--client-id", testClientID)...)
	resp, err := http.Post(p.MCPURL(), "application/json", strings.NewReader(
		`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"e2e","version":"1"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode < 400 {
		t.Fatalf("initialize = %d %s, want a refusal", resp.StatusCode, body)
	}
	for _, want := range []string{"the runtime allows clients [another-client]", `client_id \"` + testClientID + `\" is not allowed`} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("answer does not say %q:\n%s", want, body)
		}
	}
	if !strings.Contains(p.Logs(), `the runtime allows clients [another-client]`) {
		t.Errorf("logs lack the runtime's rule:\n%s", p.Logs())
	}
	if n := emu.Stats().Invocations; n != 0 {
		t.Errorf("emulator invocations = %d, want 0: the token must be refused before any upstream call", n)
	}
}

// TestRuntimeConfigIAMRuntimeGetsSigV4: a runtime without a JWT authorizer
// is signed with SigV4 though --auth is not given.
func TestRuntimeConfigIAMRuntimeGetsSigV4(t *testing.T) {
	emu := startEmulator(t, emulator.Config{})
	emu.SetSigV4(true)
	startControlPlane(t, emu.ControlRuntime())
	p := startProxy(t, nil, runtimeFlags(emu)...)
	waitReady(t, p)
	cs := connectHTTP(t, p.MCPURL(), "2025-11-25", nil)
	defer cs.Close()
	res, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: "add_numbers", Arguments: map[string]any{"a": 2, "b": 3}})
	if err != nil || res.IsError {
		t.Fatalf("CallTool(add_numbers) = %+v, %v", res, err)
	}
	if !strings.Contains(p.Logs(), "the runtime has no JWT authorizer (IAM): signing requests with AWS SigV4") {
		t.Errorf("logs lack the SigV4 choice:\n%s", p.Logs())
	}
	if emu.Stats().Invocations == 0 {
		t.Errorf("no invocation reached the runtime")
	}
}

// TestRuntimeConfigStartFailures runs the real binary: --runtime-config
// required without credentials, and a runtime that does not speak MCP.
func TestRuntimeConfigStartFailures(t *testing.T) {
	emu := startEmulator(t, emulator.Config{})
	httpRT := emu.ControlRuntime()
	httpRT.Protocol = "HTTP"
	a, err := emulator.StartAWS(t.Context(), emulator.AWSConfig{Runtimes: []emulator.ControlRuntime{httpRT}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	empty := t.TempDir() + "/empty"
	os.WriteFile(empty, nil, 0o600)
	base := []string{"PATH=" + os.Getenv("PATH"), "AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE=" + empty,
		"AWS_SHARED_CREDENTIALS_FILE=" + empty}
	secret := "AGENTCORE_PROXY_CLIENT_SECRET=" + testClientSecret
	for _, tc := range []struct {
		name string
		args []string
		env  []string
		want []string
	}{
		{name: "required without credentials", args: []string{"--client-id", testClientID, "--runtime-config", "required"}, env: []string{secret},
			want: []string{"--runtime-config required, and the runtime's configuration cannot be read", "needs AWS credentials",
				"give the proxy AWS credentials"}},
		{name: "nothing given and nothing readable", args: nil,
			want: []string{"no auth is configured and the runtime's configuration cannot be read", "give --client-id", "--auth sigv4"}},
		{name: "mode from the environment", args: []string{"--client-id", testClientID}, env: []string{secret, "AGENTCORE_PROXY_RUNTIME_CONFIG=sometimes"},
			want: []string{`--runtime-config "sometimes": want auto`}},
		{name: "HTTP runtime", args: []string{"--client-id", testClientID},
			env: []string{secret, "AWS_ACCESS_KEY_ID=" + emulator.DefaultAWSCredential.AccessKeyID, "AWS_SECRET_ACCESS_KEY=" + emulator.DefaultAWSCredential.SecretAccessKey,
				"AWS_ENDPOINT_URL_BEDROCK_AGENTCORE_CONTROL=" + a.URL()},
			want: []string{"--runtime-arn " + emu.RuntimeARN() + " is a HTTP runtime", "MCP only"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.CommandContext(t.Context(), binary(t), append([]string{"serve", "--listen", "127.0.0.1:0",
				"--runtime-arn", emu.RuntimeARN(), "--endpoint-url", emu.EndpointURL()}, tc.args...)...)
			cmd.Env = append(append([]string(nil), base...), tc.env...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			secretScan(t, stderr.String())
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 1 {
				t.Fatalf("exit = %v, want status 1\nstderr: %s", err, stderr.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr.String())
				}
			}
		})
	}
}

// TestDoctorRuntimeConfig checks doctor's runtime configuration step
// against goldens: a JWT runtime (every rule compared with the token), one
// that excludes the client (the step fails, naming both), an IAM runtime.
func TestDoctorRuntimeConfig(t *testing.T) {
	for _, tc := range []struct {
		name       string
		setup      func(emu *emulator.Emulator) emulator.ControlRuntime
		flags      []string
		env        map[string]string
		wantFailed string
	}{
		{name: "runtime_config_jwt", flags: []string{"--client-id", testClientID}, env: secretEnv,
			setup: func(emu *emulator.Emulator) emulator.ControlRuntime {
				rt := emu.ControlRuntime()
				rt.HeaderAllowlist = []string{"Authorization"}
				return rt
			}},
		{name: "runtime_config_excluded_client", flags: []string{"--client-id", testClientID}, env: secretEnv, wantFailed: "runtime configuration",
			setup: func(emu *emulator.Emulator) emulator.ControlRuntime {
				rt := emu.ControlRuntime()
				rt.JWT.AllowedClients = []string{"another-client"}
				rt.JWT.AllowedAudience = []string{"api://mcp"}
				return rt
			}},
		{name: "runtime_config_iam",
			setup: func(emu *emulator.Emulator) emulator.ControlRuntime {
				emu.SetSigV4(true)
				return emu.ControlRuntime()
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			emu := startEmulator(t, emulator.Config{})
			startControlPlane(t, tc.setup(emu))
			args := append([]string{"doctor", "--runtime-arn", emu.RuntimeARN(), "--endpoint-url", emu.EndpointURL()}, tc.flags...)
			stdout, stderr, err := runCmd(t, tc.env, args...)
			if (tc.wantFailed == "") != (err == nil) {
				t.Fatalf("doctor error = %v, want failed step %q\n%s%s", err, tc.wantFailed, stdout, stderr)
			}
			if tc.wantFailed != "" && !strings.Contains(stdout, "✗ "+tc.wantFailed+":") {
				t.Errorf("doctor output has no ✗ on %q:\n%s", tc.wantFailed, stdout)
			}
			golden(t, tc.name, stdout)
		})
	}
}

// getJSON decodes the JSON answer of a GET.
func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}
