// Command agentcore-proxy is a local reverse proxy from any MCP client to MCP
// servers hosted on AWS Bedrock AgentCore Runtime. It builds the invocation
// URL from the runtime ARN, attaches a cached OAuth2 machine-to-machine token
// that it refreshes ahead of expiry, and streams replies as they arrive.
// Run "agentcore-proxy demo" to try it without an AWS account.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/agentcore-proxy/agentcore-proxy/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// run runs the command line; tests call it as main does.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	return cli.Run(ctx, args, cli.Env{Getenv: getenv, Stdin: stdin, Stdout: stdout, Stderr: stderr})
}

// exitCode prints err, one problem per line, and returns the exit status:
// 0 for success and --help, 2 for a bad command line, 1 otherwise.
func exitCode(err error, stderr io.Writer) int {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, cli.ErrUsage):
		return 2
	default:
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintf(stderr, "agentcore-proxy: %s\n", line)
		}
		return 1
	}
}
