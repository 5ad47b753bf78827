package server

import (
	"crypto/sha256"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/agentcore-proxy/agentcore-proxy/proxy"
)

const testInbound = "0123456789abcdef0123456789abcdef"

func testGuard() *Guard {
	sum := sha256.Sum256([]byte(testInbound))
	return NewGuard(GuardConfig{AllowedHosts: []string{"Proxy.Internal"}, AllowedOrigins: []string{"https://app.example.com"}, TokenSHA256: sum[:]})
}

func TestGuard(t *testing.T) {
	tests := []struct {
		name, path, host, origin, token string
		want                            int
	}{
		{name: "loopback with token", path: "/mcp", host: "127.0.0.1:8080", token: testInbound, want: 200},
		{name: "ipv6 loopback", path: "/mcp", host: "[::1]:8080", token: testInbound, want: 200},
		{name: "token with spaces around", path: "/mcp", host: "localhost", token: " " + testInbound + " ", want: 200},
		{name: "no token", path: "/mcp", host: "localhost", want: 401},
		{name: "token prefix", path: "/mcp", host: "localhost", token: testInbound[:20], want: 401},
		{name: "rebinding host", path: "/mcp", host: "evil.example", token: testInbound, want: 403},
		{name: "host that ends in a loopback-looking name", path: "/mcp", host: "127.0.0.1.evil.example", token: testInbound, want: 403},
		{name: "empty host", path: "/mcp", token: testInbound, want: 403},
		{name: "allowed host, any case", path: "/mcp", host: "Proxy.Internal:9000", token: testInbound, want: 200},
		{name: "page on this machine", path: "/mcp", host: "localhost", origin: "http://127.0.0.1:6274", token: testInbound, want: 200},
		{name: "foreign page", path: "/mcp", host: "localhost", origin: "https://evil.example", token: testInbound, want: 403},
		{name: "allowed page", path: "/mcp", host: "localhost", origin: "https://app.example.com", token: testInbound, want: 200},
		{name: "allowed page, other port", path: "/mcp", host: "localhost", origin: "https://app.example.com:8443", token: testInbound, want: 403},
		{name: "probe from a kubelet", path: "/readyz", host: "10.1.2.3:8080", want: 200},
		{name: "status page needs the guard", path: "/", host: "10.1.2.3:8080", want: 403},
	}
	g := testGuard()
	h := g.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get(proxy.HeaderInboundToken) != "" {
			t.Errorf("the inbound token reached the handler")
		}
	}))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, tt.path, nil)
			r.Host = tt.host
			if tt.origin != "" {
				r.Header.Set("Origin", tt.origin)
			}
			if tt.token != "" {
				r.Header.Set(proxy.HeaderInboundToken, tt.token)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			if rec.Code != tt.want {
				t.Errorf("guard(Host %q, Origin %q, token %q) = %d, want %d: %s", tt.host, tt.origin, tt.token, rec.Code, tt.want, rec.Body)
			}
		})
	}
}

func FuzzGuardHeaders(f *testing.F) {
	f.Add("127.0.0.1:8080", "http://localhost:6274", testInbound)
	f.Add("evil.example", "null", "")
	f.Add("[::1", "http://[::1]:99999", testInbound+"x")
	f.Add("localhost.", "https://app.example.com/", " \t"+testInbound)
	g := testGuard()
	f.Fuzz(func(t *testing.T, host, origin, token string) {
		// Invariants: only loopback or allowed hosts pass; only the exact
		// token (after trimming) passes; nothing panics.
		if g.hostOK(host) {
			h := host
			if hh, _, err := net.SplitHostPort(host); err == nil {
				h = hh
			}
			h = strings.ToLower(strings.Trim(h, "[]"))
			if !proxy.IsLoopbackHost(h) && h != "proxy.internal" {
				t.Fatalf("hostOK(%q) = true for a foreign host", host)
			}
		}
		if g.originOK(origin) && !strings.Contains(strings.ToLower(origin), "localhost") && !strings.Contains(origin, "127.") &&
			!strings.Contains(origin, "::1") && !strings.HasPrefix(strings.ToLower(origin), "https://app.example.com") {
			t.Fatalf("originOK(%q) = true for a foreign origin", origin)
		}
		if g.tokenOK(token) != (strings.TrimSpace(token) == testInbound) {
			t.Fatalf("tokenOK(%q) = %v", token, g.tokenOK(token))
		}
	})
}
