package e2e

import (
	"strings"
	"testing"

	"github.com/agentcore-proxy/agentcore-proxy/internal/emulator"
)

func TestTokenCommand(t *testing.T) {
	emu := startEmulator(t, emulator.Config{})
	base := []string{"token", "--runtime-arn", emu.RuntimeARN(), "--endpoint-url", emu.EndpointURL(),
		"--discovery-url", emu.DiscoveryURL(), "--client-id", testClientID}

	stdout, _, err := runCmd(t, secretEnv, base...)
	if err != nil || !tokenRe.MatchString(stdout) || strings.Count(strings.TrimSpace(stdout), "\n") != 0 {
		t.Fatalf("token = %q, %v; want one line holding a JWT", stdout, err)
	}

	stdout, _, err = runCmd(t, secretEnv, append(base, "--decode")...)
	if err != nil {
		t.Fatalf("token --decode: %v\n%s", err, stdout)
	}
	for _, w := range []string{`"kid":`, `"client_id": "demo-client-id"`, `"token_use": "access"`, "fingerprint: ", "check: ✓ passes the authorizer rules (allowedClients [demo-client-id])"} {
		if !strings.Contains(stdout, w) {
			t.Errorf("token --decode output lacks %q:\n%s", w, stdout)
		}
	}
	if tokenRe.MatchString(stdout) {
		t.Errorf("token --decode printed the token itself")
	}

	stdout, _, err = runCmd(t, secretEnv, append(base, "--decode", "--allowed-audience", "my-api")...)
	if err == nil || !strings.Contains(stdout, "check: ✗ jwtcheck: token has no aud claim") {
		t.Errorf("token --decode with an aud rule = %v\n%s\nwant an error and the ✗ line", err, stdout)
	}
	if got := emu.Stats().Invocations; got != 0 {
		t.Errorf("token called AgentCore %d times, want 0", got)
	}
}
