package config

import (
	"strings"
	"testing"
)

func TestValidateAWSFlags(t *testing.T) {
	tests := []struct {
		name  string
		flags RouteFlags
		want  []string // one substring per problem; nil: valid
		check func(t *testing.T, r Resolved)
	}{
		{name: "sigv4", flags: RouteFlags{RuntimeARN: goodARN, Auth: "sigv4", AWSProfile: "prod"},
			check: func(t *testing.T, r Resolved) {
				if r.Auth != nil || r.SigV4 == nil || r.SigV4.Region != "us-west-2" || r.SigV4.Profile != "prod" {
					t.Errorf("Resolved = auth %+v, sigv4 %+v; want no bearer auth, SigV4 in us-west-2 with profile prod", r.Auth, r.SigV4)
				}
			}},
		{name: "sigv4 with OAuth flags", flags: RouteFlags{RuntimeARN: goodARN, Auth: "sigv4", ClientID: "c", SSMPrefix: "/app/mcp/x"},
			want: []string{"--auth sigv4 signs with AWS credentials and sends no bearer token, but OAuth settings are given (--client-id, --ssm-prefix)"}},
		{name: "sigv4 with a secret in the environment", flags: RouteFlags{RuntimeARN: goodARN, Auth: "sigv4", SecretInEnv: true},
			want: []string{"(AGENTCORE_PROXY_CLIENT_SECRET)"}},
		{name: "sigv4 to an upstream URL", flags: RouteFlags{UpstreamURL: "http://127.0.0.1:8000/mcp", Auth: "sigv4"},
			want: []string{"give --runtime-arn instead of --upstream-url"}},
		{name: "unknown mode", flags: RouteFlags{RuntimeARN: goodARN, Auth: "iam"}, want: []string{`--auth "iam": want oauth`}},
		{name: "none to a runtime", flags: RouteFlags{RuntimeARN: goodARN, Auth: "none"}, want: []string{"or --auth sigv4"}},
		{name: "oauth from SSM alone", flags: RouteFlags{RuntimeARN: goodARN, SSMPrefix: "/app/mcp/calc/"},
			check: func(t *testing.T, r Resolved) {
				if r.Auth == nil || r.Auth.AWS.SSMPrefix != "/app/mcp/calc" {
					t.Errorf("Resolved.Auth = %+v, want the SSM prefix without its trailing /", r.Auth)
				}
			}},
		{name: "oauth named explicitly", flags: RouteFlags{RuntimeARN: goodARN, Auth: "oauth", SSMPrefix: "/app/mcp/calc"}},
		{name: "SSM prefix not a path", flags: RouteFlags{RuntimeARN: goodARN, SSMPrefix: "app/mcp/calc"}, want: []string{`--ssm-prefix "app/mcp/calc": an SSM path starts with /`}},
		{name: "secret from Secrets Manager", flags: RouteFlags{RuntimeARN: goodARN, ClientID: "c", DiscoveryURL: goodDiscovery, ClientSecretARN: "agentcore/client", ClientSecretJSONKey: "secret"}},
		{name: "two secret sources", flags: RouteFlags{RuntimeARN: goodARN, ClientID: "c", DiscoveryURL: goodDiscovery, ClientSecretARN: "s", ClientSecretFile: "/dev/null"},
			want: []string{"--client-secret-arn and --client-secret-file are both set"}},
		{name: "profile unused", flags: RouteFlags{RuntimeARN: goodARN, ClientID: "c", DiscoveryURL: goodDiscovery, ClientSecretFile: "/dev/null", AWSProfile: "prod"},
			want: []string{"--aws-profile applies only to --auth sigv4, --ssm-prefix and --client-secret-arn"}},
		{name: "JSON key without a secret", flags: RouteFlags{RuntimeARN: goodARN, ClientID: "c", DiscoveryURL: goodDiscovery, ClientSecretFile: "/dev/null", ClientSecretJSONKey: "k"},
			want: []string{"--client-secret-json-key applies only to --client-secret-arn"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			routes, err := FromFlags("127.0.0.1:8080", tt.flags).Validate(noEnv)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Validate() = %v, want no error", err)
				}
				if tt.check != nil {
					tt.check(t, routes[0])
				}
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

func TestParseAWSYAML(t *testing.T) {
	c, err := Parse("routes.yaml", []byte(`
listen: 127.0.0.1:8080
routes:
  - name: signed
    path: /signed/mcp
    target: {runtime_arn: "`+goodARN+`"}
    auth: {type: sigv4, aws_profile: prod}
  - name: from-ssm
    path: /ssm/mcp
    target: {runtime_arn: "`+goodARN+`"}
    auth: {ssm_prefix: /app/mcp/calc}
  - name: from-secrets-manager
    path: /sm/mcp
    target: {runtime_arn: "`+goodARN+`"}
    auth: {type: oauth, client_id: c, discovery_url: "`+goodDiscovery+`", client_secret_arn: agentcore/client, client_secret_json_key: secret}
`))
	if err != nil {
		t.Fatal(err)
	}
	routes, err := c.Validate(noEnv)
	if err != nil {
		t.Fatalf("Validate() = %v", err)
	}
	if routes[0].SigV4 == nil || routes[0].SigV4.Profile != "prod" || routes[1].Auth.AWS.SSMPrefix != "/app/mcp/calc" ||
		routes[2].Auth.AWS.SecretARN != "agentcore/client" || routes[2].Auth.AWS.SecretJSONKey != "secret" {
		t.Errorf("Validate() = %+v, want the AWS settings of each route", routes)
	}
	if got := routes[0].Names()(SettingAuth); got != "auth.type (route signed in routes.yaml)" {
		t.Errorf("Names()(SettingAuth) = %q, want the YAML key", got)
	}
}
