package e2e

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agentcore-proxy/agentcore-proxy/internal/emulator"
)

// connect opens a Go SDK MCP client session to url.
func connect(t *testing.T, url string, opts *mcp.ClientOptions) *mcp.ClientSession {
	t.Helper()
	client := mcp.NewClient(&mcp.Implementation{Name: "e2e-test", Version: "1"}, opts)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: url, HTTPClient: &http.Client{}}, nil)
	if err != nil {
		t.Fatalf("Connect(%s): %v", url, err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

// callText calls a tool and returns its text content.
func callText(t *testing.T, cs *mcp.ClientSession, name string, args map[string]any) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("CallTool(%s, %v): %v", name, args, err)
	}
	if res.IsError {
		t.Fatalf("CallTool(%s, %v) is an error result: %+v", name, args, res.Content)
	}
	var texts []string
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			texts = append(texts, tc.Text)
		}
	}
	return strings.Join(texts, "")
}

func TestGoSDKClientThroughProxy(t *testing.T) {
	emu := startEmulator(t, emulator.Config{})
	p := startProxy(t, map[string]string{"AGENTCORE_PROXY_CLIENT_SECRET": testClientSecret}, proxyFlags(emu)...)
	cs := connect(t, p.MCPURL(), nil)

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	tools, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatalf("ListTools: %v", err)
	}
	var names []string
	for _, tool := range tools.Tools {
		names = append(names, tool.Name)
	}
	for _, want := range []string{"add_numbers", "multiply_numbers", "greet_user"} {
		if !slices.Contains(names, want) {
			t.Errorf("tools/list = %v, want it to include %s", names, want)
		}
	}
	calls := []struct {
		tool string
		args map[string]any
		want string
	}{
		{tool: "add_numbers", args: map[string]any{"a": 5, "b": 3}, want: "8"},
		{tool: "multiply_numbers", args: map[string]any{"a": 4, "b": 7}, want: "28"},
		{tool: "greet_user", args: map[string]any{"name": "Alice"}, want: "Hello, Alice! Nice to meet you."},
	}
	for _, c := range calls {
		if got := callText(t, cs, c.tool, c.args); got != c.want {
			t.Errorf("%s(%v) = %q, want %q", c.tool, c.args, got, c.want)
		}
	}
	if got := emu.Stats().TokenRequests; got != 1 {
		t.Errorf("token requests = %d, want 1", got)
	}
}

// connectHTTP connects a Go SDK client to a serve front.
func connectHTTP(t *testing.T, url, version string, opts *mcp.ClientOptions) *mcp.ClientSession {
	t.Helper()
	c := mcp.NewClient(&mcp.Implementation{Name: "e2e-serve", Version: "1"}, opts)
	cs, err := c.Connect(t.Context(), &mcp.StreamableClientTransport{Endpoint: url, DisableStandaloneSSE: true},
		&mcp.ClientSessionOptions{ProtocolVersion: version})
	if err != nil {
		t.Fatalf("Connect(%s) through agentcore-proxy serve: %v", version, err)
	}
	if got := cs.InitializeResult().ProtocolVersion; got != version {
		t.Fatalf("negotiated protocol %q, want %q", got, version)
	}
	return cs
}
