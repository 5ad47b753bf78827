// Tests of the sidecar deployment assets: the Kubernetes kustomize base, the
// ECS task definition, the CloudFormation template, the compose file and the
// image build files. Each manifest is decoded strictly (unknown fields fail)
// into the types of the system that reads it, or into a strict mirror where
// no Go types can decode it, and checked for the promises README makes.
package deploy

import (
	"net"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const readmeFile = "../README.md"

// knownEnv returns the AGENTCORE_PROXY_* variables README documents.
func knownEnv(t *testing.T) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(readmeFile)
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]bool{}
	for _, m := range regexp.MustCompile(`AGENTCORE_PROXY_[A-Z0-9_]+`).FindAllString(string(b), -1) {
		vars[m] = true
	}
	if len(vars) < 20 {
		t.Fatalf("README names %d AGENTCORE_PROXY_* variables, want the flag table", len(vars))
	}
	return vars
}

// checkEnvNames fails for a variable README does not document: a typo there
// would be silently ignored by the proxy.
func checkEnvNames(t *testing.T, where string, names []string) {
	t.Helper()
	known := knownEnv(t)
	for _, n := range names {
		if strings.HasPrefix(n, "AGENTCORE_PROXY_") && !known[n] {
			t.Errorf("%s: %s is not an agentcore-proxy variable (README's flag table)", where, n)
		}
	}
}

// checkLoopback fails unless addr is a loopback host:port: only then may the
// proxy listen without an inbound token.
func checkLoopback(t *testing.T, where, addr string) {
	t.Helper()
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		t.Errorf("%s: listen %q: %v", where, addr, err)
		return
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		t.Errorf("%s: listen %q is not loopback; the sidecar needs no inbound token only on loopback", where, addr)
	}
}

// port returns the port of a host:port.
func port(t *testing.T, addr string) string {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("SplitHostPort(%q): %v", addr, err)
	}
	return p
}

func TestEveryFileIsChecked(t *testing.T) {
	// A new manifest must get a test: list what the tests here read.
	checked := []string{
		"Dockerfile", "Dockerfile.scratch", "Dockerfile.dockerignore", "build-image.sh", "smoke-test.sh",
		"compose.yaml", "ecs/task-definition.json",
		"cloudformation/cognito-m2m.yaml", "cloudformation/agentcore-authorizer.json",
		"kubernetes/kustomization.yaml", "kubernetes/deployment.yaml", "kubernetes/configmap.yaml",
		"kubernetes/serviceaccount.yaml", "kubernetes/podmonitor.yaml",
	}
	for _, dir := range []string{".", "ecs", "cloudformation", "kubernetes"} {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			name := e.Name()
			if dir != "." {
				name = dir + "/" + name
			}
			if e.IsDir() || strings.HasSuffix(name, ".go") || name == "go.mod" || name == "go.sum" {
				continue
			}
			if !slices.Contains(checked, name) {
				t.Errorf("deploy/%s has no test in this package", name)
			}
		}
	}
}
