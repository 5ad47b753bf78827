package config

import (
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/agentcore-proxy/agentcore-proxy/agentcore"
)

const goodARN = "arn:aws:bedrock-agentcore:us-west-2:123456789012:runtime/my_mcp_server-xyz123"
const goodDiscovery = "https://cognito-idp.us-west-2.amazonaws.com/us-west-2_abc/.well-known/openid-configuration"

func noEnv(string) string { return "" }

func TestValidateFlags(t *testing.T) {
	good := RouteFlags{RuntimeARN: goodARN, DiscoveryURL: goodDiscovery, ClientID: "abc", ClientSecretFile: "/dev/null"}
	tests := []struct {
		name   string
		listen string
		modify func(*RouteFlags)
		getenv func(string) string
		want   []string // substrings of the error, one per expected problem; nil: valid
	}{
		{name: "valid", modify: func(*RouteFlags) {}},
		{name: "upstream without auth", modify: func(f *RouteFlags) { *f = RouteFlags{UpstreamURL: "http://127.0.0.1:8000/mcp"} }},
		{name: "no route", modify: func(f *RouteFlags) { *f = RouteFlags{} }, want: []string{"no route: give --runtime-arn"}},
		{name: "malformed ARN", modify: func(f *RouteFlags) { f.RuntimeARN = "arn:aws:bedrock-agentcore:us-west-2:123:runtime/x" },
			want: []string{`--runtime-arn "arn:aws:bedrock-agentcore:us-west-2:123:runtime/x": not an AgentCore runtime ARN (want arn:aws:bedrock-agentcore:REGION:ACCOUNT:runtime/ID): account "123" is not 12 digits`}},
		{name: "missing client id", modify: func(f *RouteFlags) { f.ClientID = "" }, want: []string{"--client-id is empty"}},
		{name: "missing secret", modify: func(f *RouteFlags) { f.ClientSecretFile = "" }, want: []string{"no client secret: give --client-secret-file FILE"}},
		{name: "secret in env", modify: func(f *RouteFlags) { f.ClientSecretFile = ""; f.SecretInEnv = true }},
		{name: "http non-loopback endpoint", modify: func(f *RouteFlags) { f.EndpointURL = "http://bedrock.example.com" },
			want: []string{`--endpoint-url "http://bedrock.example.com": proxy: plain http is allowed only to a loopback address`}},
		{name: "http non-loopback upstream", modify: func(f *RouteFlags) { *f = RouteFlags{UpstreamURL: "http://10.0.0.5:8000/mcp"} },
			want: []string{`--upstream-url "http://10.0.0.5:8000/mcp"`}},
		{name: "http non-loopback discovery", modify: func(f *RouteFlags) { f.DiscoveryURL = "http://idp.example.com/.well-known/openid-configuration" },
			want: []string{`--discovery-url "http://idp.example.com/.well-known/openid-configuration": proxy: plain http`}},
		{name: "discovery URL is an issuer", modify: func(f *RouteFlags) { f.DiscoveryURL = "https://cognito-idp.us-west-2.amazonaws.com/us-west-2_abc" }},
		{name: "issuer", modify: func(f *RouteFlags) { f.Issuer = "https://auth.example.com/" }},
		{name: "issuer on loopback", modify: func(f *RouteFlags) { f.DiscoveryURL, f.Issuer = "", "http://127.0.0.2:9000" }},
		{name: "plain-http issuer off loopback", modify: func(f *RouteFlags) { f.Issuer = "http://auth.example.com" },
			want: []string{`--issuer "http://auth.example.com": proxy: plain http is allowed only to a loopback address`}},
		{name: "issuer with a query", modify: func(f *RouteFlags) { f.Issuer = "https://auth.example.com/?tenant=x" },
			want: []string{`--issuer "https://auth.example.com/?tenant=x": an issuer has no query or fragment`}},
		{name: "issuer with a token URL alone", modify: func(f *RouteFlags) {
			f.DiscoveryURL, f.TokenURL, f.Issuer = "", "https://auth.example.com/token", "https://auth.example.com"
		},
			want: []string{"--issuer applies to discovery, and with --token-url alone nothing is discovered: remove it, or give --discovery-url"}},
		{name: "issuer with sigv4", modify: func(f *RouteFlags) {
			*f = RouteFlags{RuntimeARN: goodARN, Auth: "sigv4", Issuer: "https://auth.example.com"}
		}, want: []string{"OAuth settings are given (--issuer)"}},
		{name: "no discovery URL: zero-config", modify: func(f *RouteFlags) { f.DiscoveryURL = "" }},
		{name: "private_key_jwt needs no secret", modify: func(f *RouteFlags) {
			f.ClientSecretFile, f.TokenAuthStyle, f.ClientKeyFile = "", "private_key_jwt", "/dev/null"
		}},
		{name: "key file alone means private_key_jwt", modify: func(f *RouteFlags) { f.ClientSecretFile, f.ClientKeyFile = "", "/dev/null" }},
		{name: "private_key_jwt without key", modify: func(f *RouteFlags) { f.ClientSecretFile, f.TokenAuthStyle = "", "private_key_jwt" },
			want: []string{"--token-auth-style is private_key_jwt but --client-key-file is empty"}},
		{name: "key with basic", modify: func(f *RouteFlags) { f.TokenAuthStyle, f.ClientKeyFile = "basic", "/dev/null" },
			want: []string{"--client-key-file applies only to private_key_jwt"}},
		{name: "key and secret file", modify: func(f *RouteFlags) { f.ClientKeyFile = "/dev/null" },
			want: []string{"--client-key-file and --client-secret-file are both set"}},
		{name: "key settings without key", modify: func(f *RouteFlags) {
			f.ClientKeyAlg, f.ClientKeyID, f.ClientAssertionAud = "ES256", "k1", "token_endpoint"
		},
			want: []string{"--client-key-alg applies only with --client-key-file", "--client-key-id applies only", "--client-assertion-aud applies only"}},
		{name: "bad assertion aud", modify: func(f *RouteFlags) {
			f.ClientSecretFile, f.ClientKeyFile, f.ClientAssertionAud = "", "/dev/null", "issuer"
		},
			want: []string{`--client-assertion-aud "issuer": want token_endpoint`}},
		{name: "resource, audience, params", modify: func(f *RouteFlags) {
			r := "https://mcp.example.com/mcp"
			f.Resource, f.Audience, f.TokenParams = &r, "https://api.example.com", []string{"prompt=none", "x=1"}
		}},
		{name: "empty resource sends none", modify: func(f *RouteFlags) { r := ""; f.Resource = &r }},
		{name: "bad resource", modify: func(f *RouteFlags) { r := "mcp#x"; f.Resource = &r }, want: []string{`--resource "mcp#x": want an absolute URI`}},
		{name: "bad token params", modify: func(f *RouteFlags) { f.TokenParams = []string{"novalue", "scope=a", "grant_type=x"} },
			want: []string{`--token-param "novalue": want key=value`, `--token-param "scope": set by --scope`, `--token-param "grant_type": the proxy sets it`}},
		{name: "region mismatch", modify: func(f *RouteFlags) { f.EndpointURL = "https://bedrock-agentcore.us-east-1.amazonaws.com" },
			want: []string{"is in region us-east-1 but the runtime ARN is in us-west-2"}},
		{name: "region mismatch from AWS env", modify: func(*RouteFlags) {},
			getenv: func(k string) string {
				if k == "AWS_ENDPOINT_URL_BEDROCK_AGENTCORE" {
					return "https://bedrock-agentcore.eu-west-1.amazonaws.com"
				}
				return ""
			},
			want: []string{"AWS_ENDPOINT_URL_BEDROCK_AGENTCORE"}},
		{name: "both targets", modify: func(f *RouteFlags) { f.UpstreamURL = "http://127.0.0.1:1/mcp" }, want: []string{"--runtime-arn and --upstream-url are both set"}},
		{name: "bad qualifier", modify: func(f *RouteFlags) { f.Qualifier = "prod-1" }, want: []string{`--qualifier "prod-1"`}},
		{name: "scope with space", modify: func(f *RouteFlags) { f.Scopes = []string{"a/read b/write"} }, want: []string{`--scope "a/read b/write"`}},
		{name: "auth style", modify: func(f *RouteFlags) { f.TokenAuthStyle = "jwt" }, want: []string{`--token-auth-style "jwt"`}},
		{name: "bad listen", listen: "8080", modify: func(*RouteFlags) {}, want: []string{`--listen "8080": not host:port`}},
		{name: "every problem at once", modify: func(f *RouteFlags) { f.ClientID = ""; f.ClientSecretFile = ""; f.Qualifier = "-" },
			want: []string{"--client-id is empty", "--client-secret-file", "--qualifier"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := good
			tt.modify(&f)
			listen := tt.listen
			if listen == "" {
				listen = "127.0.0.1:8080"
			}
			getenv := tt.getenv
			if getenv == nil {
				getenv = noEnv
			}
			routes, err := FromFlags(listen, f).Validate(getenv)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Validate() = %v, want no error", err)
				}
				if len(routes) != 1 || routes[0].Name != "default" || routes[0].Path != "/mcp" {
					t.Fatalf("Validate() routes = %+v, want one default at /mcp", routes)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil error, want %q", tt.want)
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tt.want) {
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

func TestValidateResolvesInvocationURL(t *testing.T) {
	routes, err := FromFlags("127.0.0.1:0", RouteFlags{RuntimeARN: goodARN, Qualifier: "prod", DiscoveryURL: goodDiscovery, ClientID: "c", SecretInEnv: true}).Validate(noEnv)
	if err != nil {
		t.Fatal(err)
	}
	want := "/runtimes/arn%3Aaws%3Abedrock-agentcore%3Aus-west-2%3A123456789012%3Aruntime%2Fmy_mcp_server-xyz123/invocations?qualifier=prod"
	if got := routes[0].Upstream.RequestURI(); got != want {
		t.Errorf("RequestURI() = %s, want %s", got, want)
	}
}

const goodYAML = `listen: 127.0.0.1:9000
routes:
  - name: calculator
    path: /calculator/mcp
    target:
      runtime_arn: arn:aws:bedrock-agentcore:us-west-2:123456789012:runtime/calc-abc1234567
    auth:
      discovery_url: https://cognito-idp.us-west-2.amazonaws.com/us-west-2_abc/.well-known/openid-configuration
      client_id: calc-client
      client_secret_file: SECRET
      scopes: [default-m2m-resource-server/read]
  - name: weather
    path: /weather/mcp
    target:
      runtime_arn: arn:aws:bedrock-agentcore:us-west-2:123456789012:runtime/weather-abc1234567
      qualifier: prod
    auth:
      discovery_url: https://cognito-idp.us-west-2.amazonaws.com/us-west-2_abc/.well-known/openid-configuration
      client_id: weather-client
      client_secret_env: WEATHER_SECRET
      token_auth_style: post
  - name: local
    path: /local/mcp
    target:
      upstream_url: http://127.0.0.1:8000/mcp
`

func TestParseYAML(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "calc-secret")
	if err := os.WriteFile(secret, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Parse("routes.yaml", []byte(strings.Replace(goodYAML, "SECRET", secret, 1)))
	if err != nil {
		t.Fatal(err)
	}
	getenv := func(k string) string {
		if k == "WEATHER_SECRET" {
			return "w-secret"
		}
		return ""
	}
	routes, err := cfg.Validate(getenv)
	if err != nil {
		t.Fatal(err)
	}
	if err := ReadSecrets(routes, getenv); err != nil {
		t.Fatal(err)
	}
	if len(routes) != 3 {
		t.Fatalf("got %d routes, want 3", len(routes))
	}
	if got := routes[0].Auth.Secret; got != "s3cret" {
		t.Errorf("calculator secret = %q, want the file's content trimmed", got)
	}
	if a := routes[1].Auth; a.Secret != "w-secret" || !a.PostAuth || routes[1].Qualifier != "prod" {
		t.Errorf("weather route = %+v, %+v; want secret from env, post auth, qualifier prod", routes[1], a)
	}
	if routes[2].Auth != nil || routes[2].Upstream.String() != "http://127.0.0.1:8000/mcp" {
		t.Errorf("local route = %+v, want no auth and the upstream URL", routes[2])
	}
}

func TestParseYAMLErrors(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{name: "unknown field", yaml: "routes:\n  - name: a\n    path: /a/mcp\n    target:\n      runtime_arn: x\n      regoin: us-west-2\n",
			want: []string{`--config r.yaml: line 6: unknown field "regoin" in routes[].target (known fields: runtime_arn, qualifier, endpoint_url, upstream_url)`}},
		{name: "secret inline is unknown", yaml: "routes:\n  - name: a\n    auth:\n      client_secret: hunter2\n",
			want: []string{`unknown field "client_secret" in routes[].auth`}},
		{name: "empty", yaml: "", want: []string{"--config r.yaml: the file is empty"}},
		{name: "not a list", yaml: "routes: 3\n", want: []string{"--config r.yaml: line 1: cannot unmarshal"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("r.yaml", []byte(tt.yaml))
			if err == nil {
				t.Fatalf("Parse() = nil error, want %q", tt.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("Parse() error %q repeats the secret", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Parse() error = %q, want it to contain %q", err, w)
				}
			}
		})
	}
}

func TestValidateYAMLNamesFields(t *testing.T) {
	cfg, err := Parse("r.yaml", []byte(`listen: 127.0.0.1:1
routes:
  - name: Calc
    path: calc
    target: {runtime_arn: "arn:aws:bedrock-agentcore:us-west-2:123456789012:runtime/x", upstream_url: "http://127.0.0.1:1/mcp"}
  - name: b
    path: /healthz
    target: {runtime_arn: "arn:aws:bedrock-agentcore:us-west-2:123456789012:runtime/x"}
    auth: {client_id: c, discovery_url: "https://idp.example.com/.well-known/openid-configuration"}
`))
	if err != nil {
		t.Fatal(err)
	}
	_, err = cfg.Validate(noEnv)
	for _, w := range []string{
		`--config r.yaml: routes[0].name "Calc"`,
		`--config r.yaml: routes[0].path "calc"`,
		`--config r.yaml: routes[0].target.runtime_arn and --config r.yaml: routes[0].target.upstream_url are both set`,
		`--config r.yaml: routes[1].path "/healthz": reserved`,
		`--config r.yaml: routes[1].auth: give client_secret_file or client_secret_env`,
	} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("Validate() error = %v\nwant it to contain %q", err, w)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(goodYAML))
	f.Add([]byte("routes:\n  - {name: a, path: /a, target: {upstream_url: 'http://[::1]:1/x'}}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse("f.yaml", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "--config f.yaml: ") {
				t.Fatalf("Parse error %q does not name the file", err)
			}
			return
		}
		routes, err := cfg.Validate(noEnv)
		if err != nil {
			return
		}
		mux := http.NewServeMux()
		for _, r := range routes {
			// A valid route's path registers as the server registers it
			// (ServeMux panics on a pattern it cannot parse).
			mux.Handle(r.Path, http.NotFoundHandler())
			// A valid route never sends credentials over plain http to a
			// non-loopback host.
			if r.Upstream.Scheme == "http" && r.Auth != nil && !isLoopbackForTest(r.Upstream.Hostname()) {
				t.Fatalf("route %s sends a token over plain http to %s", r.Name, r.Upstream.Host)
			}
		}
	})
}

func isLoopbackForTest(h string) bool {
	return h == "localhost" || strings.HasSuffix(h, ".localhost") || strings.HasPrefix(h, "127.") || h == "::1"
}

// TestValidateRoutePathPatterns refuses route paths that Go's ServeMux
// would read as patterns (it panics at start on "{"), naming the route.
func TestValidateRoutePathPatterns(t *testing.T) {
	tests := []struct {
		name, path, want string
	}{
		{name: "wildcard", path: "/a{b}", want: `routes[0].path "/a{b}" (route r): { and } are not allowed`},
		{name: "closing brace", path: "/a}", want: `routes[0].path "/a}" (route r): { and } are not allowed`},
		{name: "whole wildcard", path: "/{id}/mcp", want: `routes[0].path "/{id}/mcp" (route r): { and } are not allowed`},
		{name: "tab", path: "/a\tb", want: `routes[0].path "/a\tb" (route r): want an absolute path`},
		{name: "relative", path: "a/mcp", want: `routes[0].path "a/mcp" (route r): want an absolute path`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse("r.yaml", []byte("routes:\n  - name: r\n    path: "+strconv.Quote(tt.path)+"\n    target: {upstream_url: 'http://127.0.0.1:1/mcp'}\n"))
			if err != nil {
				t.Fatal(err)
			}
			cfg.Listen = "127.0.0.1:0"
			_, err = cfg.Validate(noEnv)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate(path %q) = %v, want an error containing %q", tt.path, err, tt.want)
			}
		})
	}
	// Two spellings of one path: ServeMux decodes %62 and would panic.
	cfg, err := Parse("r.yaml", []byte(`routes:
  - {name: a, path: /ab, target: {upstream_url: 'http://127.0.0.1:1/mcp'}}
  - {name: b, path: /a%62, target: {upstream_url: 'http://127.0.0.1:1/mcp'}}
`))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Listen = "127.0.0.1:0"
	if _, err := cfg.Validate(noEnv); err == nil || !strings.Contains(err.Error(), `routes[1].path "/a%62" (route b): it matches the same requests as another route's path`) {
		t.Errorf("Validate(/ab and /a%%62) = %v, want an error naming route b", err)
	}
}

// TestBodyReadTimeoutKey reads the top-level body_read_timeout and names it
// in explanations as a YAML user wrote it.
func TestBodyReadTimeoutKey(t *testing.T) {
	cfg, err := Parse("r.yaml", []byte("listen: 127.0.0.1:1\nbody_read_timeout: 45s\nroutes:\n  - {name: a, path: /a, target: {upstream_url: 'http://127.0.0.1:1/mcp'}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.BodyReadTimeout != 45*time.Second {
		t.Errorf("BodyReadTimeout = %v, want 45s", cfg.BodyReadTimeout)
	}
	routes, err := cfg.Validate(noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := routes[0].Names()(agentcore.SettingBodyReadTimeout), "--body-read-timeout (or body_read_timeout in r.yaml)"; got != want {
		t.Errorf("Names()(SettingBodyReadTimeout) = %q, want %q", got, want)
	}
	if got := FromFlags("127.0.0.1:1", RouteFlags{UpstreamURL: "http://127.0.0.1:1/mcp"}); got != nil {
		flagRoutes, err := got.Validate(noEnv)
		if err != nil || flagRoutes[0].Names()(agentcore.SettingBodyReadTimeout) != "--body-read-timeout" {
			t.Errorf("flag route names body_read_timeout %q (err %v), want --body-read-timeout", flagRoutes[0].Names()(agentcore.SettingBodyReadTimeout), err)
		}
	}
	for _, bad := range []string{"body_read_timeout: -1s", "body_read_timeout: soon"} {
		cfg, err := Parse("r.yaml", []byte(bad+"\nroutes:\n  - {name: a, path: /a, target: {upstream_url: 'http://127.0.0.1:1/mcp'}}\n"))
		if err == nil {
			cfg.Listen = "127.0.0.1:1"
			_, err = cfg.Validate(noEnv)
		}
		if err == nil || !strings.Contains(err.Error(), "body_read_timeout") && !strings.Contains(err.Error(), "soon") {
			t.Errorf("%s: error = %v, want one naming the key or the value", bad, err)
		}
	}
}
