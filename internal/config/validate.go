package config

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/agentcore-proxy/agentcore-proxy/agentcore"
	"github.com/agentcore-proxy/agentcore-proxy/jwtcheck"
	"github.com/agentcore-proxy/agentcore-proxy/proxy"
	"github.com/agentcore-proxy/agentcore-proxy/tokencache"
)

// Resolved is a validated route, ready to serve.
type Resolved struct {
	Name string
	Path string
	// Upstream is the fixed URL requests go to (RawPath set for an ARN).
	Upstream *url.URL
	// ARN is set for AgentCore targets.
	ARN *agentcore.RuntimeARN
	// Qualifier is the AgentCore endpoint name (ARN targets only).
	Qualifier string
	// Auth is nil for routes without a client_credentials token (none,
	// sigv4, aws_jwt).
	Auth *ResolvedAuth
	// AWSJWT is set for routes whose bearer is an AWS STS web identity
	// token (awsjwt.go).
	AWSJWT *AWSJWT
	// SigV4 is set for routes whose requests are signed with AWS
	// credentials (aws.go).
	SigV4 *SigV4
	// Rules are the authorizer's rules the proxy checks each token against
	// (routes with auth only). With none configured, AllowedClients is the
	// route's client id, as on a runtime set up the usual way, and
	// RulesDefaulted is set: the runtime's own rules replace that guess.
	Rules          jwtcheck.Rules
	RulesDefaulted bool
	// RuntimeConfig is how an ARN route reads the runtime's configuration
	// at start: auto, off or required (runtimeconfig's modes).
	RuntimeConfig string
	// AuthFromRuntime marks an ARN route that names no auth: the runtime's
	// configuration decides at start (SigV4 for an IAM runtime), reading
	// it, and signing, with the AWS profile AuthFromRuntimeProfile.
	AuthFromRuntime        bool
	AuthFromRuntimeProfile string

	// names renders settings in the words the user wrote them in.
	names agentcore.Namer
}

// Names returns how the user wrote each setting of this route: a flag for
// the route the serve flags describe, a YAML key of the route otherwise. It
// renders the fixes of explanations (agentcore.Render).
func (r Resolved) Names() agentcore.Namer {
	if r.names == nil {
		return agentcore.PlainNames
	}
	return r.names
}

// ResolvedAuth is a validated client_credentials setup. The secret is read
// by ReadSecrets.
type ResolvedAuth struct {
	DiscoveryURL string
	// DiscoveryFromRuntime says DiscoveryURL was not given but read from the
	// runtime's authorizer (route.ReadRuntime).
	DiscoveryFromRuntime bool
	TokenURL             string
	ClientID             string
	Secret               string
	Scopes               []string
	PostAuth             bool

	// Issuer is the issuer of the authorization server the client's
	// credentials belong to: discovery sends them only to it (see
	// internal/server's trust rule). "" when not given.
	Issuer string
	// AuthStyle is how the client authenticates; StyleGiven says the user
	// chose it (else it follows the key and the metadata).
	AuthStyle  tokencache.AuthStyle
	StyleGiven bool
	// ClientKey signs private_key_jwt assertions; ReadSecrets loads it.
	ClientKey *tokencache.ClientKey
	// AssertionAud is "" (the issuer), "token_endpoint" or a URL.
	AssertionAud string
	// Resource is nil when not given (the discovered resource applies),
	// else the resource to send ("" sends none).
	Resource *string
	Audience string
	Params   url.Values
	// AWS holds where the client comes from in AWS, if anywhere (aws.go).
	AWS AWSSources
	// NoStepUp turns off step-up: a 403 insufficient_scope goes to the
	// client as it came.
	NoStepUp bool

	keyFile, keyAlg, keyID string
	secretFile, secretEnv  string
	secretFromEnv          bool
	// names of the fields, for messages after validation
	field func(yamlField, flag string) string
}

var (
	routeNameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)
	qualifierRe = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9_]{0,47}$`)
)

// reservedPaths are served by the proxy itself.
var reservedPaths = []string{"/", "/healthz", "/readyz", "/metrics", "/status"}

// Validate checks the whole configuration and returns every problem joined,
// or the resolved routes. It does no I/O: secrets are read by ReadSecrets.
func (c *Config) Validate(getenv func(string) string) ([]Resolved, error) {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if c.Listen == "" {
		bad("%s is empty: give host:port, e.g. 127.0.0.1:8080", c.fieldName(-1, "listen", "--listen"))
	} else if path, ok := strings.CutPrefix(c.Listen, "unix:"); ok {
		if !strings.HasPrefix(path, "/") {
			bad("%s %q: a unix socket needs an absolute path, e.g. unix:/run/agentcore-proxy.sock", c.fieldName(-1, "listen", "--listen"), c.Listen)
		}
	} else if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		bad("%s %q: not host:port (e.g. 127.0.0.1:8080) or unix:/path", c.fieldName(-1, "listen", "--listen"), c.Listen)
	}
	if c.BodyReadTimeout < 0 {
		bad("--config %s: body_read_timeout %s: want a positive duration such as 30s", c.file, c.BodyReadTimeout)
	}
	mode := c.RuntimeConfig
	switch mode {
	case "":
		mode = RuntimeConfigAuto
	case RuntimeConfigAuto, RuntimeConfigOff, RuntimeConfigRequired:
	default:
		bad("%s %q: want auto (read the runtime's configuration when AWS credentials allow), off or required", c.fieldName(-1, "runtime_config", "--runtime-config"), c.RuntimeConfig)
	}
	if len(c.Routes) == 0 {
		if c.fromFlags {
			bad("no route: give --runtime-arn (an AgentCore runtime) or --upstream-url (a plain MCP URL), or --config FILE")
		} else {
			bad("--config %s: routes is empty: declare at least one route with name, path, target and auth", c.file)
		}
	}
	var out []Resolved
	names, paths := map[string]bool{}, map[string]bool{}
	// mux registers the route paths next to the proxy's own patterns, as
	// the server will, to catch what would make it panic at start.
	mux := http.NewServeMux()
	for _, p := range []string{"GET /healthz", "GET /readyz", "GET /metrics", "GET /{$}", "GET /status", "/"} {
		mux.Handle(p, http.NotFoundHandler())
	}
	for i, r := range c.Routes {
		f := func(yamlField, flag string) string { return c.fieldName(i, yamlField, flag) }
		res := Resolved{Name: r.Name, Path: r.Path, names: c.namer(i, r), RuntimeConfig: mode}
		switch {
		case !routeNameRe.MatchString(r.Name):
			bad("%s %q: want lower-case letters, digits, - and _ (e.g. calculator)", f("name", ""), r.Name)
		case names[r.Name]:
			bad("%s %q: another route has this name; names must be unique", f("name", ""), r.Name)
		}
		names[r.Name] = true
		switch {
		case !strings.HasPrefix(r.Path, "/") || strings.ContainsAny(r.Path, "?#") || strings.ContainsFunc(r.Path, isSpaceOrControl):
			bad("%s %q (route %s): want an absolute path such as /%s/mcp, without spaces", f("path", ""), r.Path, r.Name, r.Name)
		case strings.ContainsAny(r.Path, "{}"):
			bad("%s %q (route %s): { and } are not allowed in a route path (Go's request patterns read them as wildcards); use a literal path such as /%s/mcp", f("path", ""), r.Path, r.Name, r.Name)
		case slices.Contains(reservedPaths, r.Path):
			bad("%s %q: reserved for the proxy itself (%s); choose another, e.g. /%s/mcp", f("path", ""), r.Path, strings.Join(reservedPaths, ", "), r.Name)
		case paths[r.Path]:
			bad("%s %q: another route has this path; paths must be unique", f("path", ""), r.Path)
		case !servable(mux, r.Path):
			bad("%s %q (route %s): it matches the same requests as another route's path (percent-escapes are decoded), or is no path the proxy can serve; use a literal path such as /%s/mcp", f("path", ""), r.Path, r.Name, r.Name)
		}
		paths[r.Path] = true

		errs = append(errs, resolveTarget(&res, r.Target, f, getenv)...)
		if r.Auth.Kind() == AuthAWSJWT {
			errs = append(errs, resolveAWSJWT(&res, r.Auth, r.Authorizer, f)...)
		} else {
			errs = append(errs, resolveAuth(&res, r.Auth, f, c.fromFlags)...)
			errs = append(errs, resolveRules(&res, r.Authorizer, f)...)
		}
		out = append(out, res)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// isSpaceOrControl reports the runes a route path must not hold: HTTP
// request targets have no whitespace or control characters.
func isSpaceOrControl(r rune) bool { return r <= ' ' || r == 0x7f }

// servable registers path in mux as the server registers each route's
// path, and reports whether ServeMux accepted it: it panics on a pattern it
// cannot parse or one that matches the same requests as another, which
// must be a configuration error instead.
func servable(mux *http.ServeMux, path string) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	mux.Handle(path, http.NotFoundHandler())
	return true
}

func resolveTarget(res *Resolved, t Target, f func(string, string) string, getenv func(string) string) []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	switch {
	case t.RuntimeARN != "" && t.UpstreamURL != "":
		bad("%s and %s are both set: give one (an AgentCore runtime, or a plain MCP URL)", f("target.runtime_arn", "--runtime-arn"), f("target.upstream_url", "--upstream-url"))
		return errs
	case t.RuntimeARN == "" && t.UpstreamURL == "":
		bad("%s: give %s (an AgentCore runtime) or %s (a plain MCP URL)", f("target", "target"), f("target.runtime_arn", "--runtime-arn"), f("target.upstream_url", "--upstream-url"))
		return errs
	case t.UpstreamURL != "":
		if t.Qualifier != "" || t.EndpointURL != "" {
			bad("%s and %s apply only to %s; remove them for an upstream URL", f("target.qualifier", "--qualifier"), f("target.endpoint_url", "--endpoint-url"), f("target.runtime_arn", "--runtime-arn"))
		}
		u, err := proxy.CheckSecureURL(t.UpstreamURL)
		if err != nil {
			bad("%s %q: %v", f("target.upstream_url", "--upstream-url"), t.UpstreamURL, err)
			return errs
		}
		res.Upstream = u
		return errs
	}
	arn, err := agentcore.ParseRuntimeARN(t.RuntimeARN)
	if err != nil {
		bad("%s %q: %v", f("target.runtime_arn", "--runtime-arn"), t.RuntimeARN, strings.TrimPrefix(err.Error(), "agentcore: "))
		return errs
	}
	res.ARN = &arn
	res.Qualifier = t.Qualifier
	if res.Qualifier == "" {
		res.Qualifier = "DEFAULT"
	}
	if !qualifierRe.MatchString(res.Qualifier) {
		bad("%s %q: an endpoint name starts with a letter and has up to 48 letters, digits and _ (default DEFAULT)", f("target.qualifier", "--qualifier"), t.Qualifier)
	}
	endpoint, endpointField := t.EndpointURL, f("target.endpoint_url", "--endpoint-url")
	if endpoint == "" && getenv != nil {
		if v := getenv("AWS_ENDPOINT_URL_BEDROCK_AGENTCORE"); v != "" {
			endpoint, endpointField = v, "AWS_ENDPOINT_URL_BEDROCK_AGENTCORE"
		}
	}
	if endpoint == "" {
		endpoint = arn.DefaultEndpoint()
	}
	eu, err := proxy.CheckSecureURL(endpoint)
	if err != nil {
		bad("%s %q: %v", endpointField, endpoint, err)
		return errs
	}
	if region, ok := agentcore.EndpointRegion(eu.Hostname()); ok && region != arn.Region {
		bad("%s %q is in region %s but the runtime ARN is in %s: AgentCore answers 404 \"No endpoint or agent found\"; use https://bedrock-agentcore.%s.amazonaws.com", endpointField, endpoint, region, arn.Region, arn.Region)
	}
	if eu.RawQuery != "" || eu.Fragment != "" {
		bad("%s %q: give only scheme, host and optional path prefix (no query)", endpointField, endpoint)
	}
	res.Upstream, err = agentcore.InvocationURL(endpoint, arn, res.Qualifier)
	if err != nil {
		bad("%s %q: %v", endpointField, endpoint, err)
	}
	return errs
}

func resolveAuth(res *Resolved, a Auth, f func(string, string) string, fromFlags bool) []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if a.hasAWSJWTSettings() {
		bad("%s, %s and %s apply only to %s aws-jwt: remove them, or choose that mode", f("auth.aws_jwt_alg", "--aws-jwt-alg"),
			f("auth.aws_jwt_duration", "--aws-jwt-duration"), f("auth.aws_jwt_tags", "--aws-jwt-tag"), f("auth.type", "--auth"))
	}
	switch a.Kind() {
	case AuthSigV4:
		if len(errs) > 0 {
			return append(errs, resolveSigV4(res, a, f)...)
		}
		return resolveSigV4(res, a, f)
	case AuthNone:
		if res.ARN != nil && a.Type == "" && res.RuntimeConfig != RuntimeConfigOff {
			// Decided at start from the runtime: SigV4 for an IAM runtime.
			res.AuthFromRuntime, res.AuthFromRuntimeProfile = true, a.AWSProfile
			return errs
		}
		if res.ARN != nil {
			bad("%s: an AgentCore runtime needs a bearer token or AWS signing: give %s and %s (or %s; the authorization server is found from the runtime, or give %s), or %s sigv4", f("auth", "no auth"), f("auth.client_id", "--client-id"), f("auth.client_secret_file", "--client-secret-file"), f("auth.ssm_prefix", "--ssm-prefix"), f("auth.discovery_url", "--discovery-url"), f("auth.type", "--auth"))
		}
		if a.hasSettings() {
			bad("%s is none but other auth settings are given: remove them, or set it to oauth", f("auth.type", "--auth"))
		}
		return errs
	case AuthClientCredentials, AuthOAuth:
	default:
		bad("%s %q: want oauth (alias client_credentials), sigv4, aws-jwt or none", f("auth.type", "--auth"), a.Type)
		return errs
	}
	ra := &ResolvedAuth{ClientID: a.ClientID, Scopes: a.Scopes, secretFile: a.ClientSecretFile, secretEnv: a.ClientSecretEnv, secretFromEnv: a.secretFromEnv, field: f,
		NoStepUp: a.StepUp != nil && !*a.StepUp}
	errs = append(errs, resolveAWSSources(ra, a, f)...)
	if a.ClientID == "" && a.SSMPrefix == "" {
		bad("%s is empty: give the app client id of the M2M client (Cognito console: App integration > App clients)", f("auth.client_id", "--client-id"))
	}
	keyed := a.TokenAuthStyle == "private_key_jwt" || (a.TokenAuthStyle == "" && a.ClientKeyFile != "")
	if keyed {
		ra.secretFromEnv = false // a secret in the environment is not needed
	}
	if !keyed && a.ClientSecretFile == "" && a.ClientSecretEnv == "" && !a.secretFromEnv && a.ClientSecretARN == "" && a.SSMPrefix == "" {
		if fromFlags {
			bad("no client secret: give --client-secret-file FILE, --client-secret-arn ARN or --ssm-prefix PREFIX, or set %s", EnvClientSecret)
		} else {
			bad("%s: give client_secret_file or client_secret_env (secrets never go in the YAML file)", f("auth", ""))
		}
	}
	if a.ClientSecretFile != "" && a.ClientSecretEnv != "" {
		bad("%s and %s are both set: give one", f("auth.client_secret_file", "--client-secret-file"), f("auth.client_secret_env", ""))
	}
	// No discovery URL and no token URL: discovery starts from the
	// upstream's 401 (RFC 9728) when the route is built.
	if a.DiscoveryURL != "" {
		if _, err := proxy.CheckSecureURL(a.DiscoveryURL); err != nil {
			bad("%s %q: %v", f("auth.discovery_url", "--discovery-url"), a.DiscoveryURL, err)
		}
	}
	if a.TokenURL != "" {
		if _, err := proxy.CheckSecureURL(a.TokenURL); err != nil {
			bad("%s %q: %v", f("auth.token_url", "--token-url"), a.TokenURL, err)
		}
	}
	errs = append(errs, resolveIssuer(a, f)...)
	for _, s := range a.Scopes {
		if s == "" || strings.ContainsAny(s, " \t\n\"\\") {
			bad("%s %q: a scope has no spaces or quotes; give each one separately, e.g. default-m2m-resource-server/read", f("auth.scopes", "--scope"), s)
		}
	}
	errs = append(errs, resolveTokenRequest(ra, a, f, keyed)...)
	ra.DiscoveryURL, ra.TokenURL, ra.Issuer = a.DiscoveryURL, a.TokenURL, a.Issuer
	res.Auth = ra
	return errs
}

// resolveIssuer checks the issuer setting: an https URL (or http on a
// loopback host) without query or fragment, as RFC 8414 §2 has it, and
// only where discovery happens.
func resolveIssuer(a Auth, f func(string, string) string) []error {
	if a.Issuer == "" {
		return nil
	}
	field := f("auth.issuer", "--issuer")
	u, err := proxy.CheckSecureURL(a.Issuer)
	switch {
	case err != nil:
		return []error{fmt.Errorf("%s %q: %v", field, a.Issuer, err)}
	case u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		return []error{fmt.Errorf("%s %q: an issuer has no query or fragment (RFC 8414 §2); give the authorization server's issuer, e.g. https://cognito-idp.REGION.amazonaws.com/POOL_ID", field, a.Issuer)}
	case a.TokenURL != "" && a.DiscoveryURL == "" && a.SSMPrefix == "":
		return []error{fmt.Errorf("%s applies to discovery, and with %s alone nothing is discovered: remove it, or give %s", field,
			f("auth.token_url", "--token-url"), f("auth.discovery_url", "--discovery-url"))}
	}
	return nil
}

func resolveRules(res *Resolved, a Authorizer, f func(string, string) string) []error {
	rules := jwtcheck.Rules{AllowedClients: a.AllowedClients, AllowedAudience: a.AllowedAudience, AllowedScopes: a.AllowedScopes}
	for _, c := range a.CustomClaims {
		rules.CustomClaims = append(rules.CustomClaims, jwtcheck.CustomClaim{Name: c.Name, Type: c.Type, Operator: c.Operator, Values: c.Values})
	}
	empty := len(rules.AllowedClients)+len(rules.AllowedAudience)+len(rules.AllowedScopes)+len(rules.CustomClaims) == 0
	if res.Auth == nil {
		if !empty {
			return []error{fmt.Errorf("%s: authorizer rules apply only to a route with auth (a client id): remove them or add auth", f("authorizer", "--allowed-client"))}
		}
		return nil
	}
	if err := rules.Validate(); err != nil {
		return []error{fmt.Errorf("%s: %w", f("authorizer", "--allowed-client/--allowed-audience/--allowed-scope"), err)}
	}
	if empty && res.Auth.ClientID != "" {
		rules.AllowedClients = []string{res.Auth.ClientID}
		res.RulesDefaulted = true
	}
	res.Rules = rules
	return nil
}

// fieldName names a setting: the flag for flag-made routes, else
// "--config FILE: routes[i].field".
func (c *Config) fieldName(i int, yamlField, flag string) string {
	if c.fromFlags && flag != "" {
		return flag
	}
	if i < 0 {
		return fmt.Sprintf("--config %s: %s", c.file, yamlField)
	}
	return fmt.Sprintf("--config %s: routes[%d].%s", c.file, i, yamlField)
}

// ReadSecrets reads each route's client secret from its file or environment
// variable, and returns every problem joined.
func ReadSecrets(routes []Resolved, getenv func(string) string) error {
	var errs []error
	for i := range routes {
		a := routes[i].Auth
		if a == nil {
			continue
		}
		var secret string
		switch {
		case a.secretFile != "":
			b, err := os.ReadFile(a.secretFile)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s %q: %w (the file must hold the app client's secret)", a.field("auth.client_secret_file", "--client-secret-file"), a.secretFile, unwrapPath(err)))
				continue
			}
			secret = strings.TrimSpace(string(b))
			if secret == "" {
				errs = append(errs, fmt.Errorf("%s %q is empty: it must hold the app client's secret", a.field("auth.client_secret_file", "--client-secret-file"), a.secretFile))
				continue
			}
		case a.secretEnv != "":
			secret = strings.TrimSpace(getenv(a.secretEnv))
			if secret == "" {
				errs = append(errs, fmt.Errorf("%s: environment variable %s is empty or unset", a.field("auth.client_secret_env", ""), a.secretEnv))
				continue
			}
		case a.secretFromEnv:
			secret = strings.TrimSpace(getenv(EnvClientSecret))
		}
		a.Secret = secret
		if err := a.loadKey(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// unwrapPath drops *fs.PathError's repetition of the path.
func unwrapPath(err error) error {
	if u := errors.Unwrap(err); u != nil {
		return u
	}
	return err
}

// settingNames are the YAML key and the flag of each setting.
var settingNames = map[agentcore.Setting][2]string{
	agentcore.SettingRuntimeARN:   {"target.runtime_arn", "--runtime-arn"},
	agentcore.SettingQualifier:    {"target.qualifier", "--qualifier"},
	agentcore.SettingEndpointURL:  {"target.endpoint_url", "--endpoint-url"},
	agentcore.SettingUpstreamURL:  {"target.upstream_url", "--upstream-url"},
	agentcore.SettingDiscoveryURL: {"auth.discovery_url", "--discovery-url"},
	agentcore.SettingTokenURL:     {"auth.token_url", "--token-url"},
	agentcore.SettingClientID:     {"auth.client_id", "--client-id"},
	agentcore.SettingClientSecret: {"auth.client_secret_file", "--client-secret-file"},
	agentcore.SettingScope:        {"auth.scopes", "--scope"},
	agentcore.SettingMaxBodyBytes: {"", "--max-body-bytes"},

	agentcore.SettingTokenAuthStyle: {"auth.token_auth_style", "--token-auth-style"},
	agentcore.SettingClientKey:      {"auth.client_key_file", "--client-key-file"},
	agentcore.SettingAssertionAud:   {"auth.client_assertion_aud", "--client-assertion-aud"},
	agentcore.SettingResource:       {"auth.resource", "--resource"},
	agentcore.SettingAudience:       {"auth.audience", "--audience"},
	agentcore.SettingStepUp:         {"auth.step_up", "--step-up"},
	agentcore.SettingIssuer:         {"auth.issuer", "--issuer"},
	// A top-level key: named in the namer, not as a route's.
	agentcore.SettingBodyReadTimeout: {"", "--body-read-timeout"},
}

// FlagNames names each setting by its serve flag, e.g. --client-id.
func FlagNames(s agentcore.Setting) string {
	if n, ok := settingNames[s]; ok {
		return n[1]
	}
	return string(s)
}

// namer returns the Namer of route i: flags for the flag-made route, else
// "auth.client_id (route NAME in FILE)". The client secret is named by
// where it came from.
func (c *Config) namer(i int, r Route) agentcore.Namer {
	return func(s agentcore.Setting) string {
		n, ok := settingNames[s]
		if !ok {
			return string(s)
		}
		if s == agentcore.SettingClientSecret {
			switch {
			case c.fromFlags:
				return "--client-secret-file / " + EnvClientSecret
			case !c.fromFlags && r.Auth.ClientSecretEnv != "":
				n[0] = "auth.client_secret_env (" + r.Auth.ClientSecretEnv + ")"
			}
		}
		if s == agentcore.SettingBodyReadTimeout && !c.fromFlags {
			return fmt.Sprintf("%s (or body_read_timeout in %s)", n[1], c.file)
		}
		if s == SettingRuntimeConfig && !c.fromFlags {
			return c.runtimeConfigName()
		}
		if c.fromFlags || n[0] == "" {
			return n[1]
		}
		return fmt.Sprintf("%s (route %s in %s)", n[0], r.Name, c.file)
	}
}
