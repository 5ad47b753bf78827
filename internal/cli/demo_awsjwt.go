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

// demoAudience is the allowedAudience of the demo's secretless runtime.
const demoAudience = "agentcore-demo-runtime"

// runDemoAWSJWT serves the demo in secretless mode: a fake AWS host issues
// STS web identity tokens for the emulator's example key, held in this
// process, and the emulated runtime's authorizer trusts their issuer with
// allowedAudience and no client rule, as README's setup has it. Neither the
// environment nor ~/.aws is read, and no client secret exists.
func runDemoAWSJWT(ctx context.Context, env Env, common *commonFlags, logger *slog.Logger) error {
	awsHost, err := emulator.StartAWS(ctx, emulator.AWSConfig{Logger: logger.With("component", "emulator-aws")})
	if err != nil {
		return fmt.Errorf("starting the emulator's AWS host: %w", err)
	}
	defer awsHost.Close()
	trust, err := awsHost.WebIdentityTrust()
	if err != nil {
		return err
	}
	emu, err := emulator.Start(ctx, emulator.Config{
		TrustedIssuer: trust,
		Authorizer:    emulator.Authorizer{AllowedAudience: []string{demoAudience}},
		Logger:        logger.With("component", "emulator"),
	})
	if err != nil {
		return fmt.Errorf("starting the emulator: %w", err)
	}
	defer emu.Close()
	key := emulator.DefaultAWSCredential
	common.awsCredentials = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: key.AccessKeyID, SecretAccessKey: key.SecretAccessKey, SessionToken: key.SessionToken, Source: "demo"}, nil
	})
	common.awsEndpoint = awsHost.URL()
	cfg := config.FromFlags(common.listen, config.RouteFlags{
		RuntimeARN:  emu.RuntimeARN(),
		EndpointURL: emu.EndpointURL(),
		Auth:        config.AuthAWSJWT,
		Audience:    demoAudience,
	})
	routes, err := cfg.Validate(func(string) string { return "" })
	if err != nil {
		return err
	}
	return common.serve(ctx, cfg.Listen, routes, logger, func(addr, metricsAddr string) {
		url := "http://" + addr + "/mcp"
		fmt.Fprintf(env.Stdout, `agentcore-proxy %s demo (--auth aws-jwt): secretless. No client secret exists; the proxy sends
AWS STS web identity tokens, and the emulated runtime trusts their issuer.

  MCP endpoint:  %s
  Runtime ARN:   %s
                 (emulated at %s)
  Tokens:        sts:GetWebIdentityToken (emulated at %s), audience %s, RS256, 15m, refreshed ahead
                 signed for example access key %s (held in this process; your AWS environment and ~/.aws are not read)
  Authorizer:    discoveryUrl %s/.well-known/openid-configuration, allowedAudience [%s]
  Tools:         add_numbers, multiply_numbers, greet_user, stream_progress

Point an MCP client at it, e.g.: claude mcp add --transport http agentcore-demo %s
Status page: http://%s/   Ready: http://%s/readyz
Stop with Ctrl-C.
`, version(), url, emu.RuntimeARN(), emu.EndpointURL(), awsHost.URL(), demoAudience, redact.Fingerprint(key.AccessKeyID),
			awsHost.WebIdentityIssuer(), demoAudience, url, addr, addr)
	})
}
