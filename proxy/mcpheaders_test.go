package proxy

import (
	"net/http"
	"testing"
)

func TestPreferHeaders(t *testing.T) {
	tests := []struct {
		name             string
		body             string
		header           http.Header
		wantMethod, tool string
	}{
		{name: "body only", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a"}}`,
			wantMethod: "tools/call", tool: "a"},
		{name: "headers win", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"arguments":{"x":1}`,
			header:     http.Header{"Mcp-Method": {"tools/call"}, "Mcp-Name": {"greet_user"}},
			wantMethod: "tools/call", tool: "greet_user"},
		{name: "cut body", body: `{"jsonrpc":"2.0","id":1,`,
			header:     http.Header{"Mcp-Method": {"resources/read"}, "Mcp-Name": {"file:///x"}},
			wantMethod: "resources/read"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := sniffRequest([]byte(tt.body))
			s.preferHeaders(tt.header)
			if s.method != tt.wantMethod || s.tool != tt.tool {
				t.Errorf("preferHeaders() = method %q tool %q, want %q %q", s.method, s.tool, tt.wantMethod, tt.tool)
			}
		})
	}
}
