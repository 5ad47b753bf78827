package proxy

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// bodyRig is an upstream that records what it got, behind a Proxy behind
// LimitBodyRead, served on loopback.
type bodyRig struct {
	front *httptest.Server
	// requests counts requests whose body the upstream read to the end;
	// broken receives the error of a body that ended early.
	requests atomic.Int32
	broken   chan error
}

func startBodyRig(t *testing.T, timeout time.Duration, answer func(w http.ResponseWriter)) *bodyRig {
	t.Helper()
	rig := &bodyRig{broken: make(chan error, 1)}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.Copy(io.Discard, r.Body); err != nil {
			rig.broken <- err
			return
		}
		rig.requests.Add(1)
		answer(w)
	}))
	t.Cleanup(up.Close)
	target, _ := url.Parse(up.URL + "/mcp")
	p, err := New(Options{Route: "r", Target: target})
	if err != nil {
		t.Fatal(err)
	}
	rig.front = httptest.NewServer(LimitBodyRead(p, timeout))
	t.Cleanup(rig.front.Close)
	return rig
}

func jsonAnswer(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, `{"jsonrpc":"2.0","id":1,"result":{}}`)
}

// stall sends a POST's headers and the first sent bytes of a body of
// length bytes, then nothing, and returns the connection.
func stall(t *testing.T, addr string, length, sent int) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	head := fmt.Sprintf("POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", length)
	body := `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"pad":"` + strings.Repeat("x", max(sent-60, 0))
	if _, err := io.WriteString(conn, head+body[:min(sent, len(body))]); err != nil {
		t.Fatal(err)
	}
	return conn
}

// expect408 reads the answer on conn: 408 with a JSON-RPC error for id 7
// that names the setting, then the end of the connection.
func expect408(t *testing.T, conn net.Conn) {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(30 * time.Second)) // a bound for a broken proxy, not a wait
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("reading the answer to a stalled body: %v", err)
	}
	var e struct {
		ID    json.RawMessage `json:"id"`
		Error struct{ Message string }
	}
	json.NewDecoder(resp.Body).Decode(&e)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestTimeout || string(e.ID) != "7" || !strings.Contains(e.Error.Message, "body_read_timeout") {
		t.Errorf("answer to a stalled body = %d, id %s, %q; want 408 for id 7 naming body_read_timeout", resp.StatusCode, e.ID, e.Error.Message)
	}
	if !resp.Close {
		t.Errorf("the 408 has no Connection: close")
	}
	if n, err := io.Copy(io.Discard, br); err != nil || n != 0 {
		t.Errorf("after the 408: read %d more bytes, err %v; want the connection closed", n, err)
	}
}

// TestBodyReadTimeoutBuffered stalls a small body, which the proxy buffers
// before sending: 408, connection closed, nothing sent upstream.
func TestBodyReadTimeoutBuffered(t *testing.T) {
	rig := startBodyRig(t, 200*time.Millisecond, jsonAnswer)
	start := time.Now()
	expect408(t, stall(t, rig.front.Listener.Addr().String(), 500, 100))
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("408 after %v, before the timeout", d)
	}
	if n := rig.requests.Load(); n != 0 {
		t.Errorf("the upstream got %d requests, want 0", n)
	}
	select {
	case err := <-rig.broken:
		t.Errorf("the upstream got a broken body (%v); want nothing sent", err)
	default:
	}
}

// TestBodyReadTimeoutStreaming stalls a body larger than the replay buffer,
// which streams upstream as it comes: the upstream request is cut off (its
// body ends early) and the client gets 408.
func TestBodyReadTimeoutStreaming(t *testing.T) {
	rig := startBodyRig(t, 300*time.Millisecond, jsonAnswer)
	conn := stall(t, rig.front.Listener.Addr().String(), 4<<20, 2<<20)
	expect408(t, conn)
	select {
	case err := <-rig.broken:
		t.Logf("upstream body ended with %v", err)
	case <-time.After(10 * time.Second):
		t.Errorf("the upstream request was not cut off")
	}
	if n := rig.requests.Load(); n != 0 {
		t.Errorf("the upstream read %d whole bodies, want 0", n)
	}
}

// TestBodyReadTimeoutSpares checks that the bound ends with the body: an
// answer that streams for longer than the timeout is not cut, and the
// connection serves a next request.
func TestBodyReadTimeoutSpares(t *testing.T) {
	const timeout = 150 * time.Millisecond
	rig := startBodyRig(t, timeout, func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "text/event-stream")
		for i := range 3 {
			fmt.Fprintf(w, "data: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{\"progress\":%d}}\n\n", i)
			w.(http.Flusher).Flush()
			time.Sleep(timeout) // the stream outlasts the body's bound: what is tested
		}
		io.WriteString(w, "data: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n\n")
	})
	client := rig.front.Client()
	for i := range 2 {
		req, _ := http.NewRequest(http.MethodPost, rig.front.URL+"/mcp", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/call"}`))
		req.Header.Set("Accept", "application/json, text/event-stream")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || strings.Count(string(body), "data:") != 4 {
			t.Errorf("request %d: status %d, %d events, err %v; want 200 with 4 events", i, resp.StatusCode, strings.Count(string(body), "data:"), err)
		}
	}
	if n := rig.requests.Load(); n != 2 {
		t.Errorf("the upstream got %d requests, want 2", n)
	}
}
