package config

import (
	"fmt"
	"strings"

	"github.com/agentcore-proxy/agentcore-proxy/agentcore"
	"github.com/agentcore-proxy/agentcore-proxy/tokencache"
)

// More auth types: oauth is client_credentials by its contract name; sigv4
// signs every request with AWS credentials instead of sending a bearer.
const (
	AuthOAuth = "oauth"
	AuthSigV4 = "sigv4"
)

// SigV4 is a validated route signed with AWS Signature Version 4 for the
// AgentCore data plane, in the runtime ARN's region.
type SigV4 struct {
	// Profile is the shared-config profile ("": AWS_PROFILE or default).
	Profile string
	// Region is the signing region: the ARN's.
	Region string
}

// AWSSources says where in AWS a route's OAuth client comes from.
type AWSSources struct {
	// SSMPrefix, if set, holds PREFIX/machine_client_id,
	// PREFIX/cognito_secret and PREFIX/cognito_discovery_url; explicit
	// settings override the matching parameter.
	SSMPrefix string
	// SecretARN, if set, names the Secrets Manager secret holding the
	// client secret, itself or under SecretJSONKey of a JSON object.
	SecretARN     string
	SecretJSONKey string
	// Profile is the shared-config profile for these reads.
	Profile string

	// Source, set once the secret is read at start, yields the client
	// secret as it rotates (file, SSM, Secrets Manager).
	Source tokencache.SecretSource
	// Read lists what was read from AWS, for doctor: never values.
	Read []ReadParameter
}

// ReadParameter is one value read from SSM or Secrets Manager: where, and
// its type. Never the value.
type ReadParameter struct {
	Name string // full SSM path, or secretsmanager:ID#key
	Type string // String, SecureString, or SecretString
}

// Any reports whether anything of the client comes from AWS.
func (s AWSSources) Any() bool { return s.SSMPrefix != "" || s.SecretARN != "" }

// SecretFile returns the client secret file, "" if the secret comes from
// elsewhere.
func (a *ResolvedAuth) SecretFile() string { return a.secretFile }

// SecretEnv returns the environment variable holding the client secret, ""
// if it comes from elsewhere.
func (a *ResolvedAuth) SecretEnv() string {
	if a.secretFromEnv {
		return EnvClientSecret
	}
	return a.secretEnv
}

// hasAWSSources reports whether a takes any of the client from AWS.
func (a Auth) hasAWSSources() bool {
	return a.SSMPrefix != "" || a.ClientSecretARN != "" || a.ClientSecretJSONKey != ""
}

func (f RouteFlags) awsEmpty() bool {
	return f.Auth == "" && f.AWSProfile == "" && f.SSMPrefix == "" && f.ClientSecretARN == "" && f.ClientSecretJSONKey == ""
}

// resolveAWSSources checks the AWS sources of an OAuth client.
func resolveAWSSources(ra *ResolvedAuth, a Auth, f func(string, string) string) []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if a.SSMPrefix != "" && (!strings.HasPrefix(a.SSMPrefix, "/") || strings.ContainsAny(a.SSMPrefix, " \t\n")) {
		bad("%s %q: an SSM path starts with / and has no spaces, e.g. /app/mcp/calculator", f("auth.ssm_prefix", "--ssm-prefix"), a.SSMPrefix)
	}
	if a.ClientSecretJSONKey != "" && a.ClientSecretARN == "" {
		bad("%s applies only to %s: remove it, or name the secret", f("auth.client_secret_json_key", "--client-secret-json-key"), f("auth.client_secret_arn", "--client-secret-arn"))
	}
	if a.ClientSecretARN != "" && (a.ClientSecretFile != "" || a.ClientSecretEnv != "") {
		other := f("auth.client_secret_file", "--client-secret-file")
		if a.ClientSecretEnv != "" {
			other = f("auth.client_secret_env", "")
		}
		bad("%s and %s are both set: give one source of the client secret", f("auth.client_secret_arn", "--client-secret-arn"), other)
	}
	if a.AWSProfile != "" && !a.hasAWSSources() {
		bad("%s applies only to %s sigv4, %s and %s: remove it", f("auth.aws_profile", "--aws-profile"), f("auth.type", "--auth"), f("auth.ssm_prefix", "--ssm-prefix"), f("auth.client_secret_arn", "--client-secret-arn"))
	}
	ra.AWS = AWSSources{SSMPrefix: strings.TrimSuffix(a.SSMPrefix, "/"), SecretARN: a.ClientSecretARN,
		SecretJSONKey: a.ClientSecretJSONKey, Profile: a.AWSProfile}
	return errs
}

// resolveSigV4 checks a sigv4 route: an AgentCore runtime (the signing
// region is its ARN's), and no OAuth setting, which would never be used.
func resolveSigV4(res *Resolved, a Auth, f func(string, string) string) []error {
	var errs []error
	if res.ARN == nil && res.Upstream != nil {
		errs = append(errs, fmt.Errorf("%s sigv4 signs for an AgentCore runtime in its ARN's region: give %s instead of %s",
			f("auth.type", "--auth"), f("target.runtime_arn", "--runtime-arn"), f("target.upstream_url", "--upstream-url")))
	}
	if a.hasSettings() {
		var given []string
		for _, s := range []struct {
			set        bool
			yaml, flag string
		}{
			{a.ClientID != "", "auth.client_id", "--client-id"}, {a.DiscoveryURL != "", "auth.discovery_url", "--discovery-url"},
			{a.TokenURL != "", "auth.token_url", "--token-url"}, {a.Issuer != "", "auth.issuer", "--issuer"},
			{a.ClientSecretFile != "", "auth.client_secret_file", "--client-secret-file"},
			{a.ClientSecretEnv != "", "auth.client_secret_env", ""}, {a.secretFromEnv, "", EnvClientSecret},
			{len(a.Scopes) > 0, "auth.scopes", "--scope"}, {a.TokenAuthStyle != "", "auth.token_auth_style", "--token-auth-style"},
			{a.SSMPrefix != "", "auth.ssm_prefix", "--ssm-prefix"}, {a.ClientSecretARN != "", "auth.client_secret_arn", "--client-secret-arn"},
			{a.ClientSecretJSONKey != "", "auth.client_secret_json_key", "--client-secret-json-key"},
			{a.ClientKeyFile != "", "auth.client_key_file", "--client-key-file"}, {a.ClientKeyAlg != "", "auth.client_key_alg", "--client-key-alg"},
			{a.ClientKeyID != "", "auth.client_key_id", "--client-key-id"}, {a.ClientAssertionAud != "", "auth.client_assertion_aud", "--client-assertion-aud"},
			{a.Resource != nil, "auth.resource", "--resource"}, {a.Audience != "", "auth.audience", "--audience"},
			{len(a.TokenParams) > 0 || len(a.tokenParamFlags) > 0, "auth.token_params", "--token-param"},
			{a.StepUp != nil, "auth.step_up", "--step-up"},
		} {
			if s.set {
				given = append(given, f(s.yaml, s.flag))
			}
		}
		errs = append(errs, fmt.Errorf("%s sigv4 signs with AWS credentials and sends no bearer token, but OAuth settings are given (%s): remove them, or use %s oauth",
			f("auth.type", "--auth"), strings.Join(given, ", "), f("auth.type", "--auth")))
	}
	if res.ARN != nil {
		res.SigV4 = &SigV4{Profile: a.AWSProfile, Region: res.ARN.Region}
	}
	return errs
}

// Settings of AWS routes, named by Resolved.Names like the catalogue's.
const (
	SettingAuth                              = agentcore.SettingAuth
	SettingAWSProfile      agentcore.Setting = "aws_profile"
	SettingSSMPrefix       agentcore.Setting = "ssm_prefix"
	SettingClientSecretARN agentcore.Setting = "client_secret_arn"
	// SettingClientSecretFile is the file setting itself, unlike
	// agentcore.SettingClientSecret, which names every source of the
	// secret.
	SettingClientSecretFile    agentcore.Setting = "client_secret_file"
	SettingClientSecretJSONKey agentcore.Setting = "client_secret_json_key"
)

func init() {
	settingNames[SettingAuth] = [2]string{"auth.type", "--auth"}
	settingNames[SettingAWSProfile] = [2]string{"auth.aws_profile", "--aws-profile"}
	settingNames[SettingSSMPrefix] = [2]string{"auth.ssm_prefix", "--ssm-prefix"}
	settingNames[SettingClientSecretARN] = [2]string{"auth.client_secret_arn", "--client-secret-arn"}
	settingNames[SettingClientSecretFile] = [2]string{"auth.client_secret_file", "--client-secret-file"}
	settingNames[SettingClientSecretJSONKey] = [2]string{"auth.client_secret_json_key", "--client-secret-json-key"}
}
