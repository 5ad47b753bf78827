package cli

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/agentcore-proxy/agentcore-proxy/internal/config"
	"github.com/agentcore-proxy/agentcore-proxy/internal/emulator"
)

const demoUsage = `agentcore-proxy demo: the proxy in front of an embedded AgentCore Runtime + Cognito emulator.

Usage:
  agentcore-proxy demo [--listen 127.0.0.1:8080] [--token-lifetime 1h] [--auth sigv4|aws-jwt]

Needs no AWS account and no network. The emulator issues Cognito-shaped M2M
access tokens and authorizes them as AgentCore's customJWTAuthorizer does, in
front of a real MCP server (official Go SDK) with the tools add_numbers,
multiply_numbers, greet_user and stream_progress. The proxy reaches it
exactly as it would reach AWS: ARN-encoded invocation URL, discovery, cached
client_credentials token. With --auth sigv4 the runtime takes only AWS
SigV4 and the proxy signs each request with the emulator's example access
key, held in this process (your AWS setup is never read). With --auth aws-jwt
the proxy holds no client secret: it sends AWS STS web identity tokens
(GetWebIdentityToken, emulated) that the runtime trusts by their issuer and
audience. Stop with Ctrl-C.
`

// Demo credentials: the emulator's defaults, not secrets of anything real.
const (
	demoClientID     = "demo-client-id"
	demoClientSecret = "demo-client-secret"
)

func runDemo(ctx context.Context, args []string, env Env) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	var common commonFlags
	common.register(fs)
	lifetime := fs.Duration("token-lifetime", time.Hour, "lifetime of the emulator's access tokens (Cognito allows 5m to 24h; shorter shows refreshes)")
	auth := fs.String("auth", "oauth", "how the emulated runtime authenticates (`mode`): oauth (a Cognito bearer token), sigv4 (AWS SigV4, with an in-process example key)\nor aws-jwt (an STS web identity token: no client secret)")
	if err := parse(fs, args, env, demoUsage); err != nil {
		return err
	}
	if *auth != config.AuthOAuth && *auth != config.AuthSigV4 && *auth != "aws-jwt" {
		return fmt.Errorf("--auth %q: want oauth, sigv4 or aws-jwt", *auth)
	}
	if *lifetime < time.Second {
		return fmt.Errorf("--token-lifetime %s: want at least 1s", *lifetime)
	}
	tuneGC(env.Getenv)
	logger, err := common.logger(env)
	if err != nil {
		return err
	}
	if *auth == "aws-jwt" {
		return runDemoAWSJWT(ctx, env, &common, logger)
	}
	emu, err := emulator.Start(ctx, emulator.Config{
		TokenLifetime: *lifetime,
		Clients:       []emulator.Client{{ID: demoClientID, Secret: demoClientSecret, Scopes: []string{"default-m2m-resource-server/read"}}},
		Logger:        logger.With("component", "emulator"),
	})
	if err != nil {
		return fmt.Errorf("starting the emulator: %w", err)
	}
	defer emu.Close()
	if *auth == config.AuthSigV4 {
		return runDemoSigV4(ctx, env, &common, emu, logger)
	}

	cfg := config.FromFlags(common.listen, config.RouteFlags{
		RuntimeARN:   emu.RuntimeARN(),
		EndpointURL:  emu.EndpointURL(),
		DiscoveryURL: emu.DiscoveryURL(),
		ClientID:     demoClientID,
		SecretInEnv:  true,
		// The demo's AWS is not reachable: nothing to read the runtime from.
		RuntimeConfig: config.RuntimeConfigOff,
	})
	routes, err := cfg.Validate(func(string) string { return "" })
	if err != nil {
		return err
	}
	routes[0].Auth.Secret = demoClientSecret
	return common.serve(ctx, cfg.Listen, routes, logger, func(addr, metricsAddr string) {
		url := "http://" + addr + "/mcp"
		fmt.Fprintf(env.Stdout, `agentcore-proxy %s demo: an AgentCore Runtime + Cognito emulator runs in this process.

  MCP endpoint:  %s
  Runtime ARN:   %s
                 (emulated at %s, Cognito at %s)
  Tools:         add_numbers, multiply_numbers, greet_user, stream_progress

Point an MCP client at it, e.g. in mcp.json (Claude Code, Cursor, VS Code):
  {"mcpServers": {"agentcore-demo": {"type": "http", "url": "%s"}}}
or: claude mcp add --transport http agentcore-demo %s
or, for clients that launch stdio servers: agentcore-proxy stdio --upstream-url %s

Status page: http://%s/   Metrics: http://%s/metrics   Ready: http://%s/readyz
Stop with Ctrl-C.
`, version(), url, emu.RuntimeARN(), emu.EndpointURL(), emu.Issuer(), url, url, url, addr, addr, addr)
	})
}
