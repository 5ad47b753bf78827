package e2e

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/agentcore-proxy/agentcore-proxy/internal/emulator"
	"github.com/agentcore-proxy/agentcore-proxy/proxy"
)

func TestDNSRebindingRefused(t *testing.T) {
	emu := startEmulator(t, emulator.Config{})
	p := startProxy(t, secretEnv, proxyFlags(emu, "--allowed-host", "proxy.internal", "--allowed-origin", "https://app.example.com")...)
	tests := []struct {
		name, host, origin string
		want               int
	}{
		{name: "evil host", host: "evil.example", want: 403},
		{name: "evil host with port", host: "evil.example:8080", want: 403},
		{name: "evil origin", host: "127.0.0.1", origin: "http://evil.example", want: 403},
		{name: "null origin", host: "127.0.0.1", origin: "null", want: 403},
		{name: "missing host", host: "", want: 403},
		{name: "loopback", host: "127.0.0.1", want: 200},
		{name: "localhost with a local page", host: "localhost:6274", origin: "http://localhost:6274", want: 200},
		{name: "allowed host", host: "proxy.internal", want: 200},
		{name: "allowed origin", host: "127.0.0.1", origin: "https://app.example.com", want: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(emu.Invocations())
			status := rawPost(t, p.BaseURL, tt.host, tt.origin, addCall(1))
			if status != tt.want {
				t.Errorf("POST with Host %q Origin %q = %d, want %d", tt.host, tt.origin, status, tt.want)
			}
			if sent := len(emu.Invocations()) - before; tt.want == 403 && sent != 0 {
				t.Errorf("AgentCore saw %d requests, want 0", sent)
			}
		})
	}
}

// rawPost sends a POST over a raw connection so that the Host header can be
// anything, or absent (HTTP/1.0), and returns the status.
func rawPost(t *testing.T, base, host, origin, body string) int {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var b strings.Builder
	if host == "" {
		b.WriteString("POST /mcp HTTP/1.0\r\n")
	} else {
		b.WriteString("POST /mcp HTTP/1.1\r\nHost: " + host + "\r\n")
	}
	if origin != "" {
		b.WriteString("Origin: " + origin + "\r\n")
	}
	b.WriteString("Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\nConnection: close\r\n")
	b.WriteString("Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body)
	if _, err := conn.Write([]byte(b.String())); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestOffLoopbackNeedsInboundCredential(t *testing.T) {
	emu := startEmulator(t, emulator.Config{})
	// Without a credential: refuses to start, one clear line.
	cmd := exec.CommandContext(t.Context(), binary(t), "serve", "--listen", "0.0.0.0:0", "--upstream-url", emu.InvocationURL("DEFAULT"))
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(string(out), "--inbound-token-file") || strings.Count(strings.TrimSpace(string(out)), "\n") != 0 {
		t.Fatalf("serve --listen 0.0.0.0:0 = %v\n%s\nwant exit 1 with one line naming --inbound-token-file", err, out)
	}

	const token = "0123456789abcdef0123456789abcdef"
	file := filepath.Join(t.TempDir(), "inbound")
	os.WriteFile(file, []byte(token+"\n"), 0o600)
	p := startProxy(t, secretEnv, proxyFlags(emu, "--listen", "0.0.0.0:0", "--inbound-token-file", file)...)
	base := strings.Replace(p.BaseURL, "0.0.0.0", "127.0.0.1", 1)
	p.BaseURL = base
	tests := []struct {
		name, token string
		want        int
	}{
		{name: "missing", want: 401},
		{name: "wrong", token: "0123456789abcdef0123456789abcdeX", want: 401},
		{name: "right", token: token, want: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(emu.Invocations())
			h := http.Header{}
			if tt.token != "" {
				h.Set(proxy.HeaderInboundToken, tt.token)
			}
			resp, _ := postRPC(t, p.MCPURL(), addCall(1), h)
			if resp.StatusCode != tt.want {
				t.Errorf("token %q: status %d, want %d", tt.token, resp.StatusCode, tt.want)
			}
			invs := emu.Invocations()[before:]
			if tt.want == 401 && len(invs) != 0 {
				t.Errorf("AgentCore saw %d requests, want 0", len(invs))
			}
			for _, inv := range invs {
				if inv.Header.Get(proxy.HeaderInboundToken) != "" {
					t.Errorf("the inbound token was forwarded upstream")
				}
			}
		})
	}
	// Probes need no token.
	resp, err := http.Get(base + "/healthz")
	if err != nil {
		t.Fatalf("GET /healthz without a token: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("GET /healthz without a token = %d, want 200", resp.StatusCode)
	}
}

func TestUnixSocket(t *testing.T) {
	emu := startEmulator(t, emulator.Config{})
	sock := filepath.Join(t.TempDir(), "proxy.sock")
	startProxy(t, secretEnv, proxyFlags(emu, "--listen", "unix:"+sock)...)
	fi, err := os.Stat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode = %v, want a socket with 0600", fi.Mode())
	}
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	req, _ := http.NewRequest(http.MethodPost, "http://localhost/mcp", strings.NewReader(addCall(2)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("POST over the unix socket = %d, want 200", resp.StatusCode)
	}
}
