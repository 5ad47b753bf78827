package cli

import (
	"flag"

	"github.com/agentcore-proxy/agentcore-proxy/internal/config"
)

// registerAWSFlags adds the flags of AWS signing and of an OAuth client
// kept in SSM Parameter Store or Secrets Manager.
func registerAWSFlags(fs *flag.FlagSet, rf *config.RouteFlags) {
	fs.StringVar(&rf.Auth, "auth", "", "how the upstream authenticates requests (`mode`): oauth (a bearer token, client_credentials),\nsigv4 (AWS Signature V4 with the AWS credential chain, for a runtime without a JWT authorizer)\naws-jwt (an AWS STS web identity token for the AWS credential chain's identity: no client secret)\nor none; default oauth when OAuth settings are given, none otherwise")
	fs.StringVar(&rf.AWSProfile, "aws-profile", "", "AWS shared-config `profile` for signing, STS web identity tokens and SSM / Secrets Manager (default AWS_PROFILE, else default)")
	fs.StringVar(&rf.SSMPrefix, "ssm-prefix", "", "read the OAuth client from SSM Parameter Store: `PREFIX`/machine_client_id, PREFIX/cognito_secret\n(SecureString) and PREFIX/cognito_discovery_url; explicit flags override the matching parameter")
	fs.StringVar(&rf.ClientSecretARN, "client-secret-arn", "", "Secrets Manager secret (`ARN or name`) holding the client secret, itself or as JSON {\"client_secret\": ...}")
	fs.StringVar(&rf.AWSJWTAlg, "aws-jwt-alg", "", "with --auth aws-jwt: the token's signing `algorithm`, RS256 or ES384 (default RS256)")
	fs.DurationVar(&rf.AWSJWTDuration, "aws-jwt-duration", 0, "with --auth aws-jwt: the token's `lifetime`, 60s to 1h (default 15m); it is refreshed ahead of expiry")
	fs.Var((*listFlag)(&rf.AWSJWTTags), "aws-jwt-tag", "with --auth aws-jwt: a `key=value` tag STS adds to the token as a claim (repeatable, at most 50)")
	fs.StringVar(&rf.ClientSecretJSONKey, "client-secret-json-key", "", "with --client-secret-arn: the JSON `key` holding the client secret (default client_secret)")
}
