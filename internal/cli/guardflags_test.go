package cli

import (
	"strings"
	"testing"
)

func TestNewGuard(t *testing.T) {
	tests := []struct {
		name    string
		listen  string
		flags   guardFlags
		wantErr string
		warn    bool
	}{
		{name: "loopback", listen: "127.0.0.1:8080"},
		{name: "all interfaces without credential", listen: "0.0.0.0:8080", wantErr: "--inbound-token-file"},
		{name: "empty host binds all", listen: ":8080", wantErr: "not a loopback address"},
		{name: "insecure on purpose", listen: "0.0.0.0:8080", flags: guardFlags{insecureNoInboundAuth: true}, warn: true},
		{name: "unix socket", listen: "unix:/tmp/x.sock"},
		{name: "bad origin", listen: "127.0.0.1:1", flags: guardFlags{allowedOrigins: listFlag{"app.example.com"}}, wantErr: `--allowed-origin "app.example.com"`},
		{name: "missing token file", listen: "0.0.0.0:1", flags: guardFlags{inboundTokenFile: "/nonexistent/token"}, wantErr: "--inbound-token-file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, warnings, err := tt.flags.newGuard(tt.listen)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("newGuard(%q) error = %v, want %q", tt.listen, err, tt.wantErr)
			}
			if tt.warn != (len(warnings) > 0) {
				t.Errorf("newGuard(%q) warnings = %q, want some: %v", tt.listen, warnings, tt.warn)
			}
		})
	}
}
