//go:build unix

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/agentcore-proxy/agentcore-proxy/internal/emulator"
)

// npmE2EDir holds the npm MCP clients these tests drive (see e2e/npm/package.json).
const npmE2EDir = "npm"

// npmClientReport is the JSON line an e2e/npm driver prints on success.
type npmClientReport struct {
	Tools    []string `json:"tools"`
	Add      string   `json:"add"`
	Multiply string   `json:"multiply"`
	Greet    string   `json:"greet"`
	Progress int      `json:"progress"`
	Stream   string   `json:"stream"`
	// Concurrent counts the right answers of 20 concurrent calls.
	Concurrent int `json:"concurrent"`
	// Elicit is confirm_action's answer, after Elicited elicitations.
	Elicit   string `json:"elicit"`
	Elicited int    `json:"elicited"`
}

// runNPMClient runs `node e2e/npm/SCRIPT ARGS...` (usually the proxy's URL)
// and returns the report it prints.
// The script and everything it spawns share a process group, which is killed
// if the script outlives its deadline, so a hung client cannot hang the test.
func runNPMClient(t *testing.T, script string, args ...string) npmClientReport {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf(`exec.LookPath("node") = %v; install Node.js 20 or later`, err)
	}
	if _, err := os.Stat(filepath.Join(npmE2EDir, "node_modules")); err != nil {
		t.Fatalf("%s/node_modules: %v; run `npm ci --prefix %s` (or .ci/run) first", npmE2EDir, err, npmE2EDir)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, append([]string{filepath.Join(npmE2EDir, script)}, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	// Pipes held open by a stray grandchild must not keep Wait blocked.
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr

	start := time.Now()
	err = cmd.Run()
	// Whatever happened, leave no process of the group behind.
	if errKill := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); errKill != nil && !errors.Is(errKill, syscall.ESRCH) {
		t.Errorf("killing process group of %s: %v", script, errKill)
	}
	t.Logf("node %s ran for %v", script, time.Since(start).Round(time.Millisecond))
	if err != nil {
		t.Fatalf("node %s %q: %v (context: %v)\nstdout:\n%s\nstderr:\n%s", script, args, err, ctx.Err(), &stdout, &stderr)
	}
	var report npmClientReport
	if err := json.Unmarshal(stdout.Bytes(), &report); err != nil {
		t.Fatalf("node %s: parsing stdout: %v\nstdout:\n%s\nstderr:\n%s", script, err, &stdout, &stderr)
	}
	return report
}

// checkSeedTools checks the tool list and seed tool results every client must see.
func checkSeedTools(t *testing.T, client string, r npmClientReport) {
	t.Helper()
	for _, want := range []string{"add_numbers", "multiply_numbers", "greet_user"} {
		if !slices.Contains(r.Tools, want) {
			t.Errorf("%s tools/list = %v, want it to include %s", client, r.Tools, want)
		}
	}
	results := []struct {
		call string
		got  string
		want string
	}{
		{call: "add_numbers(5, 3)", got: r.Add, want: "8"},
		{call: "multiply_numbers(4, 7)", got: r.Multiply, want: "28"},
		{call: `greet_user("Alice")`, got: r.Greet, want: "Hello, Alice! Nice to meet you."},
	}
	for _, res := range results {
		if res.got != res.want {
			t.Errorf("%s %s = %q, want %q", client, res.call, res.got, res.want)
		}
	}
}

// TestTypeScriptSDKClient drives the proxy with the official TypeScript MCP
// SDK over streamable HTTP, including progress notifications on a streamed
// tool call.
func TestTypeScriptSDKClient(t *testing.T) {
	needs(t, "Node and the npm MCP clients")
	emu := startEmulator(t, emulator.Config{})
	p := startProxy(t, map[string]string{"AGENTCORE_PROXY_CLIENT_SECRET": testClientSecret}, proxyFlags(emu)...)

	r := runNPMClient(t, "ts-sdk-client.mjs", p.MCPURL())

	checkSeedTools(t, "TS SDK", r)
	if r.Progress != 3 {
		t.Errorf("TS SDK stream_progress(steps=3) progress notifications = %d, want 3", r.Progress)
	}
	if r.Stream != "streamed 3 steps" {
		t.Errorf("TS SDK stream_progress(steps=3) = %q, want %q", r.Stream, "streamed 3 steps")
	}
	if got := emu.Stats().TokenRequests; got != 1 {
		t.Errorf("token requests = %d, want 1", got)
	}
}

// TestMCPRemoteBridge drives the proxy through mcp-remote, the stdio bridge
// desktop MCP hosts use for remote servers, with the proxy doing the OAuth.
func TestMCPRemoteBridge(t *testing.T) {
	needs(t, "Node and the npm MCP clients")
	emu := startEmulator(t, emulator.Config{})
	p := startProxy(t, map[string]string{"AGENTCORE_PROXY_CLIENT_SECRET": testClientSecret}, proxyFlags(emu)...)

	r := runNPMClient(t, "mcp-remote-client.mjs", p.MCPURL())

	checkSeedTools(t, "mcp-remote", r)
	if got := emu.Stats().TokenRequests; got != 1 {
		t.Errorf("token requests = %d, want 1", got)
	}
}
