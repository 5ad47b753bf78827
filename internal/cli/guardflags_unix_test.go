//go:build unix

package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNewGuardTokenFileMode: a token file others may read is a warning
// naming the flag, the file and chmod 600; a 0600 one is not.
func TestNewGuardTokenFileMode(t *testing.T) {
	for _, tt := range []struct {
		mode os.FileMode
		warn bool
	}{{mode: 0o600}, {mode: 0o400}, {mode: 0o640, warn: true}, {mode: 0o604, warn: true}} {
		file := filepath.Join(t.TempDir(), "token")
		os.WriteFile(file, []byte(strings.Repeat("x", 32)), tt.mode)
		os.Chmod(file, tt.mode)
		f := guardFlags{inboundTokenFile: file}
		_, warnings, err := f.newGuard("0.0.0.0:8080")
		if err != nil {
			t.Fatalf("newGuard with a %04o token file: %v", tt.mode, err)
		}
		got := strings.Join(warnings, "\n")
		if tt.warn != (strings.Contains(got, `--inbound-token-file "`+file+`"`) && strings.Contains(got, "chmod 600 "+file)) || !tt.warn && got != "" {
			t.Errorf("newGuard with a %04o token file: warnings %q, want a chmod 600 warning: %v", tt.mode, got, tt.warn)
		}
	}
}
