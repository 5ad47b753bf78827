package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agentcore-proxy/agentcore-proxy/internal/emulator"
)

// stdioResult compares the two ways a stdio-only MCP client reaches an
// AgentCore runtime: agentcore-proxy stdio, and mcp-remote (npm) with a
// static bearer header, both launched as a client launches a server and
// driven by the same Go SDK client against the same emulator.
type stdioResult struct {
	Calls       int           `json:"calls"`
	Contenders  []stdioFigure `json:"contenders"`
	LatencyX    float64       `json:"latency_ratio_p50"` // agentcore-proxy / mcp-remote
	LatencyP99X float64       `json:"latency_ratio_p99"`
	MemoryX     float64       `json:"memory_ratio"` // peak RSS
}

type stdioFigure struct {
	Name       string  `json:"name"`
	P50MS      float64 `json:"p50_ms"`
	P99MS      float64 `json:"p99_ms"`
	PeakRSSKB  int64   `json:"peak_rss_kb"` // VmHWM of the process tree after the calls
	StartupMS  float64 `json:"startup_ms"`  // launch to initialize answered
	CallErrors int     `json:"call_errors"`
}

// runStdioBench builds agentcore-proxy (unless -proxy-bin), runs the
// comparison, prints it and writes it as JSON to -out, if given.
func runStdioBench(ctx context.Context, o *options, calls int, stdout io.Writer) error {
	bin := o.proxyBin
	if bin == "" {
		dir, err := os.MkdirTemp("", "bench-stdio-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		bin = filepath.Join(dir, "agentcore-proxy")
		build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", bin, ".")
		build.Dir = o.repo
		if out, err := build.CombinedOutput(); err != nil {
			return fmt.Errorf("go build: %w: %s", err, out)
		}
	}
	res, err := measureStdio(ctx, o.repo, bin, calls)
	if err != nil {
		return err
	}
	printStdio(stdout, res)
	if o.out != "" {
		raw, err := json.MarshalIndent(res, "", "  ")
		if err != nil {
			return err
		}
		return os.WriteFile(o.out, append(raw, '\n'), 0o644)
	}
	return nil
}

// measureStdio runs calls sequential tools/call through each contender.
func measureStdio(ctx context.Context, repo, bin string, calls int) (*stdioResult, error) {
	emu, err := emulator.Start(ctx, emulator.Config{})
	if err != nil {
		return nil, err
	}
	defer emu.Close()
	const clientID, secret = "demo-client-id", "demo-client-secret"
	token, err := fetchToken(emu.TokenURL(), clientID, secret)
	if err != nil {
		return nil, err
	}
	remote, err := mcpRemoteBin(repo)
	if err != nil {
		return nil, err
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, fmt.Errorf("mcp-remote needs Node: %w", err)
	}
	configDir, err := os.MkdirTemp("", "bench-mcp-remote-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(configDir)

	proxyCmd := exec.CommandContext(ctx, bin, "stdio", "--log-level", "warn",
		"--runtime-arn", emu.RuntimeARN(), "--endpoint-url", emu.EndpointURL(),
		"--discovery-url", emu.DiscoveryURL(), "--client-id", clientID)
	proxyCmd.Env = append(childEnv(), "AGENTCORE_PROXY_CLIENT_SECRET="+secret)
	// The header's value reaches mcp-remote through its ${VAR} expansion, so
	// that the token is not on the command line.
	remoteCmd := exec.CommandContext(ctx, node, remote, emu.InvocationURL("DEFAULT"),
		"--transport", "http-only", "--header", "Authorization:${AUTH_HEADER}")
	remoteCmd.Env = append(childEnv(), "MCP_REMOTE_CONFIG_DIR="+configDir, "AUTH_HEADER=Bearer "+token)

	res := &stdioResult{Calls: calls}
	for _, c := range []struct {
		name string
		cmd  *exec.Cmd
	}{{"agentcore-proxy stdio", proxyCmd}, {"mcp-remote", remoteCmd}} {
		f, err := driveStdio(ctx, c.name, c.cmd, calls)
		if err != nil {
			return nil, err
		}
		res.Contenders = append(res.Contenders, f)
	}
	a, b := res.Contenders[0], res.Contenders[1]
	res.LatencyX, res.LatencyP99X = a.P50MS/b.P50MS, a.P99MS/b.P99MS
	res.MemoryX = float64(a.PeakRSSKB) / float64(b.PeakRSSKB)
	return res, nil
}

// driveStdio launches cmd with the Go SDK's CommandTransport, warms up with
// ten calls, times calls sequential add_numbers calls, and reads the peak
// RSS of the process and its children.
func driveStdio(ctx context.Context, name string, cmd *exec.Cmd, calls int) (stdioFigure, error) {
	f := stdioFigure{Name: name}
	client := mcp.NewClient(&mcp.Implementation{Name: "bench-stdio", Version: "1"}, nil)
	start := time.Now()
	cs, err := client.Connect(ctx, &mcp.CommandTransport{Command: cmd}, &mcp.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
	if err != nil {
		return f, fmt.Errorf("%s: connect: %w", name, err)
	}
	defer cs.Close()
	f.StartupMS = ms(time.Since(start))
	call := func(i int) error {
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "add_numbers", Arguments: map[string]any{"a": i, "b": 1}})
		if err == nil && (res.IsError || len(res.Content) != 1) {
			err = fmt.Errorf("unexpected result %v", res)
		}
		return err
	}
	for i := range 10 {
		if err := call(i); err != nil {
			return f, fmt.Errorf("%s: warm-up call: %w", name, err)
		}
	}
	lat := make([]time.Duration, 0, calls)
	for i := range calls {
		t0 := time.Now()
		if err := call(i); err != nil {
			f.CallErrors++
			continue
		}
		lat = append(lat, time.Since(t0))
	}
	if len(lat) == 0 {
		return f, fmt.Errorf("%s: every call failed", name)
	}
	slices.Sort(lat)
	f.P50MS = ms(lat[len(lat)/2])
	f.P99MS = ms(lat[min(len(lat)-1, len(lat)*99/100)])
	pid := cmd.Process.Pid
	f.PeakRSSKB = peakRSSKB(append([]int{pid}, childrenOf(pid)...))
	return f, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// peakRSSKB is the sum of VmHWM (peak resident set) of pids, in kB.
func peakRSSKB(pids []int) int64 {
	var sum int64
	for _, pid := range pids {
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			continue
		}
		for line := range strings.Lines(string(raw)) {
			if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
				v, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
				sum += v
			}
		}
	}
	return sum
}

// fetchToken gets an access token from the emulated Cognito, for
// mcp-remote's static header.
func fetchToken(tokenURL, id, secret string) (string, error) {
	req, err := http.NewRequest(http.MethodPost, tokenURL, strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
	if err != nil {
		return "", err
	}
	req.SetBasicAuth(id, secret)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	body, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(body, &tok); err != nil || tok.AccessToken == "" {
		return "", fmt.Errorf("token endpoint answered %d", resp.StatusCode)
	}
	return tok.AccessToken, nil
}

// mcpRemoteBin returns the path of mcp-remote's stdio bridge in e2e/npm.
func mcpRemoteBin(repo string) (string, error) {
	dir := filepath.Join(repo, "e2e", "npm", "node_modules", "mcp-remote")
	raw, err := os.ReadFile(filepath.Join(dir, "package.json"))
	if err != nil {
		return "", fmt.Errorf("mcp-remote: %w (run npm ci --prefix e2e/npm)", err)
	}
	var pkg struct {
		Bin any `json:"bin"`
	}
	if err := json.Unmarshal(raw, &pkg); err != nil {
		return "", fmt.Errorf("mcp-remote package.json: %w", err)
	}
	switch b := pkg.Bin.(type) {
	case string:
		return filepath.Join(dir, b), nil
	case map[string]any:
		if s, ok := b["mcp-remote"].(string); ok {
			return filepath.Join(dir, s), nil
		}
	}
	return "", fmt.Errorf("mcp-remote package.json: no bin")
}

// printStdio writes the comparison as a table.
func printStdio(w io.Writer, r *stdioResult) {
	fmt.Fprintf(w, "\nstdio front: %d sequential tools/call through each, same Go SDK client and emulator\n", r.Calls)
	fmt.Fprintf(w, "%-22s %9s %9s %12s %11s %7s\n", "", "p50 ms", "p99 ms", "peak RSS MB", "startup ms", "errors")
	for _, c := range r.Contenders {
		fmt.Fprintf(w, "%-22s %9.3f %9.3f %12.1f %11.0f %7d\n", c.Name, c.P50MS, c.P99MS, float64(c.PeakRSSKB)/1024, c.StartupMS, c.CallErrors)
	}
	fmt.Fprintf(w, "ratio agentcore-proxy/mcp-remote: latency p50 %.2fx, p99 %.2fx (target <= 0.5x); memory %.2fx (target <= 0.25x)\n",
		r.LatencyX, r.LatencyP99X, r.MemoryX)
}
