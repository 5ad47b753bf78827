package e2e

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/agentcore-proxy/agentcore-proxy/internal/emulator"
)

var update = flag.Bool("update", false, "rewrite golden files")

// runCmd runs a command line to completion in-process, as main does.
func runCmd(t *testing.T, env map[string]string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	var out, errb syncBuffer
	err = run(ctx, args, func(k string) string { return env[k] }, strings.NewReader(""), &out, &errb)
	secretScan(t, errb.String())
	return out.String(), errb.String(), err
}

var normalizers = []struct {
	re   *regexp.Regexp
	repl string
}{
	{regexp.MustCompile(`127\.0\.0\.1:\d+`), "127.0.0.1:PORT"},
	{regexp.MustCompile(`fingerprint [0-9a-f]{8}`), "fingerprint FINGERPRINT"},
	{regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z`), "TIME"},
	{regexp.MustCompile(`\(in [0-9hms.]+\)`), "(in DURATION)"},
	{regexp.MustCompile(`/tmp/[^\s"]+`), "TMPFILE"},
	{regexp.MustCompile(`dial tcp [^:]+:\d+: connect: connection refused`), "dial tcp ADDR: connect: connection refused"},
}

func normalize(s string) string {
	for _, n := range normalizers {
		s = n.re.ReplaceAllString(s, n.repl)
	}
	return s
}

// golden compares got with testdata/doctor/NAME.golden; -update rewrites it.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "doctor", name+".golden")
	got = normalize(got)
	if *update {
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update to create it)", err, t.Name())
	}
	if got != string(want) {
		t.Errorf("doctor output differs from %s:\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func TestDoctor(t *testing.T) {
	secretFile := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(secretFile, []byte(testClientSecret), 0o600)
	tests := []struct {
		name   string
		setup  func(t *testing.T, emu *emulator.Emulator) []string // extra flags
		env    map[string]string
		wantOK bool
		// wantFailed is the step that must carry the ✗.
		wantFailed string
	}{
		{name: "healthy", wantOK: true},
		{name: "malformed_arn", wantFailed: "configuration",
			setup: func(*testing.T, *emulator.Emulator) []string {
				return []string{"--runtime-arn", "arn:aws:bedrock-agentcore:us-west-2:1234:runtime/x"}
			}},
		{name: "unreachable_discovery", wantFailed: "discovery",
			setup: func(t *testing.T, _ *emulator.Emulator) []string {
				return []string{"--discovery-url", "http://" + closedPort(t) + "/pool/.well-known/openid-configuration"}
			}},
		{name: "wrong_secret", wantFailed: "token",
			env: map[string]string{"AGENTCORE_PROXY_CLIENT_SECRET": "wrong-secret"},
			setup: func(*testing.T, *emulator.Emulator) []string {
				return []string{"--client-secret-file", ""}
			}},
		{name: "audience_rule", wantFailed: "authorizer rules",
			setup: func(*testing.T, *emulator.Emulator) []string {
				return []string{"--allowed-audience", "my-api"}
			}},
		{name: "runtime_rejects_client", wantFailed: "MCP initialize and tools/list",
			setup: func(_ *testing.T, emu *emulator.Emulator) []string {
				emu.SetAuthorizer(emulator.Authorizer{AllowedClients: []string{"another-client"}})
				return nil
			}},
		{name: "other_user_pool", wantFailed: "protected-resource metadata",
			setup: func(t *testing.T, _ *emulator.Emulator) []string {
				other := startEmulator(t, emulator.Config{PoolID: "us-west-2_OTHERPOOL"})
				return []string{"--discovery-url", other.DiscoveryURL()}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			emu := startEmulator(t, emulator.Config{})
			args := []string{"doctor", "--runtime-arn", emu.RuntimeARN(), "--endpoint-url", emu.EndpointURL(),
				"--discovery-url", emu.DiscoveryURL(), "--client-id", testClientID, "--client-secret-file", secretFile}
			if tt.setup != nil {
				args = append(args, tt.setup(t, emu)...) // later flags win
			}
			args = dropEmptyFlags(args)
			stdout, _, err := runCmd(t, tt.env, args...)
			if tt.wantOK != (err == nil) {
				t.Fatalf("doctor error = %v, want ok=%v\n%s", err, tt.wantOK, stdout)
			}
			if tt.wantFailed != "" && !strings.Contains(stdout, "✗ "+tt.wantFailed+":") {
				t.Errorf("doctor output has no ✗ on %q:\n%s", tt.wantFailed, stdout)
			}
			golden(t, tt.name, stdout)

			// The same run as JSON agrees.
			stdout, _, _ = runCmd(t, tt.env, append(args, "--json")...)
			var rep struct {
				OK     bool `json:"ok"`
				Routes []struct {
					Steps []struct {
						Name string `json:"name"`
						OK   bool   `json:"ok"`
					} `json:"steps"`
				} `json:"routes"`
			}
			if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
				t.Fatalf("--json output is not JSON: %v\n%s", err, stdout)
			}
			if rep.OK != tt.wantOK {
				t.Errorf("--json ok = %v, want %v", rep.OK, tt.wantOK)
			}
		})
	}
}

// dropEmptyFlags removes "--flag ”" pairs, so a test can unset a flag.
func dropEmptyFlags(args []string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		if strings.HasPrefix(args[i], "--") && i+1 < len(args) && args[i+1] == "" {
			// Drop this flag and any earlier occurrence of it.
			name := args[i]
			for j := 0; j+1 < len(out); j++ {
				if out[j] == name {
					out = append(out[:j], out[j+2:]...)
					j--
				}
			}
			i++
			continue
		}
		out = append(out, args[i])
	}
	return out
}
