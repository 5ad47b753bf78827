package cli

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/agentcore-proxy/agentcore-proxy/internal/config"
	"github.com/agentcore-proxy/agentcore-proxy/internal/emulator"
	"github.com/agentcore-proxy/agentcore-proxy/internal/redact"
)

// runDemoSigV4 serves the demo with the runtime in SigV4 mode: the proxy
// signs with the emulator's example key, a static provider in this process,
// so that neither the environment nor ~/.aws is read or changed.
func runDemoSigV4(ctx context.Context, env Env, common *commonFlags, emu *emulator.Emulator, logger *slog.Logger) error {
	emu.SetSigV4(true)
	key := emulator.DefaultAWSCredential
	common.awsCredentials = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: key.AccessKeyID, SecretAccessKey: key.SecretAccessKey, SessionToken: key.SessionToken, Source: "demo"}, nil
	})
	cfg := config.FromFlags(common.listen, config.RouteFlags{
		RuntimeARN:  emu.RuntimeARN(),
		EndpointURL: emu.EndpointURL(),
		Auth:        config.AuthSigV4,
		// The demo's AWS is not reachable: nothing to read the runtime from.
		RuntimeConfig: config.RuntimeConfigOff,
	})
	routes, err := cfg.Validate(func(string) string { return "" })
	if err != nil {
		return err
	}
	return common.serve(ctx, cfg.Listen, routes, logger, func(addr, metricsAddr string) {
		url := "http://" + addr + "/mcp"
		fmt.Fprintf(env.Stdout, `agentcore-proxy %s demo (--auth sigv4): an AgentCore Runtime emulator that takes only AWS SigV4 runs in this process.

  MCP endpoint:  %s
  Runtime ARN:   %s
                 (emulated at %s)
  Signing:       AWS SigV4, service bedrock-agentcore, region %s, example access key %s
                 (held in this process; your AWS environment and ~/.aws are not read)
  Tools:         add_numbers, multiply_numbers, greet_user, stream_progress

Point an MCP client at it, e.g.: claude mcp add --transport http agentcore-demo %s
Status page: http://%s/   Ready: http://%s/readyz
Stop with Ctrl-C.
`, version(), url, emu.RuntimeARN(), emu.EndpointURL(), routes[0].SigV4.Region, redact.Fingerprint(key.AccessKeyID), url, addr, addr)
	})
}
