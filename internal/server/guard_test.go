package server

import (
	"crypto/sha256"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/agentcore-proxy/agentcore-proxy/agentcore"
	"github.com/agentcore-proxy/agentcore-proxy/proxy"
)

const testInbound = "0123456789abcdef0123456789abcdef"

// flagLike names a setting as a flag, as internal/cli does.
func flagLike(s agentcore.Setting) string { return "--" + strings.ReplaceAll(string(s), "_", "-") }

func testGuard() *Guard {
	sum := sha256.Sum256([]byte(testInbound))
	return NewGuard(GuardConfig{AllowedHosts: []string{"Proxy.Internal"}, AllowedOrigins: []string{"https://app.example.com"}, TokenSHA256: sum[:],
		Names: flagLike})
}

func TestGuard(t *testing.T) {
	tests := []struct {
		name, path, host, origin, token, site string
		want                                  int
	}{
		{name: "cross-site GET without Origin", path: "/mcp", host: "127.0.0.1:8080", site: "cross-site", token: testInbound, want: 403},
		{name: "same-site GET without Origin", path: "/mcp", host: "localhost", site: "same-site", token: testInbound, want: 403},
		{name: "cross-site, any case", path: "/", host: "localhost", site: "Cross-Site", token: testInbound, want: 403},
		{name: "same-origin", path: "/mcp", host: "localhost", site: "same-origin", token: testInbound, want: 200},
		{name: "typed address", path: "/", host: "localhost", site: "none", token: testInbound, want: 200},
		{name: "cross-site from an allowed page", path: "/mcp", host: "localhost", origin: "https://app.example.com", site: "cross-site", token: testInbound, want: 200},
		{name: "cross-site from a local page", path: "/mcp", host: "localhost", origin: "http://localhost:6274", site: "cross-site", token: testInbound, want: 200},
		{name: "cross-site from a foreign page", path: "/mcp", host: "localhost", origin: "https://evil.example", site: "cross-site", token: testInbound, want: 403},
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
			if tt.site != "" {
				r.Header.Set("Sec-Fetch-Site", tt.site)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			if rec.Code != tt.want {
				t.Errorf("guard(Host %q, Origin %q, token %q, Sec-Fetch-Site %q) = %d, want %d: %s", tt.host, tt.origin, tt.token, tt.site, rec.Code, tt.want, rec.Body)
			}
			if tt.site != "" && tt.want == 403 && tt.origin == "" && !strings.Contains(rec.Body.String(), "--allowed-origin") {
				t.Errorf("refusal of Sec-Fetch-Site %q = %s, want the fix (--allowed-origin)", tt.site, rec.Body)
			}
		})
	}
}

// TestMetricsGuard checks the metrics listener's guard: any IP literal or
// loopback name passes as Host (Prometheus and kubelets use the pod's IP),
// a DNS name only if allowed, and probes are checked too.
func TestMetricsGuard(t *testing.T) {
	tests := []struct {
		name, path, host, origin, site string
		want                           int
	}{
		{name: "scrape by pod IP", path: "/metrics", host: "10.1.2.3:9090", want: 200},
		{name: "probe by IPv6 pod IP", path: "/readyz", host: "[fd00::12]:9090", want: 200},
		{name: "loopback", path: "/status", host: "127.0.0.1:9090", want: 200},
		{name: "localhost", path: "/debug/pprof/", host: "localhost:9090", want: 200},
		{name: "allowed name", path: "/metrics", host: "proxy.internal:9090", want: 200},
		{name: "rebinding name on the status page", path: "/status", host: "evil.example:9090", want: 403},
		{name: "rebinding name on a probe", path: "/readyz", host: "evil.example", want: 403},
		{name: "rebinding name on pprof", path: "/debug/pprof/heap", host: "evil.example", want: 403},
		{name: "name that looks like an IP", path: "/metrics", host: "10.1.2.3.evil.example", want: 403},
		{name: "no Host", path: "/metrics", want: 403},
		{name: "foreign page", path: "/status", host: "127.0.0.1:9090", origin: "https://evil.example", want: 403},
		{name: "cross-site without Origin", path: "/status", host: "127.0.0.1:9090", site: "cross-site", want: 403},
	}
	h := NewGuard(GuardConfig{AllowedHosts: []string{"proxy.internal"}, Metrics: true}).Wrap(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, tt.path, nil)
			r.Host = tt.host
			if tt.origin != "" {
				r.Header.Set("Origin", tt.origin)
			}
			if tt.site != "" {
				r.Header.Set("Sec-Fetch-Site", tt.site)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			if rec.Code != tt.want {
				t.Errorf("metrics guard(%s, Host %q, Origin %q, Sec-Fetch-Site %q) = %d, want %d: %s", tt.path, tt.host, tt.origin, tt.site, rec.Code, tt.want, rec.Body)
			}
		})
	}
}

func FuzzGuardHeaders(f *testing.F) {
	f.Add("127.0.0.1:8080", "http://localhost:6274", testInbound, "same-origin")
	f.Add("evil.example", "null", "", "cross-site")
	f.Add("[::1", "http://[::1]:99999", testInbound+"x", "none")
	f.Add("localhost.", "https://app.example.com/", " \t"+testInbound, "same-site")
	g := testGuard()
	h := g.Wrap(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	f.Fuzz(func(t *testing.T, host, origin, token, site string) {
		// A request the guard lets through names the proxy as Host, and
		// comes from an allowed page, or, without Origin, not from
		// another site's page.
		r := httptest.NewRequest(http.MethodPost, "/mcp", nil)
		r.Host = host
		r.Header.Set("Origin", origin)
		r.Header.Set("Sec-Fetch-Site", site)
		r.Header.Set(proxy.HeaderInboundToken, token)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code == http.StatusOK && (!g.hostOK(host) || origin != "" && !g.originOK(origin) || origin == "" && crossSite(site) != "") {
			t.Fatalf("guard passed Host %q, Origin %q, Sec-Fetch-Site %q", host, origin, site)
		}
		if s := strings.ToLower(strings.TrimSpace(site)); (s == "cross-site" || s == "same-site") != (crossSite(site) != "") {
			t.Fatalf("crossSite(%q) = %q", site, crossSite(site))
		}
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
