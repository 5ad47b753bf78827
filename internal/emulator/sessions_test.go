package emulator

import (
	"encoding/json"
	"net/http"
	"testing"
)

// TestEndSessions checks the lever tests use to lose sessions: afterwards an
// old Mcp-Session-Id gets 404 with the body the MCP Python SDK sends, a new
// initialize works, and initializes are counted.
func TestEndSessions(t *testing.T) {
	e := startEmulator(t, Config{})
	url := invocationURL(t, e.EndpointURL(), e.RuntimeARN(), "qualifier=DEFAULT")
	token := fetchToken(t, e)

	first := rawInvoke(t, e, http.MethodPost, url, token, nil)
	if first.status != http.StatusOK {
		t.Fatalf("initialize: status %d, body %s", first.status, first.body)
	}
	old := first.header.Get(headerMcpSessionID)
	if old == "" {
		t.Fatal("initialize: no Mcp-Session-Id in the answer")
	}
	if got := rawInvoke(t, e, http.MethodPost, url, token, http.Header{headerMcpSessionID: {old}}); got.status != http.StatusOK {
		t.Fatalf("before EndSessions: status %d, want 200", got.status)
	}

	e.EndSessions()
	got := rawInvoke(t, e, http.MethodPost, url, token, http.Header{headerMcpSessionID: {old}})
	const want = `{"jsonrpc":"2.0","id":"server-error","error":{"code":-32600,"message":"Session not found"}}`
	if got.status != http.StatusNotFound || !jsonEqual(decodeJSON(t, got.body), decodeJSON(t, want)) {
		t.Errorf("after EndSessions: %d %s, want 404 %s", got.status, got.body, want)
	}
	fresh := rawInvoke(t, e, http.MethodPost, url, token, nil)
	if fresh.status != http.StatusOK || fresh.header.Get(headerMcpSessionID) == old || fresh.header.Get(headerMcpSessionID) == "" {
		t.Errorf("new initialize: status %d, session %q (old %q), want 200 and a new id", fresh.status, fresh.header.Get(headerMcpSessionID), old)
	}
	st := e.Stats()
	if st.Initializes != 3 || st.Rejections[ReasonSessionEnded] != 1 {
		t.Errorf("Stats() = %d initializes, %d session_ended, want 3 and 1", st.Initializes, st.Rejections[ReasonSessionEnded])
	}
}

func decodeJSON(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("decode %q: %v", s, err)
	}
	return v
}
