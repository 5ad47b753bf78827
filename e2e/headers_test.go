package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/agentcore-proxy/agentcore-proxy/internal/emulator"
)

// TestHeaderMismatchThroughServe: through the real serve command, a
// tools/call whose Mcp-Method header claims ping, or whose Mcp-Name names
// another tool, gets 400 with -32020 naming both values and never reaches
// AgentCore; agreeing headers call the tool; and a header claiming ping
// does not get a tools/call retried after a 409.
func TestHeaderMismatchThroughServe(t *testing.T) {
	emu := startEmulator(t, emulator.Config{})
	p := startProxy(t, secretEnv, proxyFlags(emu)...)
	waitReady(t, p)
	tests := []struct {
		name       string
		header     http.Header
		wantStatus int
		wantInMsg  []string
	}{
		{name: "Mcp-Method claims ping", header: http.Header{"Mcp-Method": {"ping"}},
			wantStatus: 400, wantInMsg: []string{`Mcp-Method is "ping"`, `method is "tools/call"`}},
		{name: "Mcp-Name names another tool", header: http.Header{"Mcp-Method": {"tools/call"}, "Mcp-Name": {"multiply_numbers"}},
			wantStatus: 400, wantInMsg: []string{`Mcp-Name is "multiply_numbers"`, `params.name is "add_numbers"`}},
		{name: "agreeing headers", header: http.Header{"Mcp-Method": {"tools/call"}, "Mcp-Name": {"add_numbers"}}, wantStatus: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(emu.Invocations())
			resp, reply := postRPC(t, p.MCPURL(), addCall(4), tt.header)
			sent := len(emu.Invocations()) - before
			if tt.wantStatus == 200 {
				wantSum(t, resp, reply, 4)
				if sent != 1 {
					t.Errorf("AgentCore saw %d invocations, want 1", sent)
				}
				return
			}
			if resp.StatusCode != tt.wantStatus || reply.Error == nil || reply.Error.Code != -32020 || string(reply.ID) != "4" {
				t.Fatalf("answer = %d %+v id %s, want %d with -32020 and id 4", resp.StatusCode, reply.Error, reply.ID, tt.wantStatus)
			}
			for _, w := range tt.wantInMsg {
				if !strings.Contains(reply.Error.Message, w) {
					t.Errorf("message %q lacks %q", reply.Error.Message, w)
				}
			}
			if sent != 0 {
				t.Errorf("AgentCore saw %d invocations, want none", sent)
			}
		})
	}
	t.Run("409 on tools/call is not retried whatever the header", func(t *testing.T) {
		emu.InjectFault(emulator.Fault{Status: 409, ErrorType: "RetryableConflictException", Message: "Session operation in progress, please retry"}, 1)
		before := len(emu.Invocations())
		// The body says ping twice, tools/call last: servers run the last.
		body := `{"jsonrpc":"2.0","id":5,"method":"ping","params":{"name":"add_numbers","arguments":{"a":1,"b":1}},"method":"tools/call"}`
		resp, _ := postRPC(t, p.MCPURL(), body, http.Header{"Mcp-Method": {"tools/call"}})
		if resp.StatusCode != 409 {
			t.Errorf("status = %d, want 409 passed on", resp.StatusCode)
		}
		if sent := len(emu.Invocations()) - before; sent != 1 {
			t.Errorf("AgentCore saw %d invocations, want 1 (tools/call is not retried)", sent)
		}
	})
}
