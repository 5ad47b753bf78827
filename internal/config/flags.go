package config

import "time"

// RouteFlags are the serve flags that describe the single route "default"
// at /mcp.
type RouteFlags struct {
	RuntimeARN       string
	Qualifier        string
	EndpointURL      string
	UpstreamURL      string
	DiscoveryURL     string
	TokenURL         string
	Issuer           string
	ClientID         string
	ClientSecretFile string
	Scopes           []string
	TokenAuthStyle   string
	// ClientKeyFile, ClientKeyAlg, ClientKeyID, ClientAssertionAud,
	// Resource (nil: not given), Audience and TokenParams ("key=value")
	// shape the token request (see Auth).
	ClientKeyFile      string
	ClientKeyAlg       string
	ClientKeyID        string
	ClientAssertionAud string
	Resource           *string
	Audience           string
	TokenParams        []string
	AllowedClients     []string
	AllowedAudience    []string
	AllowedScopes      []string
	// Auth is --auth: oauth, sigv4 or none ("" picks from the others).
	Auth                string
	AWSProfile          string
	SSMPrefix           string
	ClientSecretARN     string
	ClientSecretJSONKey string
	// SecretInEnv says AGENTCORE_PROXY_CLIENT_SECRET is set.
	SecretInEnv bool
	// StepUp is --step-up (nil: not given, which means on).
	StepUp *bool
	// AWSJWTAlg, AWSJWTDuration and AWSJWTTags ("key=value") are
	// --aws-jwt-alg, --aws-jwt-duration and --aws-jwt-tag.
	AWSJWTAlg      string
	AWSJWTDuration time.Duration
	AWSJWTTags     []string
	// RuntimeConfig is --runtime-config: auto, off or required ("": auto).
	RuntimeConfig string
}

// Empty reports whether no route flag was given.
func (f RouteFlags) Empty() bool {
	return f.RuntimeARN == "" && f.Qualifier == "" && f.EndpointURL == "" && f.UpstreamURL == "" &&
		f.DiscoveryURL == "" && f.TokenURL == "" && f.Issuer == "" && f.ClientID == "" && f.ClientSecretFile == "" &&
		len(f.Scopes) == 0 && f.TokenAuthStyle == "" && len(f.AllowedClients) == 0 &&
		len(f.AllowedAudience) == 0 && len(f.AllowedScopes) == 0 && f.ClientKeyFile == "" && f.ClientKeyAlg == "" &&
		f.ClientKeyID == "" && f.ClientAssertionAud == "" && f.Resource == nil && f.Audience == "" && len(f.TokenParams) == 0 && f.StepUp == nil &&
		f.awsEmpty() && f.awsJWTEmpty()
}

// FromFlags returns the configuration the flags describe: one route named
// default at /mcp.
func FromFlags(listen string, f RouteFlags) *Config {
	c := &Config{Listen: listen, fromFlags: true, RuntimeConfig: f.RuntimeConfig}
	if f.Empty() {
		return c
	}
	c.Routes = []Route{{
		Name: "default",
		Path: "/mcp",
		Target: Target{
			RuntimeARN:  f.RuntimeARN,
			Qualifier:   f.Qualifier,
			EndpointURL: f.EndpointURL,
			UpstreamURL: f.UpstreamURL,
		},
		Auth: Auth{
			DiscoveryURL:     f.DiscoveryURL,
			TokenURL:         f.TokenURL,
			Issuer:           f.Issuer,
			ClientID:         f.ClientID,
			ClientSecretFile: f.ClientSecretFile,
			Scopes:           f.Scopes,
			TokenAuthStyle:   f.TokenAuthStyle,
			secretFromEnv:    f.SecretInEnv && f.ClientSecretFile == "" && f.ClientSecretARN == "",

			ClientKeyFile:      f.ClientKeyFile,
			ClientKeyAlg:       f.ClientKeyAlg,
			ClientKeyID:        f.ClientKeyID,
			ClientAssertionAud: f.ClientAssertionAud,
			Resource:           f.Resource,
			Audience:           f.Audience,
			tokenParamFlags:    f.TokenParams,
			StepUp:             f.StepUp,

			Type:                f.Auth,
			AWSProfile:          f.AWSProfile,
			SSMPrefix:           f.SSMPrefix,
			ClientSecretARN:     f.ClientSecretARN,
			ClientSecretJSONKey: f.ClientSecretJSONKey,
			AWSJWTAlg:           f.AWSJWTAlg,
			AWSJWTDuration:      f.AWSJWTDuration,
			awsJWTTagFlags:      f.AWSJWTTags,
		},
		Authorizer: Authorizer{
			AllowedClients:  f.AllowedClients,
			AllowedAudience: f.AllowedAudience,
			AllowedScopes:   f.AllowedScopes,
		},
	}}
	return c
}
