package cli

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"strings"
	"testing"
)

const (
	configsBegin = "<!-- client configurations: the same text as agentcore-proxy stdio --help (TestREADMEClientConfigs) -->\n```text\n"
	configsEnd   = "```\n<!-- end of client configurations -->\n"
)

// TestREADMEClientConfigs fails when README's client configurations and
// stdio --help's differ; -update rewrites the README from the code.
func TestREADMEClientConfigs(t *testing.T) {
	raw, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	start := strings.Index(readme, configsBegin)
	end := strings.Index(readme, configsEnd)
	if start < 0 || end < start {
		t.Fatalf("%s has no section between %q and %q", readmePath, configsBegin, configsEnd)
	}
	if got := readme[start+len(configsBegin) : end]; got != clientConfigs {
		if *update {
			if err := os.WriteFile(readmePath, []byte(readme[:start+len(configsBegin)]+clientConfigs+readme[end:]), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		t.Errorf("README.md's client configurations differ from stdio --help's; run go test ./internal/cli -run TestREADMEClientConfigs -update\ngot:\n%s\nwant:\n%s", got, clientConfigs)
	}
}

// TestStdioHelp: --help carries the client configurations and the flags,
// but none of serve's listener flags.
func TestStdioHelp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := Run(t.Context(), []string{"stdio", "--help"}, Env{Getenv: func(string) string { return "" }, Stdout: &stdout, Stderr: &stderr})
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("stdio --help = %v, want flag.ErrHelp", err)
	}
	help := stdout.String()
	for _, want := range []string{clientConfigs, "--session-recovery", "--drain-timeout duration", "(default 10s)", "--log-format text", "--route name", "--metrics-listen"} {
		if !strings.Contains(help, want) {
			t.Errorf("stdio --help lacks %q", want)
		}
	}
	for _, flagName := range stdioSkips {
		if strings.Contains(help, "  --"+flagName+" ") {
			t.Errorf("stdio --help offers --%s, a listener flag", flagName)
		}
	}
}

// TestStdioBadCommandLines: mistakes name the flag at fault, and nothing
// reaches stdout.
func TestStdioBadCommandLines(t *testing.T) {
	dir := t.TempDir()
	cfg := dir + "/routes.yaml"
	yaml := "routes:\n  - name: a\n    path: /a/mcp\n    target:\n      upstream_url: http://127.0.0.1:1/mcp\n" +
		"  - name: b\n    path: /b/mcp\n    target:\n      upstream_url: http://127.0.0.1:2/mcp\n"
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "route without config", args: []string{"--upstream-url", "http://127.0.0.1:1/mcp", "--route", "a"}, want: `--route "a": names a route of --config`},
		{name: "two routes, none chosen", args: []string{"--config", cfg}, want: "--route is empty and the configuration has 2 routes: give one of a, b"},
		{name: "unknown route", args: []string{"--config", cfg, "--route", "c"}, want: `--route "c": no such route (routes: a, b)`},
		{name: "listener flag", args: []string{"--upstream-url", "http://127.0.0.1:1/mcp", "--listen", "127.0.0.1:0"}, want: "flag provided but not defined: -listen"},
		{name: "tiny line limit", args: []string{"--upstream-url", "http://127.0.0.1:1/mcp", "--max-line-bytes", "10"}, want: "--max-line-bytes 10: want at least 1024"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := Run(t.Context(), append([]string{"stdio"}, tt.args...), Env{Getenv: func(string) string { return "" },
				Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr})
			if err == nil || !strings.Contains(err.Error()+stderr.String(), tt.want) {
				t.Errorf("stdio %q = %v (stderr %q), want %q", tt.args, err, stderr.String(), tt.want)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdio %q wrote %q to stdout, want nothing", tt.args, stdout.String())
			}
		})
	}
}

// TestStdioEOF: with stdin empty, stdio starts, writes nothing to stdout,
// logs as text to stderr and returns nil.
func TestStdioEOF(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := Run(t.Context(), []string{"stdio", "--upstream-url", "http://127.0.0.1:1/mcp"}, Env{Getenv: func(string) string { return "" },
		Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr})
	if err != nil {
		t.Fatalf("stdio with stdin at EOF = %v, want nil", err)
	}
	if stdout.Len() != 0 {
		t.Errorf("stdout = %q, want nothing", stdout.String())
	}
	if !strings.Contains(stderr.String(), `level=INFO msg="agentcore-proxy stdio"`) {
		t.Errorf("stderr = %q, want a text log line", stderr.String())
	}
}
