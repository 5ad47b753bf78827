package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/agentcore-proxy/agentcore-proxy/internal/emulator"
)

func TestAcceptRepair(t *testing.T) {
	emu := startEmulator(t, emulator.Config{})
	p := startProxy(t, secretEnv, proxyFlags(emu)...)
	const initialize = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`
	tests := []struct {
		name, accept, contentType string
		wantType                  string
	}{
		{name: "json only", accept: "application/json", contentType: "application/json", wantType: "application/json"},
		{name: "any", accept: "*/*", contentType: "application/json", wantType: "application/json"},
		{name: "no accept", contentType: "application/json", wantType: "application/json"},
		{name: "no accept, no content type", wantType: "application/json"},
		{name: "both", accept: "application/json, text/event-stream", contentType: "application/json", wantType: "text/event-stream"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, p.MCPURL(), strings.NewReader(initialize))
			req.Header.Del("Accept")
			if tt.accept != "" {
				req.Header.Set("Accept", tt.accept)
			}
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			// A bare transport: http.Client adds nothing, and Go sends no Accept.
			resp, err := (&http.Transport{}).RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), tt.wantType) {
				t.Fatalf("POST initialize with Accept %q = %d %s %s; want 200 %s", tt.accept, resp.StatusCode, resp.Header.Get("Content-Type"), body, tt.wantType)
			}
			if tt.wantType == "application/json" {
				var reply struct {
					ID     int             `json:"id"`
					Result json.RawMessage `json:"result"`
				}
				if err := json.Unmarshal(body, &reply); err != nil || reply.ID != 1 || !strings.Contains(string(reply.Result), `"serverInfo"`) {
					t.Errorf("body = %s (%v); want the JSON-RPC initialize result", body, err)
				}
			}
		})
	}
	invs := emu.Invocations()
	for _, inv := range invs {
		if inv.Header.Get("Accept") != "application/json, text/event-stream" || inv.Header.Get("Content-Type") != "application/json" {
			t.Errorf("AgentCore saw Accept %q, Content-Type %q; want both MCP types and application/json", inv.Header.Get("Accept"), inv.Header.Get("Content-Type"))
		}
	}
}

func TestJWKSRotationNoFalseRejection(t *testing.T) {
	long(t, "waits for the refresh of a real 3 s token after the key rotation (jwtcheck's TestCheckAfterKeyRotation covers the rule)")
	emu := startEmulator(t, emulator.Config{TokenLifetime: 3 * time.Second})
	p := startProxy(t, secretEnv, proxyFlags(emu)...)
	waitReady(t, p)
	resp, reply := postRPC(t, p.MCPURL(), addCall(1), nil)
	wantSum(t, resp, reply, 1)

	emu.RotateKey()
	kid := emu.SigningKeyID()
	// Keep calling until a token signed with the new key has been used.
	deadline := time.Now().Add(20 * time.Second)
	for i := 2; ; i++ {
		resp, reply := postRPC(t, p.MCPURL(), addCall(i), nil)
		wantSum(t, resp, reply, i)
		if usedKey(t, emu, kid) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no token signed with the new key %s was used within 20 s", kid)
		}
		time.Sleep(50 * time.Millisecond) // pacing while the token is refreshed
	}
	if n := metricValue(t, p, "agentcore_proxy_token_rejections_total", "invalid_token"); n != 0 {
		t.Errorf("tokens rejected up front after the rotation: %v, want 0", n)
	}
	body := scrape(t, p.BaseURL+"/metrics")
	if !strings.Contains(body, `agentcore_proxy_jwks_refreshes_total{result="success",route="default"} 2`) {
		t.Errorf("want exactly 2 key-set fetches (start, and one on the new kid):\n%s", grepLines(body, "jwks"))
	}
	for reason, n := range emu.Stats().Rejections {
		t.Errorf("AgentCore rejected %d requests (%s), want none", n, reason)
	}
}

// usedKey reports whether AgentCore has authorized a token signed with kid.
func usedKey(t *testing.T, emu *emulator.Emulator, kid string) bool {
	t.Helper()
	for _, inv := range emu.Invocations() {
		if inv.Rejection == "" && inv.KeyID == kid {
			return true
		}
	}
	return false
}

func grepLines(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
