package config

import (
	"strings"
	"testing"
)

func TestRuntimeConfigSetting(t *testing.T) {
	for _, tc := range []struct {
		name  string
		flags RouteFlags
		want  string // substring of the error; "" for none
		check func(t *testing.T, r Resolved)
	}{
		{name: "an ARN alone waits for the runtime", flags: RouteFlags{RuntimeARN: goodARN},
			check: func(t *testing.T, r Resolved) {
				if !r.AuthFromRuntime || r.Auth != nil || r.SigV4 != nil || r.RuntimeConfig != RuntimeConfigAuto {
					t.Errorf("Resolved = %+v; want auth from the runtime, mode auto", r)
				}
			}},
		{name: "an ARN and a profile", flags: RouteFlags{RuntimeARN: goodARN, AWSProfile: "prod"},
			check: func(t *testing.T, r Resolved) {
				if !r.AuthFromRuntime || r.AuthFromRuntimeProfile != "prod" {
					t.Errorf("Resolved = %+v; want auth from the runtime with profile prod", r)
				}
			}},
		{name: "required", flags: RouteFlags{RuntimeARN: goodARN, RuntimeConfig: "required"},
			check: func(t *testing.T, r Resolved) {
				if !r.AuthFromRuntime || r.RuntimeConfig != RuntimeConfigRequired {
					t.Errorf("Resolved = %+v; want auth from the runtime, mode required", r)
				}
			}},
		{name: "off needs auth as before", flags: RouteFlags{RuntimeARN: goodARN, RuntimeConfig: "off"},
			want: "an AgentCore runtime needs a bearer token or AWS signing"},
		{name: "explicit none stays none", flags: RouteFlags{RuntimeARN: goodARN, Auth: "none"},
			want: "an AgentCore runtime needs a bearer token or AWS signing"},
		{name: "unknown mode", flags: RouteFlags{RuntimeARN: goodARN, RuntimeConfig: "sometimes"},
			want: `--runtime-config "sometimes": want auto`},
		{name: "client id without discovery URL", flags: RouteFlags{RuntimeARN: goodARN, ClientID: "c", SecretInEnv: true},
			check: func(t *testing.T, r Resolved) {
				if r.Auth == nil || r.Auth.DiscoveryURL != "" || !r.RulesDefaulted || r.Rules.AllowedClients[0] != "c" {
					t.Errorf("Resolved = %+v; want auth without discovery URL, defaulted rules [c]", r)
				}
			}},
		{name: "given rules are not defaulted", flags: RouteFlags{RuntimeARN: goodARN, ClientID: "c", SecretInEnv: true, AllowedScopes: []string{"s"}},
			check: func(t *testing.T, r Resolved) {
				if r.RulesDefaulted || len(r.Rules.AllowedClients) != 0 {
					t.Errorf("Resolved.Rules = %+v (defaulted %v); want the given rules only", r.Rules, r.RulesDefaulted)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			routes, err := FromFlags("127.0.0.1:8080", tc.flags).Validate(noEnv)
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("Validate() error = %v, want %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatalf("Validate() error = %v", err)
			}
			tc.check(t, routes[0])
		})
	}
}

func TestRuntimeConfigKey(t *testing.T) {
	cfg, err := Parse("r.yaml", []byte("listen: 127.0.0.1:1\nruntime_config: required\nroutes:\n  - {name: a, path: /a, target: {runtime_arn: '"+goodARN+"'}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	routes, err := cfg.Validate(noEnv)
	if err != nil || routes[0].RuntimeConfig != RuntimeConfigRequired || !routes[0].AuthFromRuntime {
		t.Fatalf("Validate() = %+v, %v; want mode required and auth from the runtime", routes, err)
	}
	if got, want := routes[0].Names()(SettingRuntimeConfig), "--runtime-config (or runtime_config in r.yaml)"; got != want {
		t.Errorf("Names()(SettingRuntimeConfig) = %q, want %q", got, want)
	}
	cfg.RuntimeConfig = "never"
	if _, err := cfg.Validate(noEnv); err == nil || !strings.Contains(err.Error(), "--config r.yaml: runtime_config \"never\"") {
		t.Errorf("Validate(runtime_config: never) error = %v, want one naming the key", err)
	}
}
