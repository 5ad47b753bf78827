package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agentcore-proxy/agentcore-proxy/internal/emulator"
)

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestBadInputExitsWithOneClearLine(t *testing.T) {
	bin := binary(t)
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	os.WriteFile(secret, []byte("s"), 0o600)
	unknownField := filepath.Join(dir, "routes.yaml")
	os.WriteFile(unknownField, []byte("routes:\n  - name: calc\n    path: /calc/mcp\n    target:\n      runtime_arn: arn:aws:bedrock-agentcore:us-west-2:123456789012:runtime/calc-1\n      qualifer: prod\n"), 0o600)
	const arn = "arn:aws:bedrock-agentcore:us-west-2:123456789012:runtime/my_mcp_server-xyz123"
	const disc = "https://cognito-idp.us-west-2.amazonaws.com/us-west-2_abc/.well-known/openid-configuration"
	tests := []struct {
		name string
		args []string
		want []string // all must appear in the one line
	}{
		{name: "malformed ARN", args: []string{"--runtime-arn", "arn:aws:bedrock-agentcore:us-west-2:1234:runtime/x", "--discovery-url", disc, "--client-id", "c", "--client-secret-file", secret},
			want: []string{"--runtime-arn", "not 12 digits", "want arn:aws:bedrock-agentcore:REGION:ACCOUNT:runtime/ID"}},
		{name: "missing client id", args: []string{"--runtime-arn", arn, "--discovery-url", disc, "--client-secret-file", secret},
			want: []string{"--client-id is empty", "give the app client id"}},
		{name: "unreachable discovery URL", args: []string{"--runtime-arn", arn, "--discovery-url", "http://" + closedPort(t) + "/pool/.well-known/openid-configuration", "--client-id", "c", "--client-secret-file", secret},
			want: []string{"--discovery-url", "connection refused", "check the URL"}},
		{name: "http endpoint off loopback", args: []string{"--runtime-arn", arn, "--endpoint-url", "http://bedrock-agentcore.us-west-2.amazonaws.com", "--discovery-url", disc, "--client-id", "c", "--client-secret-file", secret},
			want: []string{"--endpoint-url", "plain http is allowed only to a loopback address", "use https://"}},
		{name: "YAML unknown field", args: []string{"--config", unknownField},
			want: []string{"--config " + unknownField, "line 6", `unknown field "qualifer"`, "known fields: runtime_arn, qualifier"}},
		{name: "missing secret file", args: []string{"--runtime-arn", arn, "--discovery-url", disc, "--client-id", "c", "--client-secret-file", filepath.Join(dir, "nope")},
			want: []string{"--client-secret-file", "no such file or directory"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.CommandContext(t.Context(), bin, append([]string{"serve", "--listen", "127.0.0.1:0"}, tt.args...)...)
			cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			secretScan(t, stderr.String())
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 1 {
				t.Fatalf("exit = %v, want status 1\nstderr: %s", err, stderr.String())
			}
			// Info log lines may come before the error (an ARN route says it
			// could not read the runtime's configuration without AWS
			// credentials); the error itself is one line.
			var lines []string
			for _, l := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
				if !strings.HasPrefix(l, `{"time"`) || !strings.Contains(l, `"level":"INFO"`) {
					lines = append(lines, l)
				}
			}
			if len(lines) != 1 {
				t.Errorf("stderr has %d lines, want 1:\n%s", len(lines), stderr.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(lines[0], w) {
					t.Errorf("stderr = %q, want it to contain %q", lines[0], w)
				}
			}
			if strings.Contains(stderr.String(), "goroutine ") || strings.Contains(stderr.String(), "panic") {
				t.Errorf("stderr has a stack trace:\n%s", stderr.String())
			}
		})
	}
}

func TestEveryProblemReportedAtOnce(t *testing.T) {
	cmd := exec.CommandContext(t.Context(), binary(t), "serve", "--runtime-arn", "nope", "--qualifier", "bad-name", "--scope", "a b", "--client-key-alg", "ES256")
	cmd.Env = []string{}
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("exit = %v, want status 1", err)
	}
	for _, w := range []string{"--runtime-arn \"nope\"", "--client-id is empty", "no client secret", "--client-key-alg applies only", "--scope \"a b\""} {
		if !bytes.Contains(out, []byte(w)) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
}

func TestHelpAndVersion(t *testing.T) {
	bin := binary(t)
	tests := []struct {
		args []string
		want []string
	}{
		{args: []string{"--help"}, want: []string{"serve", "demo", "doctor", "token", "version", "AGENTCORE_PROXY_"}},
		{args: []string{"serve", "--help"}, want: []string{"--runtime-arn", "[AGENTCORE_PROXY_RUNTIME_ARN]", "--client-secret-file", "AGENTCORE_PROXY_CLIENT_SECRET", "--scope", "--config", "--qualifier", "--endpoint-url", "AWS_ENDPOINT_URL_BEDROCK_AGENTCORE", "--upstream-url", "--token-url", "--discovery-url", "--client-id", "--listen", "(default 127.0.0.1:8080)"}},
		{args: []string{"demo", "--help"}, want: []string{"--listen", "--token-lifetime", "emulator"}},
		{args: []string{"version", "--help"}, want: []string{"agentcore-proxy version"}},
		{args: []string{"token", "--help"}, want: []string{"--decode", "--route", "--runtime-arn", "curl"}},
		{args: []string{"doctor", "--help"}, want: []string{"--json", "--route", "protected-resource", "--allowed-audience"}},
		{args: []string{"version"}, want: []string{"agentcore-proxy ", "go1."}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			out, err := exec.CommandContext(t.Context(), bin, tt.args...).CombinedOutput()
			if err != nil {
				t.Fatalf("%v: %v\n%s", tt.args, err, out)
			}
			for _, w := range tt.want {
				if !bytes.Contains(out, []byte(w)) {
					t.Errorf("%v output lacks %q:\n%s", tt.args, w, out)
				}
			}
		})
	}
	out, err := exec.CommandContext(t.Context(), bin, "serve", "--no-such-flag").CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 || !bytes.Contains(out, []byte("-no-such-flag")) {
		t.Errorf("unknown flag: exit %v, output %q; want status 2 naming the flag", err, out)
	}
}

func TestFlagsFromEnvironment(t *testing.T) {
	emu := startEmulator(t, emulator.Config{})
	env := map[string]string{
		"AGENTCORE_PROXY_LISTEN":        "127.0.0.1:0",
		"AGENTCORE_PROXY_RUNTIME_ARN":   emu.RuntimeARN(),
		"AGENTCORE_PROXY_DISCOVERY_URL": emu.DiscoveryURL(),
		"AGENTCORE_PROXY_CLIENT_ID":     testClientID,
		"AGENTCORE_PROXY_CLIENT_SECRET": testClientSecret,
		"AGENTCORE_PROXY_SCOPE":         "default-m2m-resource-server/read",
		// The AWS convention for a service endpoint.
		"AWS_ENDPOINT_URL_BEDROCK_AGENTCORE": emu.EndpointURL(),
	}
	p := startProxy(t, env, "serve", "--log-format", "json")
	resp, reply := postRPC(t, p.MCPURL(), addCall(8), nil)
	wantSum(t, resp, reply, 8)
}

func TestDemoCommand(t *testing.T) {
	p := startProxy(t, nil, "demo", "--listen", "127.0.0.1:0", "--log-format", "json")
	waitReady(t, p)
	cs := connect(t, p.MCPURL(), nil)
	if got := callText(t, cs, "greet_user", map[string]any{"name": "Alice"}); got != "Hello, Alice! Nice to meet you." {
		t.Errorf("greet_user(Alice) = %q", got)
	}
	out := waitStdout(p, "Ctrl-C")
	for _, w := range []string{p.MCPURL(), `"type": "http"`, "Ctrl-C"} {
		if !strings.Contains(out, w) {
			t.Errorf("demo banner lacks %q:\n%s", w, out)
		}
	}
}

func TestYAMLRoutesWithTheirOwnClients(t *testing.T) {
	emu := startEmulator(t, emulator.Config{Clients: []emulator.Client{
		{ID: "calc-client", Secret: "calc-secret", Scopes: []string{"default-m2m-resource-server/read"}},
		{ID: "greet-client", Secret: "greet-secret", Scopes: []string{"default-m2m-resource-server/read"}},
	}})
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "calc.secret"), []byte("calc-secret\n"), 0o600)
	cfg := `listen: 127.0.0.1:0
routes:
  - name: calculator
    path: /calculator/mcp
    target: {runtime_arn: "` + emu.RuntimeARN() + `", endpoint_url: "` + emu.EndpointURL() + `"}
    auth: {discovery_url: "` + emu.DiscoveryURL() + `", client_id: calc-client, client_secret_file: "` + filepath.Join(dir, "calc.secret") + `", scopes: [default-m2m-resource-server/read]}
  - name: greeter
    path: /greeter/mcp
    target: {runtime_arn: "` + emu.RuntimeARN() + `", endpoint_url: "` + emu.EndpointURL() + `"}
    auth: {discovery_url: "` + emu.DiscoveryURL() + `", client_id: greet-client, client_secret_env: GREET_SECRET, token_auth_style: post}
`
	file := filepath.Join(dir, "routes.yaml")
	os.WriteFile(file, []byte(cfg), 0o600)
	p := startProxy(t, map[string]string{"GREET_SECRET": "greet-secret"}, "serve", "--config", file, "--log-format", "json")
	for _, path := range []string{"/calculator/mcp", "/greeter/mcp"} {
		resp, reply := postRPC(t, p.BaseURL+path, addCall(9), nil)
		wantSum(t, resp, reply, 9)
	}
	if st := emu.Stats(); st.TokenRequests != 2 {
		t.Errorf("token requests = %d, want 2 (one per M2M client)", st.TokenRequests)
	}
	resp, reply := postRPC(t, p.BaseURL+"/nope/mcp", addCall(1), nil)
	if resp.StatusCode != http.StatusNotFound || reply.Error == nil || !strings.Contains(reply.Error.Message, "/calculator/mcp") {
		t.Errorf("unknown path: %d %+v, want 404 listing the routes", resp.StatusCode, reply.Error)
	}
}

func TestPlainUpstreamWithoutAuth(t *testing.T) {
	server := mcp.NewServer(&mcp.Implementation{Name: "local", Version: "1"}, nil)
	type in struct {
		Name string `json:"name"`
	}
	mcp.AddTool(server, &mcp.Tool{Name: "greet_user"}, func(_ context.Context, req *mcp.CallToolRequest, args in) (*mcp.CallToolResult, any, error) {
		if a := req.Extra.Header.Get("Authorization"); a != "" {
			return nil, nil, fmt.Errorf("unexpected Authorization %q", a)
		}
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "hi " + args.Name}}}, nil, nil
	})
	upstream := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, nil))
	t.Cleanup(upstream.Close)
	p := startProxy(t, nil, "serve", "--listen", "127.0.0.1:0", "--log-format", "json", "--upstream-url", upstream.URL)
	cs := connect(t, p.MCPURL(), nil)
	if got := callText(t, cs, "greet_user", map[string]any{"name": "Bob"}); got != "hi Bob" {
		t.Errorf("greet_user(Bob) = %q, want %q", got, "hi Bob")
	}
}

func TestHealthcheckCommand(t *testing.T) {
	p := startProxy(t, nil, "serve", "--listen", "127.0.0.1:0", "--log-format", "json", "--upstream-url", "http://"+closedPort(t)+"/mcp")
	addr := strings.TrimPrefix(p.BaseURL, "http://")
	tests := []struct {
		args []string
		env  map[string]string
		ok   bool
	}{
		{args: []string{"healthcheck", "--listen", addr}, ok: true},
		{args: []string{"healthcheck"}, env: map[string]string{"AGENTCORE_PROXY_LISTEN": addr}, ok: true},
		{args: []string{"healthcheck", "--url", p.BaseURL + "/readyz"}, ok: true},
		{args: []string{"healthcheck", "--listen", closedPort(t)}},
		{args: []string{"healthcheck", "--url", p.BaseURL + "/nope"}},
	}
	for _, tt := range tests {
		stdout, _, err := runCmd(t, tt.env, tt.args...)
		if (err == nil) != tt.ok {
			t.Errorf("%v = %v (%q), want ok=%v", tt.args, err, stdout, tt.ok)
		}
	}
}
