package stdio_test

import (
	"net/http"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestEndSessionAtExit: when stdin closes, the front ends the upstream
// session with a DELETE carrying its id (2025-11-25); 2026-07-28 has no
// session to end.
func TestEndSessionAtExit(t *testing.T) {
	for _, tt := range []struct {
		version string
		deletes int
	}{
		{version: "2025-11-25", deletes: 1},
		{version: "2026-07-28", deletes: 0},
	} {
		t.Run(tt.version, func(t *testing.T) {
			r := startRig(t, 0)
			cs := r.connect(t, tt.version, nil)
			if _, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: "add_numbers", Arguments: map[string]any{"a": 1, "b": 2}}); err != nil {
				t.Fatal(err)
			}
			var sid string
			for _, inv := range r.emu.Invocations() {
				if inv.Method == http.MethodPost {
					sid = inv.Header.Get("Mcp-Session-Id")
				}
			}
			r.stdin.Close()
			if err := <-r.done; err != nil {
				t.Errorf("Run() = %v, want nil", err)
			}
			r.done <- nil // for the cleanup
			var deletes int
			for _, inv := range r.emu.Invocations() {
				if inv.Method != http.MethodDelete {
					continue
				}
				deletes++
				if got := inv.Header.Get("Mcp-Session-Id"); got != sid {
					t.Errorf("DELETE for session %q, want %q", got, sid)
				}
			}
			if deletes != tt.deletes {
				t.Errorf("upstream saw %d DELETEs after stdin closed, want %d", deletes, tt.deletes)
			}
			cs.Close()
		})
	}
}
