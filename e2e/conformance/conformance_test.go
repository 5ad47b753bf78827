//go:build unix

// The MCP conformance suite (@modelcontextprotocol/conformance 0.1.16, on the
// Node 22 pinned in package.json) run against clients built on this module.
package conformance_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// check is one entry of the suite's checks.json.
type check struct {
	ID          string `json:"id"`
	Status      string `json:"status"`
	Description string `json:"description"`
}

// suite returns the directory holding node and conformance, skipping under
// -short when they are not installed.
func suite(t *testing.T) string {
	t.Helper()
	bin, err := filepath.Abs(filepath.Join("node_modules", ".bin"))
	if err == nil {
		_, err = os.Stat(filepath.Join(bin, "conformance"))
	}
	if err == nil {
		_, err = os.Stat(filepath.Join(bin, "node"))
	}
	if err != nil {
		if testing.Short() {
			t.Skipf("skipped under -short: the MCP conformance suite is not installed (%v); run npm ci in e2e/conformance", err)
		}
		t.Fatalf("MCP conformance suite: %v; run `npm ci --prefix e2e/conformance` (or .ci/install-deps) first", err)
	}
	return bin
}

// runScenario runs one client scenario with command as the client and
// returns the checks the suite recorded, failing the test if the suite
// reports failure.
func runScenario(t *testing.T, bin, scenario, command string) []check {
	t.Helper()
	out := t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "node"), filepath.Join(bin, "conformance"),
		"client", "--scenario", scenario, "--command", command, "--timeout", "30000", "-o", out)
	cmd.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"), "NO_COLOR=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	output, err := cmd.CombinedOutput()
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	if err != nil {
		t.Errorf("conformance client --scenario %s: %v\n%s", scenario, err, output)
	}
	files, _ := filepath.Glob(filepath.Join(out, "*", "*", "checks.json"))
	if len(files) != 1 {
		t.Fatalf("conformance wrote %d checks.json files under %s, want 1\n%s", len(files), out, output)
	}
	data, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	var checks []check
	if err := json.Unmarshal(data, &checks); err != nil {
		t.Fatalf("checks.json: %v", err)
	}
	if stderr, err := os.ReadFile(filepath.Join(filepath.Dir(files[0]), "stderr.txt")); err == nil {
		t.Logf("client stderr:\n%s", stderr)
	}
	return checks
}

func TestTokencacheClientPassesClientCredentialsScenarios(t *testing.T) {
	bin := suite(t)
	client := filepath.Join(t.TempDir(), "libclient")
	build := exec.Command("go", "build", "-o", client, "./libclient")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./libclient: %v\n%s", err, out)
	}
	for _, tt := range []struct {
		scenario string
		want     []string // check ids that must be SUCCESS
	}{
		{scenario: "auth/client-credentials-basic", want: []string{"prm-pathbased-requested", "authorization-server-metadata", "token-request", "client-credentials-basic-auth", "valid-bearer-token"}},
		{scenario: "auth/client-credentials-jwt", want: []string{"prm-pathbased-requested", "authorization-server-metadata", "token-request", "client-credentials-jwt-verified", "valid-bearer-token"}},
	} {
		t.Run(strings.TrimPrefix(tt.scenario, "auth/"), func(t *testing.T) {
			checks := runScenario(t, bin, tt.scenario, client)
			success := map[string]bool{}
			for _, c := range checks {
				switch c.Status {
				case "SUCCESS":
					success[c.ID] = true
				case "FAILURE", "WARNING":
					t.Errorf("check %s: %s: %s", c.ID, c.Status, c.Description)
				}
			}
			for _, id := range tt.want {
				if !success[id] {
					t.Errorf("check %s: no SUCCESS, want one", id)
				}
			}
		})
	}
}

// TestProxyPassesClientCredentialsScenarios runs both client-credentials
// scenarios with the real agentcore-proxy binary as the client's auth layer:
// proxyclient starts it with only --upstream-url, --client-id and the secret
// (or --token-auth-style private_key_jwt --client-key-file), and drives the
// Go SDK MCP client through it.
func TestProxyPassesClientCredentialsScenarios(t *testing.T) {
	bin := suite(t)
	dir := t.TempDir()
	proxyBin, client := filepath.Join(dir, "agentcore-proxy"), filepath.Join(dir, "proxyclient")
	for _, b := range [][2]string{{proxyBin, "../.."}, {client, "./proxyclient"}} {
		if out, err := exec.Command("go", "build", "-o", b[0], b[1]).CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", b[1], err, out)
		}
	}
	for _, tt := range []struct {
		scenario string
		want     []string // check ids that must be SUCCESS
	}{
		{scenario: "auth/client-credentials-basic", want: []string{"prm-pathbased-requested", "authorization-server-metadata", "token-request", "client-credentials-basic-auth", "valid-bearer-token"}},
		{scenario: "auth/client-credentials-jwt", want: []string{"prm-pathbased-requested", "authorization-server-metadata", "token-request", "client-credentials-jwt-verified", "valid-bearer-token"}},
	} {
		t.Run(strings.TrimPrefix(tt.scenario, "auth/"), func(t *testing.T) {
			checks := runScenario(t, bin, tt.scenario, client+" --proxy "+proxyBin)
			success := map[string]bool{}
			for _, c := range checks {
				switch c.Status {
				case "SUCCESS":
					success[c.ID] = true
				case "FAILURE", "WARNING":
					t.Errorf("check %s: %s: %s", c.ID, c.Status, c.Description)
				}
			}
			for _, id := range tt.want {
				if !success[id] {
					t.Errorf("check %s: no SUCCESS, want one", id)
				}
			}
		})
	}
}
