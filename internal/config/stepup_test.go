package config

import (
	"strings"
	"testing"
)

func TestStepUpSetting(t *testing.T) {
	off, on := false, true
	tests := []struct {
		name  string
		flags RouteFlags
		yaml  string // a routes[0].auth line instead of flags
		want  string // substring of the error; "" means valid
		noUp  bool
	}{
		{name: "default on", flags: RouteFlags{UpstreamURL: "https://mcp.example.com/mcp", ClientID: "c", SecretInEnv: true}},
		{name: "flag off", flags: RouteFlags{UpstreamURL: "https://mcp.example.com/mcp", ClientID: "c", SecretInEnv: true, StepUp: &off}, noUp: true},
		{name: "flag on", flags: RouteFlags{UpstreamURL: "https://mcp.example.com/mcp", ClientID: "c", SecretInEnv: true, StepUp: &on}},
		{name: "yaml off", yaml: "step_up: false", noUp: true},
		{name: "yaml on", yaml: "step_up: true"},
		{name: "flag with sigv4", flags: RouteFlags{RuntimeARN: goodARN, Auth: "sigv4", StepUp: &off},
			want: "OAuth settings are given (--step-up)"},
		{name: "yaml with none", yaml: "step_up: false\n      type: none",
			want: "routes[0].auth.type is none but other auth settings are given"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := FromFlags("127.0.0.1:8080", tt.flags)
			if tt.yaml != "" {
				var err error
				cfg, err = Parse("routes.yaml", []byte(`
listen: 127.0.0.1:0
routes:
  - name: r
    path: /r/mcp
    target: {upstream_url: "https://mcp.example.com/mcp"}
    auth:
      client_id: c
      client_secret_env: X
      `+tt.yaml+`
`))
				if err != nil {
					t.Fatal(err)
				}
			}
			routes, err := cfg.Validate(noEnv)
			if tt.want != "" {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("Validate() = %v, want %q", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatalf("Validate() = %v", err)
			}
			if got := routes[0].Auth.NoStepUp; got != tt.noUp {
				t.Errorf("NoStepUp = %v, want %v", got, tt.noUp)
			}
		})
	}
}
