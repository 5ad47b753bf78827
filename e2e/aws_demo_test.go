package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentcore-proxy/agentcore-proxy/internal/emulator"
)

// TestDemoSigV4 runs demo --auth sigv4 with a poisoned AWS environment (a
// bogus key, a config file that does not parse, an unreachable endpoint):
// the demo signs with its in-process example key and never reads them, and a
// Go SDK client calls a tool through it.
func TestDemoSigV4(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "config")
	if err := os.WriteFile(bad, []byte("[profile broken\nnot ini at all"), 0o600); err != nil {
		t.Fatal(err)
	}
	awsEnv(t, map[string]string{"AWS_ACCESS_KEY_ID": "AKIABOGUSEXAMPLE0000", "AWS_SECRET_ACCESS_KEY": "bogus",
		"AWS_CONFIG_FILE": bad, "AWS_PROFILE": "broken", "AWS_ENDPOINT_URL": "http://127.0.0.1:1"})
	p := startProxy(t, nil, "demo", "--listen", "127.0.0.1:0", "--log-format", "json", "--auth", "sigv4")
	waitReady(t, p)
	want := "Signing:       AWS SigV4, service bedrock-agentcore, region us-west-2, example access key " + fingerprint(emulator.DefaultAWSCredential.AccessKeyID)
	if out := waitStdout(p, want); !strings.Contains(out, want) {
		t.Errorf("demo banner does not show the signing mode:\n%s", out)
	}
	cs := connect(t, p.MCPURL(), nil)
	if got := callText(t, cs, "multiply_numbers", map[string]any{"a": 6, "b": 7}); got != "42" {
		t.Errorf("multiply_numbers(6, 7) = %q, want 42", got)
	}
	status, body := httpGet(t, p.BaseURL+"/readyz")
	var ready struct {
		Routes map[string]struct {
			Auth string `json:"auth"`
		} `json:"routes"`
	}
	json.Unmarshal([]byte(body), &ready)
	if status != http.StatusOK || ready.Routes["default"].Auth != "sigv4" {
		t.Errorf("/readyz = %d %s, want 200 with auth sigv4", status, body)
	}
}
