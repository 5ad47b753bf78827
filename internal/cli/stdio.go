package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/agentcore-proxy/agentcore-proxy/internal/config"
	"github.com/agentcore-proxy/agentcore-proxy/internal/route"
	"github.com/agentcore-proxy/agentcore-proxy/internal/server"
	"github.com/agentcore-proxy/agentcore-proxy/internal/stdio"
)

const stdioUsage = `agentcore-proxy stdio: an MCP server on AgentCore Runtime as a local stdio server.

Usage:
  agentcore-proxy stdio --runtime-arn ARN --discovery-url URL --client-id ID --client-secret-file FILE [--scope S]...
  agentcore-proxy stdio --upstream-url http://127.0.0.1:8000/mcp
  agentcore-proxy stdio --config routes.yaml [--route NAME]

For MCP clients that launch servers as subprocesses: it reads JSON-RPC
messages from stdin, one per line, and writes the answers to stdout, one per
line; nothing else ever goes to stdout, logs go to stderr. Each message goes
to the route as in serve: cached token, checks, explanations of failures (as
JSON-RPC errors), session recovery, and metrics and the status page with
--metrics-listen. No port is opened otherwise. When stdin closes (or on
SIGTERM) calls in flight get --drain-timeout to finish, then it exits 0.
The client secret comes from --client-secret-file or
AGENTCORE_PROXY_CLIENT_SECRET, never from a flag (command lines show in ps).

` + clientConfigs

// clientConfigs is the client setup shown by stdio --help; README.md carries
// the same text (TestREADMEClientConfigs).
const clientConfigs = `Client configurations (use the full path of agentcore-proxy if the client's
PATH lacks it; keep the secret file readable by you only: chmod 600):

Claude Desktop: ~/Library/Application Support/Claude/claude_desktop_config.json (macOS),
%APPDATA%\Claude\claude_desktop_config.json (Windows):
  {"mcpServers": {"my-agentcore": {
    "command": "agentcore-proxy",
    "args": ["stdio",
      "--runtime-arn", "arn:aws:bedrock-agentcore:us-west-2:123456789012:runtime/my_mcp_server-xyz123",
      "--discovery-url", "https://cognito-idp.us-west-2.amazonaws.com/us-west-2_EXAMPLE/.well-known/openid-configuration",
      "--client-id", "YOUR_CLIENT_ID",
      "--client-secret-file", "/Users/you/.config/agentcore-proxy/client-secret"]}}}
  (Windows: "C:\\Users\\you\\.config\\agentcore-proxy\\client-secret")

Claude Code:
  claude mcp add my-agentcore -- agentcore-proxy stdio \
    --runtime-arn arn:aws:bedrock-agentcore:us-west-2:123456789012:runtime/my_mcp_server-xyz123 \
    --discovery-url https://cognito-idp.us-west-2.amazonaws.com/us-west-2_EXAMPLE/.well-known/openid-configuration \
    --client-id YOUR_CLIENT_ID --client-secret-file ~/.config/agentcore-proxy/client-secret

Cursor: ~/.cursor/mcp.json (or .cursor/mcp.json in a project):
  {"mcpServers": {"my-agentcore": {
    "command": "agentcore-proxy",
    "args": ["stdio", "--config", "/Users/you/.config/agentcore-proxy/routes.yaml", "--route", "my-agentcore"]}}}

VS Code: .vscode/mcp.json (the secret is asked once and kept by VS Code, then
passed in the environment):
  {"inputs": [{"type": "promptString", "id": "agentcore-secret",
               "description": "AgentCore app client secret", "password": true}],
   "servers": {"my-agentcore": {
    "type": "stdio",
    "command": "agentcore-proxy",
    "args": ["stdio",
      "--runtime-arn", "arn:aws:bedrock-agentcore:us-west-2:123456789012:runtime/my_mcp_server-xyz123",
      "--discovery-url", "https://cognito-idp.us-west-2.amazonaws.com/us-west-2_EXAMPLE/.well-known/openid-configuration",
      "--client-id", "YOUR_CLIENT_ID"],
    "env": {"AGENTCORE_PROXY_CLIENT_SECRET": "${input:agentcore-secret}"}}}}
`

// stdioSkips are serve's flags that make no sense without a listener.
var stdioSkips = []string{"listen", "allowed-host", "allowed-origin", "inbound-token-file", "insecure-no-inbound-auth",
	"read-header-timeout", "idle-timeout", "max-header-bytes", "body-read-timeout"}

// stdioListen stands in for --listen, which config validation wants and
// stdio never opens.
const stdioListen = "127.0.0.1:0"

func runStdio(ctx context.Context, args []string, env Env) error {
	fs := flag.NewFlagSet("stdio", flag.ContinueOnError)
	// serve's flags minus the listener's, so that both read alike.
	var common commonFlags
	all := flag.NewFlagSet("", flag.ContinueOnError)
	common.register(all)
	all.VisitAll(func(f *flag.Flag) {
		if !slices.Contains(stdioSkips, f.Name) {
			fs.Var(f.Value, f.Name, f.Usage)
		}
	})
	// A client reads stderr as a log file, not a terminal: text is the
	// readable choice there, and calls should not wait as long as a pod's.
	for name, def := range map[string]string{"log-format": "text", "drain-timeout": stdio.DefaultDrainTimeout.String()} {
		f := fs.Lookup(name)
		f.Value.Set(def)
		f.DefValue = def
	}
	fs.Lookup("metrics-listen").Usage = "serve /metrics, /healthz, /readyz and the status page on this `host:port`;\nnone by default: stdio opens no port"
	var rfl routeFlags
	rfl.register(fs)
	routeName := fs.String("route", "", "with --config: the `name` of the route to serve (default: the only one)")
	maxLine := fs.Int("max-line-bytes", stdio.DefaultMaxLineBytes, "largest message accepted on stdin, and largest upstream answer (a JSON body or one event)\nrelayed to stdout, in `bytes`; a larger answer gets a JSON-RPC error for its request")
	if err := parse(fs, args, env, stdioUsage); err != nil {
		return err
	}
	if *routeName != "" && rfl.configFile == "" {
		return fmt.Errorf("--route %q: names a route of --config; give --config FILE too, or drop --route", *routeName)
	}
	if *maxLine < 1024 {
		return fmt.Errorf("--max-line-bytes %d: want at least 1024", *maxLine)
	}
	_, routes, err := rfl.load(fs, stdioListen, env)
	if err != nil {
		return err
	}
	picked, err := pickRoute(routes, *routeName)
	if err != nil {
		return err
	}
	if err := common.check(); err != nil {
		return err
	}
	tuneGC(env.Getenv)
	logger, err := common.logger(env)
	if err != nil {
		return err
	}
	for _, w := range exposedSecretFiles([]config.Resolved{picked}) {
		logger.Warn(w)
	}
	srv, err := server.New(ctx, []config.Resolved{picked}, common.serverOptions(logger))
	if err != nil {
		return err
	}
	logger.Info("agentcore-proxy stdio", "version", version(), "route", picked.Name, "target", route.Describe(picked))
	err = srv.RunFront(server.FrontOptions{Route: picked.Name, MetricsAddr: common.metricsListen, Pprof: common.pprof,
		MetricsGuard: common.guard.metricsGuard()}, func(h http.Handler) error {
		return stdio.Run(ctx, env.Stdin, env.Stdout, stdio.Options{
			Handler: h, Logger: logger, DrainTimeout: drainOrNow(common.drainTimeout), MaxLineBytes: *maxLine, Redact: env.red.Redact,
			MaxLineName: "--max-line-bytes",
		})
	})
	if le := (*server.ListenError)(nil); errors.As(err, &le) {
		return fmt.Errorf("--metrics-listen %q: %w", le.Addr, le.Err)
	}
	if err != nil {
		return err
	}
	logger.Info("stdin closed or signalled; done")
	return nil
}

// drainOrNow maps --drain-timeout 0 (no drain) onto stdio's smallest drain:
// its 0 means the default.
func drainOrNow(d time.Duration) time.Duration {
	if d == 0 {
		return time.Nanosecond
	}
	return d
}
