package e2e

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentcore-proxy/agentcore-proxy/internal/cli"
	"github.com/agentcore-proxy/agentcore-proxy/internal/emulator"
)

// run runs the command line as main does.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	return cli.Run(ctx, args, cli.Env{Getenv: getenv, Stdin: stdin, Stdout: stdout, Stderr: stderr})
}

var (
	buildOnce sync.Once
	binDir    string // removed by TestMain
	binPath   string
	buildErr  error
)

// binary builds the agentcore-proxy binary once per test binary; TestMain
// removes it.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "agentcore-proxy-bin")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "agentcore-proxy")
		out, err := exec.Command("go", "build", "-o", binPath, "..").CombinedOutput()
		if err != nil {
			buildErr = errors.New(string(out))
		}
	})
	if buildErr != nil {
		t.Fatalf("go build: %v", buildErr)
	}
	return binPath
}

// needs skips t under go test -short, which runs no test that needs a peer
// installed outside Go (Node, Chromium, podman); make test runs them.
func needs(t *testing.T, what string) {
	t.Helper()
	if testing.Short() {
		t.Skipf("needs %s: skipped under -short (make test installs and runs it)", what)
	}
}

// long skips t under go test -short, which must finish in under a minute:
// t waits out real time the proxy's clock cannot skip in another process
// (token lifetimes, outages, timeouts) or moves a load that takes seconds.
// why says which; make test runs it.
func long(t *testing.T, why string) {
	t.Helper()
	if testing.Short() {
		t.Skipf("%s: skipped under -short (make test runs it)", why)
	}
}

// startEmulator starts the AgentCore + Cognito emulator for one test.
func startEmulator(t *testing.T, cfg emulator.Config) *emulator.Emulator {
	t.Helper()
	emu, err := emulator.Start(t.Context(), cfg)
	if err != nil {
		t.Fatalf("emulator.Start: %v", err)
	}
	t.Cleanup(func() { emu.Close() })
	return emu
}

// testEmulatorSecret is the emulator's default client secret; the secret
// scan asserts it never reaches a log.
const (
	testClientID     = "demo-client-id"
	testClientSecret = "demo-client-secret"
)

// proxyFlags returns serve flags that point the proxy at emu, with the
// client secret in the environment.
func proxyFlags(emu *emulator.Emulator, extra ...string) []string {
	return append([]string{"serve", "--listen", "127.0.0.1:0", "--log-format", "json", "--log-level", "debug",
		"--runtime-arn", emu.RuntimeARN(),
		"--endpoint-url", emu.EndpointURL(),
		"--discovery-url", emu.DiscoveryURL(),
		"--client-id", testClientID,
	}, extra...)
}

// runningProxy is the proxy command started by startProxy.
type runningProxy struct {
	// BaseURL is http://127.0.0.1:PORT.
	BaseURL string
	// Stdout and Stderr hold what the command has printed so far.
	stdout, stderr *syncBuffer
}

// MCPURL is the default route's MCP endpoint.
func (p *runningProxy) MCPURL() string { return p.BaseURL + "/mcp" }

// Logs returns everything logged so far.
func (p *runningProxy) Logs() string { return p.stderr.String() }

var listeningRe = regexp.MustCompile(`listening on (http://\S+|unix:\S+)|MCP endpoint:\s+(http://\S+)/mcp`)

// startProxy runs the command line args in-process, as main does, with env
// as its environment, and returns once it listens. The test fails if the
// command ends with an error; cleanup stops it and waits for it to return.
func startProxy(t *testing.T, env map[string]string, args ...string) *runningProxy {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	p := &runningProxy{stdout: &syncBuffer{}, stderr: &syncBuffer{}}
	getenv := func(k string) string { return env[k] }
	done := make(chan error, 1)
	go func() {
		err := run(ctx, args, getenv, strings.NewReader(""), pw, p.stderr)
		pw.Close()
		done <- err
	}()
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		found := false
		for sc.Scan() {
			p.stdout.Write(append(sc.Bytes(), '\n'))
			if m := listeningRe.FindStringSubmatch(sc.Text()); m != nil && !found {
				found = true
				addr <- m[1] + m[2]
			}
		}
		io.Copy(io.Discard, pr)
		close(addr)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run(%q) = %v", args, err)
		}
		secretScan(t, p.Logs()+p.stdout.String())
	})
	select {
	case u, ok := <-addr:
		if !ok {
			err := <-done
			done <- err
			t.Fatalf("run(%q) ended before listening: %v\nstderr:\n%s", args, err, p.Logs())
		}
		p.BaseURL = u
	case <-time.After(30 * time.Second):
		t.Fatalf("run(%q) did not listen within 30s\nstderr:\n%s", args, p.Logs())
	}
	return p
}

// waitReady polls /readyz until it answers 200.
func waitReady(t *testing.T, p *runningProxy) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(p.BaseURL + "/readyz")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s/readyz not ready within 20s (last: %v)\nlogs:\n%s", p.BaseURL, err, p.Logs())
		}
		time.Sleep(20 * time.Millisecond) // polling interval, not synchronization
	}
}

// tokenRe matches a JWT, which must never reach a log.
var tokenRe = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.`)

// secretScan fails the test if logs hold a client secret or any token, and
// keeps them for the scan of the whole suite (TestMain).
func secretScan(t *testing.T, logs string) {
	t.Helper()
	allLogs.Write([]byte(logs))
	for _, p := range scanForSecrets(logs) {
		t.Errorf("logs contain %s", p)
	}
}

// syncBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitStdout waits until what the command printed holds want (the banner's
// later lines may arrive after the line startProxy waits for), and returns
// it; past 10 s it returns what there is.
func waitStdout(p *runningProxy, want string) string {
	deadline := time.Now().Add(10 * time.Second)
	for {
		out := p.stdout.String()
		if strings.Contains(out, want) || time.Now().After(deadline) {
			return out
		}
		time.Sleep(10 * time.Millisecond) // polling interval, not synchronization
	}
}
