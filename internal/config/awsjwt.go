package config

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/agentcore-proxy/agentcore-proxy/internal/awsjwt"
	"github.com/agentcore-proxy/agentcore-proxy/jwtcheck"
)

// AuthAWSJWT sends an AWS STS GetWebIdentityToken JWT as the bearer: no
// client secret (IAM outbound identity federation). "aws-jwt" is accepted
// as its spelling on the command line.
const AuthAWSJWT = "aws_jwt"

// AWSJWT is a validated aws_jwt route: the input of GetWebIdentityToken,
// called in the runtime ARN's region with the AWS credential chain.
type AWSJWT struct {
	// Audience is the token's aud. Empty only when the runtime's
	// configuration may supply it (its first allowedAudience); the route
	// fails to build if nothing does.
	Audience []string
	// Algorithm is RS256 or ES384.
	Algorithm string
	// Duration is the token's lifetime, 60 s to 1 h.
	Duration time.Duration
	// Tags become claims.
	Tags []awsjwt.Tag
	// Region is the STS region: the runtime ARN's.
	Region string
	// Profile is the shared-config profile of the credential chain.
	Profile string
	// DiscoveryURL, if given, is the runtime authorizer's discoveryUrl: the
	// token's issuer must match it.
	DiscoveryURL string
	// DiscoveryFromRuntime says DiscoveryURL was not given but read from the
	// runtime's authorizer (route.ReadRuntime).
	DiscoveryFromRuntime bool
}

// normalizeAuthType maps the command-line spelling aws-jwt to aws_jwt.
func normalizeAuthType(t string) string {
	if t == "aws-jwt" {
		return AuthAWSJWT
	}
	return t
}

// resolveAWSJWT checks an aws_jwt route: an AgentCore runtime (STS is
// called in its region), GetWebIdentityToken's limits, and no OAuth client
// setting, which the route would never use.
func resolveAWSJWT(res *Resolved, a Auth, rules Authorizer, f func(string, string) string) []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	mode := f("auth.type", "--auth") + " aws-jwt"
	if !strings.HasPrefix(mode, "--auth ") {
		mode = f("auth.type", "--auth") + " aws_jwt"
	}
	if res.ARN == nil && res.Upstream != nil {
		bad("%s gets an AWS STS token in the runtime's region: give %s instead of %s", mode,
			f("target.runtime_arn", "--runtime-arn"), f("target.upstream_url", "--upstream-url"))
	}
	var given []string
	for _, s := range []struct {
		set        bool
		yaml, flag string
	}{
		{a.ClientID != "", "auth.client_id", "--client-id"}, {a.TokenURL != "", "auth.token_url", "--token-url"},
		{a.Issuer != "", "auth.issuer", "--issuer"},
		{a.ClientSecretFile != "", "auth.client_secret_file", "--client-secret-file"},
		{a.ClientSecretEnv != "", "auth.client_secret_env", ""}, {a.secretFromEnv, "", EnvClientSecret},
		{len(a.Scopes) > 0, "auth.scopes", "--scope"}, {a.TokenAuthStyle != "", "auth.token_auth_style", "--token-auth-style"},
		{a.SSMPrefix != "", "auth.ssm_prefix", "--ssm-prefix"}, {a.ClientSecretARN != "", "auth.client_secret_arn", "--client-secret-arn"},
		{a.ClientSecretJSONKey != "", "auth.client_secret_json_key", "--client-secret-json-key"},
		{a.ClientKeyFile != "", "auth.client_key_file", "--client-key-file"}, {a.ClientKeyAlg != "", "auth.client_key_alg", "--client-key-alg"},
		{a.ClientKeyID != "", "auth.client_key_id", "--client-key-id"}, {a.ClientAssertionAud != "", "auth.client_assertion_aud", "--client-assertion-aud"},
		{a.Resource != nil, "auth.resource", "--resource"},
		{len(a.TokenParams) > 0 || len(a.tokenParamFlags) > 0, "auth.token_params", "--token-param"},
		{a.StepUp != nil, "auth.step_up", "--step-up"},
	} {
		if s.set {
			given = append(given, f(s.yaml, s.flag))
		}
	}
	if len(given) > 0 {
		bad("%s needs no OAuth client and no secret, but client settings are given (%s): remove them, or use %s oauth",
			mode, strings.Join(given, ", "), f("auth.type", "--auth"))
	}
	if len(rules.AllowedClients) > 0 {
		bad("%s: STS web identity tokens carry no client_id, so an allowedClients rule never holds: remove %s and trust the token by %s",
			f("authorizer.allowed_clients", "--allowed-client"), f("authorizer.allowed_clients", "--allowed-client"), f("authorizer.allowed_audience", "--allowed-audience"))
	}
	cfg := &AWSJWT{Algorithm: a.AWSJWTAlg, Duration: a.AWSJWTDuration, Profile: a.AWSProfile, DiscoveryURL: a.DiscoveryURL}
	if a.Audience != "" {
		cfg.Audience = []string{a.Audience}
	}
	if cfg.Algorithm == "" {
		cfg.Algorithm = awsjwt.RS256
	}
	if cfg.Duration == 0 {
		cfg.Duration = awsjwt.DefaultDuration
	}
	if res.ARN != nil {
		cfg.Region = res.ARN.Region
	}
	tags, terrs := parseTags(a, f)
	errs = append(errs, terrs...)
	cfg.Tags = tags
	if a.DiscoveryURL != "" && !strings.HasSuffix(a.DiscoveryURL, awsjwt.DiscoveryPath) {
		bad("%s %q: with %s it is the runtime authorizer's discoveryUrl, the STS issuer + %s (aws iam get-outbound-web-identity-federation-info names the issuer)",
			f("auth.discovery_url", "--discovery-url"), a.DiscoveryURL, mode, awsjwt.DiscoveryPath)
	}
	// GetWebIdentityToken's own limits, in the user's words.
	check := awsjwt.Config{Region: cfg.Region, Audience: cfg.Audience, Algorithm: cfg.Algorithm, Duration: cfg.Duration, Tags: cfg.Tags}
	if len(check.Audience) == 0 {
		check.Audience = []string{"placeholder"} // a missing audience is reported below
	}
	if check.Region == "" {
		check.Region = "us-west-2" // a missing ARN is reported by the target's checks
	}
	for _, e := range unwrapJoined(check.Validate()) {
		fe, ok := e.(*awsjwt.FieldError)
		if !ok {
			errs = append(errs, e)
			continue
		}
		switch fe.Field {
		case "Algorithm":
			bad("%s %q: want RS256 or ES384", f("auth.aws_jwt_alg", "--aws-jwt-alg"), fe.Value)
		case "Duration":
			bad("%s %s: want whole seconds from 60s to 1h (STS's limits), e.g. 15m", f("auth.aws_jwt_duration", "--aws-jwt-duration"), fe.Value)
		case "Tags":
			v := ""
			if fe.Value != "" {
				v = fmt.Sprintf(" %q", fe.Value)
			}
			bad("%s%s: %s", f("auth.aws_jwt_tags", "--aws-jwt-tag"), v, fe.Problem)
		default:
			bad("%s: %s", f("auth.audience", "--audience"), fe.Problem)
		}
	}
	if len(cfg.Audience) == 0 {
		switch {
		case len(rules.AllowedAudience) > 0:
			cfg.Audience = []string{rules.AllowedAudience[0]}
		case res.ARN != nil && res.RuntimeConfig != RuntimeConfigOff:
			// The runtime's first allowedAudience fills it at start
			// (route.ReadRuntime); the route fails to build if nothing does.
		default:
			bad("%s is empty: with %s give the audience the runtime's authorizer allows (its allowedAudience), e.g. %s my-runtime",
				f("auth.audience", "--audience"), mode, f("auth.audience", "--audience"))
		}
	}
	res.AWSJWT = cfg
	res.Rules = jwtcheck.Rules{AllowedAudience: slices.Clone(rules.AllowedAudience), AllowedScopes: slices.Clone(rules.AllowedScopes)}
	for _, c := range rules.CustomClaims {
		res.Rules.CustomClaims = append(res.Rules.CustomClaims, jwtcheck.CustomClaim{Name: c.Name, Type: c.Type, Operator: c.Operator, Values: c.Values})
	}
	if len(res.Rules.AllowedAudience) == 0 {
		res.Rules.AllowedAudience = slices.Clone(cfg.Audience)
	}
	if err := res.Rules.Validate(); err != nil {
		bad("%s: %v", f("authorizer", "--allowed-audience/--allowed-scope"), err)
	}
	return errs
}

// parseTags reads aws_jwt_tags (YAML, a map) or --aws-jwt-tag key=value
// (repeatable), in a stable order.
func parseTags(a Auth, f func(string, string) string) ([]awsjwt.Tag, []error) {
	var tags []awsjwt.Tag
	var errs []error
	for _, k := range slicesSorted(a.AWSJWTTags) {
		tags = append(tags, awsjwt.Tag{Key: k, Value: a.AWSJWTTags[k]})
	}
	for _, kv := range a.awsJWTTagFlags {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			errs = append(errs, fmt.Errorf("%s %q: want key=value, e.g. team=payments", f("auth.aws_jwt_tags", "--aws-jwt-tag"), kv))
			continue
		}
		tags = append(tags, awsjwt.Tag{Key: k, Value: v})
	}
	return tags, errs
}

func slicesSorted(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// unwrapJoined returns the errors errors.Join joined, or err alone.
func unwrapJoined(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// awsJWTEmpty reports whether no aws-jwt flag was given.
func (f RouteFlags) awsJWTEmpty() bool {
	return f.AWSJWTAlg == "" && f.AWSJWTDuration == 0 && len(f.AWSJWTTags) == 0
}

// hasAWSJWTSettings reports whether any aws_jwt setting is given.
func (a Auth) hasAWSJWTSettings() bool {
	return a.AWSJWTAlg != "" || a.AWSJWTDuration != 0 || len(a.AWSJWTTags) > 0 || len(a.awsJWTTagFlags) > 0
}
