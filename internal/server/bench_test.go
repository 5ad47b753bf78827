package server

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/agentcore-proxy/agentcore-proxy/internal/config"
	"github.com/agentcore-proxy/agentcore-proxy/internal/emulator"
)

// The small tools/call and its reply that make bench measures with.
const (
	benchCall  = `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_weather","arguments":{"city":"Paris"}}}`
	benchReply = `{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"Sunny, 21 degrees C in Paris"}],"isError":false}}`
)

// benchUpstream answers every call with benchReply, and 401 without a bearer
// token, so that a proxy that forgot it fails the benchmark.
func benchUpstream(b *testing.B) *httptest.Server {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
			http.Error(w, "no bearer token", http.StatusUnauthorized)
			return
		}
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, benchReply)
	}))
	b.Cleanup(up.Close)
	return up
}

// benchCalls sends b.N calls to url over one keep-alive connection, checking
// each answer.
func benchCalls(b *testing.B, url, bearer string) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	b.Cleanup(client.CloseIdleConnections)
	call := func() {
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(benchCall))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK || string(body) != benchReply {
			b.Fatalf("POST %s = %d %q (%v), want 200 and the reply", url, resp.StatusCode, body, err)
		}
	}
	call() // connections open and the token held before the clock starts
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		call()
	}
}

// BenchmarkServerCall measures one small tools/call through the whole
// handler chain a user runs: the inbound guard, the mux, the in-flight
// gauge, the proxy (sniffing, Accept repair, bearer from a token cache whose
// token passed the authorizer checks, retries, diagnosis), metrics, the
// status recorder and the request log, from a loopback client to an
// httptest upstream. Allocations count the client and the upstream too:
// BenchmarkDirectCall is the same call without the proxy, and the
// difference is the proxy's share.
func BenchmarkServerCall(b *testing.B) {
	emu, err := emulator.Start(b.Context(), emulator.Config{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { emu.Close() })
	up := benchUpstream(b)
	cfg := config.FromFlags("127.0.0.1:0", config.RouteFlags{UpstreamURL: up.URL + "/mcp", DiscoveryURL: emu.DiscoveryURL(),
		ClientID: "demo-client-id", SecretInEnv: true})
	routes, err := cfg.Validate(func(string) string { return "" })
	if err != nil {
		b.Fatal(err)
	}
	if err := config.ReadSecrets(routes, func(string) string { return "demo-client-secret" }); err != nil {
		b.Fatal(err)
	}
	s, err := New(b.Context(), routes, Options{Version: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		s.stop()
		s.auth.Wait()
		s.upstream.CloseIdleConnections()
	})
	front := httptest.NewServer(NewGuard(GuardConfig{}).Wrap(s.handler(true)))
	b.Cleanup(front.Close)
	benchCalls(b, front.URL+"/mcp", "")
}

// BenchmarkDirectCall is BenchmarkServerCall's reference: the same client
// and upstream, no proxy.
func BenchmarkDirectCall(b *testing.B) {
	benchCalls(b, benchUpstream(b).URL+"/mcp", "static")
}
