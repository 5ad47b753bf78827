package e2e

import (
	"strings"
	"testing"

	"github.com/agentcore-proxy/agentcore-proxy/internal/emulator"
)

// TestDoctorAWS runs doctor on AWS routes: for a SigV4 route it names who
// signs (sts:GetCallerIdentity), the key's fingerprint, the service and the
// region; for a client from SSM or Secrets Manager each value read and its
// type, never the value. Then tools/list passes through the route.
func TestDoctorAWS(t *testing.T) {
	tests := []struct {
		name   string
		sigv4  bool
		flags  []string
		secret string
		want   []string
	}{
		{name: "SigV4", sigv4: true, flags: []string{"--auth", "sigv4"}, want: []string{
			"✓ AWS signing: signs as arn:aws:sts::123456789012:assumed-role/agentcore-proxy/emulator (account 123456789012), access key " +
				fingerprint(emulator.DefaultAWSCredential.AccessKeyID) + "; service bedrock-agentcore, region us-west-2",
			"· token: requests are signed with AWS SigV4: no token",
			"✓ MCP initialize and tools/list"}},
		{name: "SSM", flags: []string{"--ssm-prefix", ssmPrefix}, want: []string{
			"✓ client from AWS: read /app/mcp/demo/machine_client_id (String), /app/mcp/demo/cognito_discovery_url (String), /app/mcp/demo/cognito_secret (SecureString); values never shown",
			"✓ token: fingerprint", "✓ MCP initialize and tools/list"}},
		{name: "Secrets Manager", secret: `{"client_secret":"` + testClientSecret + `"}`,
			flags: []string{"--client-id", testClientID, "--discovery-url", "DISCOVERY", "--client-secret-arn", "agentcore-proxy/client"}, want: []string{
				"✓ client from AWS: read secretsmanager:agentcore-proxy/client#client_secret (SecretString); values never shown",
				"✓ MCP initialize and tools/list"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			emu := startEmulator(t, emulator.Config{})
			emu.SetSigV4(tt.sigv4)
			var secrets []emulator.Secret
			if tt.secret != "" {
				secrets = []emulator.Secret{{Name: "agentcore-proxy/client", SecretString: tt.secret}}
			}
			startAWS(t, emu, secrets...)
			args := []string{"doctor", "--runtime-arn", emu.RuntimeARN(), "--endpoint-url", emu.EndpointURL()}
			for _, f := range tt.flags {
				if f == "DISCOVERY" {
					f = emu.DiscoveryURL()
				}
				args = append(args, f)
			}
			stdout, stderr, err := runCmd(t, nil, args...)
			if err != nil {
				t.Fatalf("doctor = %v\n%s%s", err, stdout, stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(stdout, w) {
					t.Errorf("doctor output lacks %q:\n%s", w, stdout)
				}
			}
			for _, secret := range []string{testClientSecret, emulator.DefaultAWSCredential.SecretAccessKey, emulator.DefaultAWSCredential.AccessKeyID} {
				if strings.Contains(stdout+stderr, secret) {
					t.Errorf("doctor output holds a secret or key")
				}
			}
		})
	}
}
