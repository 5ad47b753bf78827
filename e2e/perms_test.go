//go:build unix

package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentcore-proxy/agentcore-proxy/internal/emulator"
)

// warnings returns the messages of the WARN lines in JSON logs.
func warnings(logs string) []string {
	var out []string
	for _, line := range strings.Split(logs, "\n") {
		var l struct{ Level, Msg string }
		if json.Unmarshal([]byte(line), &l) == nil && l.Level == "WARN" {
			out = append(out, l.Msg)
		}
	}
	return out
}

// writeMode writes a file with exactly mode, past the umask.
func writeMode(t *testing.T, path, content string, mode os.FileMode) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestSecretFilePermissions: serve and stdio warn at start about a secret
// or token file that users besides its owner may read, naming the file
// and chmod 600, and still run; a 0600 file gets no warning; doctor lists
// the file with the fix and still passes.
func TestSecretFilePermissions(t *testing.T) {
	emu := startEmulator(t, emulator.Config{})
	dir := t.TempDir()
	tight := writeMode(t, filepath.Join(dir, "tight-secret"), testClientSecret, 0o600)
	loose := writeMode(t, filepath.Join(dir, "loose-secret"), testClientSecret, 0o644)
	// A Kubernetes secret volume: the file is a symlink into ..data.
	link := filepath.Join(dir, "linked-secret")
	if err := os.Symlink(loose, link); err != nil {
		t.Fatal(err)
	}
	token := writeMode(t, filepath.Join(dir, "inbound-token"), strings.Repeat("t0ken", 8), 0o640)

	exposed := func(msgs []string, setting, file string) bool {
		for _, m := range msgs {
			if strings.Contains(m, setting+` "`+file+`"`) && strings.Contains(m, "chmod 600 "+file) {
				return true
			}
		}
		return false
	}
	t.Run("serve warns", func(t *testing.T) {
		p := startProxy(t, nil, proxyFlags(emu, "--client-secret-file", link, "--inbound-token-file", token)...)
		msgs := warnings(p.Logs())
		if !exposed(msgs, "--client-secret-file", link) {
			t.Errorf("serve warnings = %q, want one naming --client-secret-file %s and chmod 600", msgs, link)
		}
		if !exposed(msgs, "--inbound-token-file", token) {
			t.Errorf("serve warnings = %q, want one naming --inbound-token-file %s and chmod 600", msgs, token)
		}
		waitReady(t, p) // a warning, not a refusal
	})
	t.Run("serve with 0600 files is quiet", func(t *testing.T) {
		os.Chmod(token, 0o600)
		p := startProxy(t, nil, proxyFlags(emu, "--client-secret-file", tight, "--inbound-token-file", token)...)
		for _, m := range warnings(p.Logs()) {
			if strings.Contains(m, "chmod") {
				t.Errorf("serve warned %q about a 0600 file", m)
			}
		}
	})
	t.Run("stdio warns", func(t *testing.T) {
		_, stderr, err := runCmd(t, nil, "stdio", "--log-format", "json", "--runtime-arn", emu.RuntimeARN(), "--endpoint-url", emu.EndpointURL(),
			"--discovery-url", emu.DiscoveryURL(), "--client-id", testClientID, "--client-secret-file", loose)
		if err != nil {
			t.Fatalf("stdio: %v\n%s", err, stderr)
		}
		if msgs := warnings(stderr); !exposed(msgs, "--client-secret-file", loose) {
			t.Errorf("stdio warnings = %q, want one naming %s and chmod 600", msgs, loose)
		}
	})
	t.Run("doctor lists it", func(t *testing.T) {
		stdout, _, err := runCmd(t, nil, "doctor", "--runtime-arn", emu.RuntimeARN(), "--endpoint-url", emu.EndpointURL(),
			"--discovery-url", emu.DiscoveryURL(), "--client-id", testClientID, "--client-secret-file", loose)
		if err != nil {
			t.Fatalf("doctor = %v, want a pass with a warning\n%s", err, stdout)
		}
		want := `  ! file permissions: --client-secret-file "` + loose + `" (the app client's secret) has mode 0644: its group`
		if !strings.Contains(stdout, want) || !strings.Contains(stdout, "chmod 600 "+loose) {
			t.Errorf("doctor output lacks %q and chmod 600:\n%s", want, stdout)
		}
		stdout, _, _ = runCmd(t, nil, "doctor", "--runtime-arn", emu.RuntimeARN(), "--endpoint-url", emu.EndpointURL(),
			"--discovery-url", emu.DiscoveryURL(), "--client-id", testClientID, "--client-secret-file", tight)
		if strings.Contains(stdout, "file permissions") {
			t.Errorf("doctor lists a 0600 file:\n%s", stdout)
		}
	})
}
