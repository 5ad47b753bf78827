package e2e

import (
	"context"
	"os/exec"
	"testing"
	"time"
)

// TestImageSmoke builds the FROM scratch image and runs it with podman
// against the demo emulator (deploy/smoke-test.sh says what it checks).
func TestImageSmoke(t *testing.T) {
	needs(t, "podman, runc, Node and the npm MCP clients")
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "../deploy/smoke-test.sh")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("deploy/smoke-test.sh: %v\n%s", err, out)
	}
	t.Logf("deploy/smoke-test.sh:\n%s", out)
}
