package proxy_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentcore-proxy/agentcore-proxy/proxy"
)

// lockedBuffer is a log sink safe for the proxy's concurrent writes.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestSessionRecoveryLogsIdleAndAge: by Options.Now, the log line of a lost
// session says how long it had been idle and how old it was, so that a
// reader tells AgentCore's idle timeout (15 min by default) from its maximum
// lifetime (8 h); the recovered session starts both anew.
func TestSessionRecoveryLogsIdleAndAge(t *testing.T) {
	var (
		mu  sync.Mutex
		now = time.Date(2030, 1, 1, 9, 0, 0, 0, time.UTC)
	)
	advance := func(d time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(d)
	}
	logs := &lockedBuffer{}
	rig := startRig(t, true, nil, func(o *proxy.Options) {
		o.Logger = slog.New(slog.NewTextHandler(logs, nil))
		o.Now = func() time.Time {
			mu.Lock()
			defer mu.Unlock()
			return now
		}
	})
	cs := connectGo(t, rig.url, "2025-11-25")
	advance(10 * time.Minute)
	if err := add(t, cs, 1, 2); err != nil {
		t.Fatalf("before the loss: %v", err)
	}
	advance(16 * time.Minute)
	rig.emu.EndSessions()
	if err := add(t, cs, 2, 3); err != nil {
		t.Fatalf("after the loss: %v", err)
	}
	lost := lines(logs.String(), "upstream MCP session lost")
	if len(lost) != 1 || !strings.Contains(lost[0], "result=recovered") ||
		!strings.Contains(lost[0], "idle=16m0s") || !strings.Contains(lost[0], "session_age=26m0s") {
		t.Fatalf("log lines of the loss = %q, want one recovered with idle=16m0s session_age=26m0s", lost)
	}

	advance(8 * time.Hour)
	rig.emu.EndSessions()
	if err := add(t, cs, 3, 4); err != nil {
		t.Fatalf("after the second loss: %v", err)
	}
	lost = lines(logs.String(), "upstream MCP session lost")
	if len(lost) != 2 || !strings.Contains(lost[1], "idle=8h0m0s") || !strings.Contains(lost[1], "session_age=8h0m0s") {
		t.Errorf("log lines of the second loss = %q, want idle and age of 8h0m0s, counted from the recovery", lost)
	}
}

// lines returns the lines of logs that contain s.
func lines(logs, s string) []string {
	var out []string
	for l := range strings.Lines(logs) {
		if strings.Contains(l, s) {
			out = append(out, strings.TrimSpace(l))
		}
	}
	return out
}

// TestExplainedReasonLoggedOnceAMinute: each failure reason is logged at
// most once a minute by Options.Now, however often it happens.
func TestExplainedReasonLoggedOnceAMinute(t *testing.T) {
	var (
		mu  sync.Mutex
		now = time.Date(2030, 1, 1, 9, 0, 0, 0, time.UTC)
	)
	logs := &lockedBuffer{}
	rig := startRig(t, false, nil, func(o *proxy.Options) {
		o.Logger = slog.New(slog.NewTextHandler(logs, nil))
		o.Now = func() time.Time {
			mu.Lock()
			defer mu.Unlock()
			return now
		}
	})
	cs := connectGo(t, rig.url, "2025-11-25")
	rig.emu.EndSessions()
	for i, tt := range []struct {
		wait      time.Duration
		wantLines int
	}{
		{wait: 0, wantLines: 1},
		{wait: 59 * time.Second, wantLines: 1},
		{wait: time.Second, wantLines: 2},
	} {
		mu.Lock()
		now = now.Add(tt.wait)
		mu.Unlock()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, rig.url, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("Mcp-Session-Id", cs.ID())
		req.Header.Set("Mcp-Protocol-Version", "2025-11-25")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("request %d on the ended session = %d, want 404", i+1, resp.StatusCode)
		}
		if got := len(lines(logs.String(), "upstream error explained")); got != tt.wantLines {
			t.Errorf("log lines after request %d (+%v by Options.Now) = %d, want %d", i+1, tt.wait, got, tt.wantLines)
		}
	}
}
