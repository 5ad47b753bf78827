package stdio_test

import (
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// BenchmarkToolCall measures one tools/call from a Go SDK client on the
// stdio front, through the real proxy handler in process, to the emulator,
// for each protocol generation.
func BenchmarkToolCall(b *testing.B) {
	for _, version := range []string{"2025-11-25", "2026-07-28"} {
		b.Run(version, func(b *testing.B) {
			r := startRig(b, time.Second)
			cs := r.connect(b, version, nil)
			defer cs.Close()
			params := &mcp.CallToolParams{Name: "add_numbers", Arguments: map[string]any{"a": 1, "b": 2}}
			for b.Loop() {
				if _, err := cs.CallTool(b.Context(), params); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
