package config

import (
	"strings"
	"testing"
	"time"
)

func TestValidateAWSJWTFlags(t *testing.T) {
	stsDiscovery := "https://3f8a.tokens.sts.global.api.aws/.well-known/openid-configuration"
	tests := []struct {
		name  string
		flags RouteFlags
		want  []string // one substring per problem; nil: valid
		check func(t *testing.T, r Resolved)
	}{
		{name: "defaults", flags: RouteFlags{RuntimeARN: goodARN, Auth: "aws-jwt", Audience: "my-runtime"},
			check: func(t *testing.T, r Resolved) {
				j := r.AWSJWT
				if r.Auth != nil || j == nil || j.Region != "us-west-2" || j.Algorithm != "RS256" || j.Duration != 15*time.Minute ||
					strings.Join(j.Audience, ",") != "my-runtime" {
					t.Fatalf("Resolved = auth %+v, aws-jwt %+v; want no client, RS256 for 15m in us-west-2 to my-runtime", r.Auth, j)
				}
				if strings.Join(r.Rules.AllowedAudience, ",") != "my-runtime" || len(r.Rules.AllowedClients) != 0 {
					t.Errorf("Rules = %+v, want allowedAudience [my-runtime] and no client rule", r.Rules)
				}
			}},
		{name: "YAML spelling, every setting", flags: RouteFlags{RuntimeARN: goodARN, Auth: "aws_jwt", Audience: "a", AWSJWTAlg: "ES384",
			AWSJWTDuration: time.Hour, AWSJWTTags: []string{"team=payments", "env="}, DiscoveryURL: stsDiscovery, AWSProfile: "prod"},
			check: func(t *testing.T, r Resolved) {
				j := r.AWSJWT
				if j.Algorithm != "ES384" || j.Duration != time.Hour || len(j.Tags) != 2 || j.Tags[0].Key != "team" || j.Tags[1].Value != "" ||
					j.DiscoveryURL != stsDiscovery || j.Profile != "prod" {
					t.Errorf("AWSJWT = %+v", j)
				}
			}},
		{name: "audience from --allowed-audience", flags: RouteFlags{RuntimeARN: goodARN, Auth: "aws-jwt", AllowedAudience: []string{"rt-a", "rt-b"}},
			check: func(t *testing.T, r Resolved) {
				if strings.Join(r.AWSJWT.Audience, ",") != "rt-a" || len(r.Rules.AllowedAudience) != 2 {
					t.Errorf("AWSJWT.Audience = %v, Rules = %+v; want rt-a and both allowed", r.AWSJWT.Audience, r.Rules)
				}
			}},
		{name: "no audience, runtime configuration off", flags: RouteFlags{RuntimeARN: goodARN, Auth: "aws-jwt", RuntimeConfig: "off"},
			want: []string{"--audience is empty: with --auth aws-jwt give the audience the runtime's authorizer allows"}},
		{name: "no audience, the runtime's configuration may give it", flags: RouteFlags{RuntimeARN: goodARN, Auth: "aws-jwt"},
			check: func(t *testing.T, r Resolved) {
				if len(r.AWSJWT.Audience) != 0 {
					t.Errorf("Audience = %v, want none until the runtime is read", r.AWSJWT.Audience)
				}
			}},
		{name: "a secret and a client", flags: RouteFlags{RuntimeARN: goodARN, Auth: "aws-jwt", Audience: "a", ClientID: "c", ClientSecretFile: "/dev/null", SecretInEnv: true},
			want: []string{"--auth aws-jwt needs no OAuth client and no secret, but client settings are given (--client-id, --client-secret-file): remove them"}},
		{name: "secret in the environment", flags: RouteFlags{RuntimeARN: goodARN, Auth: "aws-jwt", Audience: "a", SecretInEnv: true},
			want: []string{"(AGENTCORE_PROXY_CLIENT_SECRET)"}},
		{name: "allowed clients", flags: RouteFlags{RuntimeARN: goodARN, Auth: "aws-jwt", Audience: "a", AllowedClients: []string{"c"}},
			want: []string{"--allowed-client: STS web identity tokens carry no client_id"}},
		{name: "limits", flags: RouteFlags{RuntimeARN: goodARN, Auth: "aws-jwt", Audience: "a", AWSJWTAlg: "HS256", AWSJWTDuration: 2 * time.Hour,
			AWSJWTTags: []string{"novalue", "bad,key=v"}},
			want: []string{`--aws-jwt-alg "HS256": want RS256 or ES384`, "--aws-jwt-duration 2h0m0s: want whole seconds from 60s to 1h",
				`--aws-jwt-tag "novalue": want key=value`, `--aws-jwt-tag "bad,key": a tag key has`}},
		{name: "discovery URL not a discovery document", flags: RouteFlags{RuntimeARN: goodARN, Auth: "aws-jwt", Audience: "a", DiscoveryURL: "https://3f8a.tokens.sts.global.api.aws"},
			want: []string{"it is the runtime authorizer's discoveryUrl, the STS issuer + /.well-known/openid-configuration"}},
		{name: "upstream URL", flags: RouteFlags{UpstreamURL: "http://127.0.0.1:8000/mcp", Auth: "aws-jwt", Audience: "a"},
			want: []string{"give --runtime-arn instead of --upstream-url"}},
		{name: "aws-jwt flags with oauth", flags: RouteFlags{RuntimeARN: goodARN, ClientID: "c", DiscoveryURL: goodDiscovery, ClientSecretFile: "/dev/null", AWSJWTAlg: "ES384"},
			want: []string{"--aws-jwt-alg, --aws-jwt-duration and --aws-jwt-tag apply only to --auth aws-jwt"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			routes, err := FromFlags("127.0.0.1:8080", tt.flags).Validate(noEnv)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Validate() = %v, want no error", err)
				}
				tt.check(t, routes[0])
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil error, want %q", tt.want)
			}
			if lines := strings.Split(err.Error(), "\n"); len(lines) != len(tt.want) {
				t.Errorf("Validate() gave %d problems, want %d:\n%v", len(lines), len(tt.want), err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() error\n%v\nwant it to contain %q", err, w)
				}
			}
		})
	}
}

func TestParseAWSJWTYAML(t *testing.T) {
	c, err := Parse("routes.yaml", []byte(`
listen: 127.0.0.1:8080
routes:
  - name: secretless
    path: /mcp
    target: {runtime_arn: "`+goodARN+`"}
    auth: {type: aws_jwt, audience: my-runtime, aws_jwt_alg: ES384, aws_jwt_duration: 5m, aws_jwt_tags: {team: payments}}
  - name: bad
    path: /bad/mcp
    target: {runtime_arn: "`+goodARN+`"}
    auth: {type: aws_jwt, audience: my-runtime, client_secret_env: SECRET}
`))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Validate(noEnv)
	want := "--config routes.yaml: routes[1].auth.type aws_jwt needs no OAuth client and no secret, but client settings are given (--config routes.yaml: routes[1].auth.client_secret_env)"
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("Validate() = %v, want %q", err, want)
	}
	c.Routes = c.Routes[:1]
	routes, err := c.Validate(noEnv)
	if err != nil {
		t.Fatal(err)
	}
	j := routes[0].AWSJWT
	if j == nil || j.Algorithm != "ES384" || j.Duration != 5*time.Minute || len(j.Tags) != 1 || j.Tags[0] != (struct{ Key, Value string }{"team", "payments"}) {
		t.Errorf("AWSJWT = %+v, want ES384, 5m, team=payments", j)
	}
}
