// Command proxyclient is the MCP conformance suite's client for the
// auth/client-credentials-* scenarios with agentcore-proxy as the client's
// auth layer: it starts the real agentcore-proxy binary with only
// --upstream-url, --client-id and the secret (or a private key), waits for
// it to be ready, and drives the official Go SDK MCP client through it
// (initialize, tools/list, tools/call).
//
// Usage (the suite appends the MCP URL):
//
//	proxyclient --proxy /path/to/agentcore-proxy http://localhost:PORT/mcp
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// conformanceContext is MCP_CONFORMANCE_CONTEXT.
type conformanceContext struct {
	Name          string `json:"name"`
	ClientID      string `json:"client_id"`
	ClientSecret  string `json:"client_secret"`
	PrivateKeyPEM string `json:"private_key_pem"`
	SigningAlg    string `json:"signing_algorithm"`
}

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	if err := run(ctx, os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "proxyclient:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("proxyclient", flag.ContinueOnError)
	bin := fs.String("proxy", "", "path of the agentcore-proxy binary")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *bin == "" || fs.NArg() != 1 {
		return errors.New("usage: proxyclient --proxy BINARY MCP_URL")
	}
	serverURL := fs.Arg(0)
	var cc conformanceContext
	if err := json.Unmarshal([]byte(os.Getenv("MCP_CONFORMANCE_CONTEXT")), &cc); err != nil {
		return fmt.Errorf("MCP_CONFORMANCE_CONTEXT: %w", err)
	}

	proxyArgs := []string{"serve", "--listen", "127.0.0.1:0", "--log-format", "text", "--upstream-url", serverURL, "--client-id", cc.ClientID}
	env := []string{"PATH=" + os.Getenv("PATH")}
	switch {
	case cc.PrivateKeyPEM != "":
		dir, err := os.MkdirTemp("", "proxyclient")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		keyFile := filepath.Join(dir, "client-key.pem")
		if err := os.WriteFile(keyFile, []byte(cc.PrivateKeyPEM), 0o600); err != nil {
			return err
		}
		proxyArgs = append(proxyArgs, "--token-auth-style", "private_key_jwt", "--client-key-file", keyFile)
	default:
		env = append(env, "AGENTCORE_PROXY_CLIENT_SECRET="+cc.ClientSecret)
	}

	cmd := exec.CommandContext(ctx, *bin, proxyArgs...)
	cmd.Env = env
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", *bin, err)
	}
	defer func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	}()
	base, err := listenAddr(stdout)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "agentcore-proxy listening on %s\n", base)
	if err := waitReady(ctx, base); err != nil {
		return err
	}

	client := mcp.NewClient(&mcp.Implementation{Name: "agentcore-proxy-conformance", Version: "0.0.0"}, nil)
	session, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: base + "/mcp", DisableStandaloneSSE: true}, nil)
	if err != nil {
		return fmt.Errorf("MCP initialize through the proxy: %w", err)
	}
	defer session.Close()
	tools, err := session.ListTools(ctx, nil)
	if err != nil {
		return fmt.Errorf("tools/list: %w", err)
	}
	if len(tools.Tools) == 0 {
		return errors.New("tools/list: no tools")
	}
	name := tools.Tools[0].Name
	for _, t := range tools.Tools {
		if t.Name == "test-tool" {
			name = t.Name
		}
	}
	res, err := session.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: map[string]any{}})
	if err != nil {
		return fmt.Errorf("tools/call %s: %w", name, err)
	}
	fmt.Fprintf(stderr, "ok: %d tool(s), called %s (isError %v)\n", len(tools.Tools), name, res.IsError)
	return nil
}

// listenAddr reads the proxy's banner for the address it listens on, and
// keeps draining its stdout.
func listenAddr(stdout io.Reader) (string, error) {
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if _, after, ok := strings.Cut(sc.Text(), " listening on "); ok {
			go io.Copy(io.Discard, stdout)
			return strings.Fields(after)[0], nil
		}
	}
	return "", errors.New("agentcore-proxy exited before listening (see its log above)")
}

// waitReady polls /readyz until the proxy holds a token.
func waitReady(ctx context.Context, base string) error {
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/readyz", nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			if ctx.Err() != nil {
				return fmt.Errorf("agentcore-proxy not ready: %d %s", resp.StatusCode, body)
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("agentcore-proxy not ready: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
