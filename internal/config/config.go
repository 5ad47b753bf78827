// Package config holds agentcore-proxy's route configuration: the YAML file
// format, the single route the serve flags describe, and validation that
// reports every problem at once, each naming the flag or YAML field at fault
// and how to fix it.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Config is the whole configuration: where to listen and the routes.
type Config struct {
	Listen string `yaml:"listen"`
	// BodyReadTimeout bounds how long a request body may take to arrive
	// (--body-read-timeout); 0: the flag's value.
	BodyReadTimeout time.Duration `yaml:"body_read_timeout"`
	Routes          []Route       `yaml:"routes"`
	// RuntimeConfig says whether routes to a runtime ARN read the runtime's
	// configuration at start (--runtime-config): auto (default), off or
	// required.
	RuntimeConfig string `yaml:"runtime_config"`

	// fromFlags says the routes came from flags, so that problems name
	// flags rather than YAML fields.
	fromFlags bool
	// file is the YAML file's name, for messages.
	file string
}

// Route maps one local path to one upstream MCP server.
type Route struct {
	Name   string `yaml:"name"`
	Path   string `yaml:"path"`
	Target Target `yaml:"target"`
	Auth   Auth   `yaml:"auth"`
	// Authorizer mirrors the runtime's customJWTAuthorizer, so that the
	// proxy can check each token before AgentCore does.
	Authorizer Authorizer `yaml:"authorizer"`
}

// Authorizer is the runtime's inbound JWT authorizer configuration. With no
// rule at all, the proxy expects allowedClients = [the route's client id].
type Authorizer struct {
	AllowedClients  []string      `yaml:"allowed_clients"`
	AllowedAudience []string      `yaml:"allowed_audience"`
	AllowedScopes   []string      `yaml:"allowed_scopes"`
	CustomClaims    []CustomClaim `yaml:"custom_claims"`
}

// CustomClaim is one customClaims rule: the claim, its type (STRING or
// STRING_ARRAY), the operator (EQUALS, CONTAINS, CONTAINS_ANY) and the
// value(s).
type CustomClaim struct {
	Name     string   `yaml:"name"`
	Type     string   `yaml:"type"`
	Operator string   `yaml:"operator"`
	Values   []string `yaml:"values"`
}

// Target is where a route's requests go: an AgentCore runtime (ARN,
// qualifier, endpoint) or a plain MCP URL.
type Target struct {
	RuntimeARN  string `yaml:"runtime_arn"`
	Qualifier   string `yaml:"qualifier"`
	EndpointURL string `yaml:"endpoint_url"`
	UpstreamURL string `yaml:"upstream_url"`
}

// Auth types.
const (
	AuthClientCredentials = "client_credentials"
	AuthNone              = "none"
)

// Auth is how a route obtains its bearer token.
type Auth struct {
	// Type is oauth (alias client_credentials), sigv4 or none. Empty means
	// client_credentials when any other auth setting is given, none
	// otherwise.
	Type         string `yaml:"type"`
	DiscoveryURL string `yaml:"discovery_url"`
	TokenURL     string `yaml:"token_url"`
	// Issuer is the issuer of the authorization server the client's
	// credentials belong to. Discovery from the upstream sends them to a
	// server it names only if it is this issuer (else: only on the
	// upstream's host, or for a runtime ARN); with discovery_url, the
	// document's issuer must be this.
	Issuer           string   `yaml:"issuer"`
	ClientID         string   `yaml:"client_id"`
	ClientSecretFile string   `yaml:"client_secret_file"`
	ClientSecretEnv  string   `yaml:"client_secret_env"`
	Scopes           []string `yaml:"scopes"`
	// TokenAuthStyle is basic (client_secret_basic), post
	// (client_secret_post) or private_key_jwt. Empty: private_key_jwt with
	// a client key file, else what the metadata lists (basic first).
	TokenAuthStyle string `yaml:"token_auth_style"`
	// ClientKeyFile, ClientKeyAlg and ClientKeyID are the private key that
	// signs private_key_jwt client assertions, its JWS algorithm and kid.
	ClientKeyFile string `yaml:"client_key_file"`
	ClientKeyAlg  string `yaml:"client_key_alg"`
	ClientKeyID   string `yaml:"client_key_id"`
	// ClientAssertionAud is the assertions' aud: empty for the issuer,
	// token_endpoint, or a URL.
	ClientAssertionAud string `yaml:"client_assertion_aud"`
	// Resource is the RFC 8707 resource parameter; unset takes the
	// discovered protected resource's, "" sends none.
	Resource *string `yaml:"resource"`
	// Audience is the audience parameter (Auth0, Okta custom servers).
	Audience string `yaml:"audience"`
	// StepUp, when false, turns off step-up on 403 insufficient_scope
	// (nil: on).
	StepUp *bool `yaml:"step_up"`
	// TokenParams are extra token request parameters.
	TokenParams map[string]string `yaml:"token_params"`
	// AWS sources of the client (aws.go) and the profile of the AWS
	// credential chain (SigV4 signing, SSM, Secrets Manager).
	SSMPrefix           string `yaml:"ssm_prefix"`
	ClientSecretARN     string `yaml:"client_secret_arn"`
	ClientSecretJSONKey string `yaml:"client_secret_json_key"`
	AWSProfile          string `yaml:"aws_profile"`
	// AWSJWTAlg, AWSJWTDuration and AWSJWTTags shape the STS
	// GetWebIdentityToken request of type aws_jwt (awsjwt.go); its
	// audience is Audience.
	AWSJWTAlg      string            `yaml:"aws_jwt_alg"`
	AWSJWTDuration time.Duration     `yaml:"aws_jwt_duration"`
	AWSJWTTags     map[string]string `yaml:"aws_jwt_tags"`

	// secretFromEnv marks a secret given as AGENTCORE_PROXY_CLIENT_SECRET.
	secretFromEnv bool
	// tokenParamFlags are --token-param values, key=value.
	tokenParamFlags []string
	// awsJWTTagFlags are --aws-jwt-tag values, key=value.
	awsJWTTagFlags []string
}

// Kind returns the route's effective auth type.
func (a Auth) Kind() string {
	if a.Type != "" {
		return normalizeAuthType(a.Type)
	}
	if a.hasSettings() {
		return AuthClientCredentials
	}
	return AuthNone
}

// hasSettings reports whether any client_credentials setting is given.
func (a Auth) hasSettings() bool {
	return a.ClientID != "" || a.DiscoveryURL != "" || a.TokenURL != "" || a.Issuer != "" || a.ClientSecretFile != "" ||
		a.ClientSecretEnv != "" || len(a.Scopes) > 0 || a.TokenAuthStyle != "" || a.secretFromEnv ||
		a.ClientKeyFile != "" || a.ClientKeyAlg != "" || a.ClientKeyID != "" || a.ClientAssertionAud != "" ||
		a.Resource != nil || a.Audience != "" || len(a.TokenParams) > 0 || len(a.tokenParamFlags) > 0 || a.StepUp != nil ||
		a.hasAWSSources()
}

// EnvClientSecret is the environment variable that may hold the client
// secret of the route the flags describe.
const EnvClientSecret = "AGENTCORE_PROXY_CLIENT_SECRET"

// Parse decodes a YAML configuration strictly: an unknown field is an error
// that names the line and the fields that are known.
func Parse(name string, data []byte) (*Config, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var c Config
	if err := dec.Decode(&c); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("--config %s: the file is empty (want listen: and routes:)", name)
		}
		return nil, fmt.Errorf("--config %s: %s", name, yamlMessage(err))
	}
	c.file = name
	return &c, nil
}

var unknownFieldRe = regexp.MustCompile(`line (\d+): field (\S+) not found in type config\.(\w+)`)

// yamlMessage rewrites yaml.v3's errors into one line a user can act on.
func yamlMessage(err error) string {
	msg := err.Error()
	if m := unknownFieldRe.FindAllStringSubmatch(msg, -1); m != nil {
		var parts []string
		for _, sm := range m {
			parts = append(parts, fmt.Sprintf("line %s: unknown field %q in %s (known fields: %s)",
				sm[1], sm[2], typeField[sm[3]], strings.Join(knownFields(sm[3]), ", ")))
		}
		return strings.Join(parts, "; ")
	}
	msg = strings.TrimPrefix(msg, "yaml: ")
	msg = strings.ReplaceAll(msg, "unmarshal errors:\n  ", "")
	return strings.ReplaceAll(msg, "\n  ", "; ")
}

var typeField = map[string]string{
	"Config":      "the top level",
	"Route":       "routes[]",
	"Authorizer":  "routes[].authorizer",
	"CustomClaim": "routes[].authorizer.custom_claims[]",
	"Target":      "routes[].target",
	"Auth":        "routes[].auth",
}

// configTypes are the YAML file's types, by the name yaml.v3 gives them in
// its errors.
var configTypes = map[string]reflect.Type{
	"Config":      reflect.TypeFor[Config](),
	"Route":       reflect.TypeFor[Route](),
	"Authorizer":  reflect.TypeFor[Authorizer](),
	"CustomClaim": reflect.TypeFor[CustomClaim](),
	"Target":      reflect.TypeFor[Target](),
	"Auth":        reflect.TypeFor[Auth](),
}

// knownFields lists the YAML keys of the named type, from its struct tags.
func knownFields(typeName string) []string {
	t, ok := configTypes[typeName]
	if !ok {
		return nil
	}
	var keys []string
	for f := range t.Fields() {
		if name, _, _ := strings.Cut(f.Tag.Get("yaml"), ","); name != "" && name != "-" {
			keys = append(keys, name)
		}
	}
	return keys
}
