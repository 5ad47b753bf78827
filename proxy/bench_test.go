package proxy

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// The small tools/call and its reply that make bench measures with.
const (
	benchCall  = `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_weather","arguments":{"city":"Paris"}}}`
	benchReply = `{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"Sunny, 21 degrees C in Paris"}],"isError":false}}`
)

// staticTokens hands out one token forever.
type staticTokens struct{}

func (staticTokens) Token(context.Context) (string, error) { return "bench-token", nil }
func (staticTokens) Invalidate(string)                     {}

// benchUpstream answers every tool call with benchReply, and 401 without a
// bearer token, so that a proxy that forgot it fails the benchmark.
func benchUpstream(b *testing.B) *httptest.Server {
	b.Helper()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
			http.Error(w, "no bearer token", http.StatusUnauthorized)
			return
		}
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, benchReply)
	}))
	b.Cleanup(up.Close)
	return up
}

// benchCalls sends b.N tool calls to url over one keep-alive connection and
// checks each answer.
func benchCalls(b *testing.B, url string, bearer bool) {
	b.Helper()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	b.Cleanup(client.CloseIdleConnections)
	call := func() {
		req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(benchCall))
		if err != nil {
			b.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		if bearer {
			req.Header.Set("Authorization", "Bearer bench-token")
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
	call() // the connections are open before the clock starts
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		call()
	}
}

// BenchmarkProxyCall measures one small tools/call through the real handler
// (sniffing, Accept repair, bearer, retry and diagnosis layers, the default
// transport) from a loopback client to an httptest upstream. Allocations
// count the client and the upstream too: BenchmarkUpstreamCall is the same
// call without the proxy, and the difference is the proxy's share.
func BenchmarkProxyCall(b *testing.B) {
	up := benchUpstream(b)
	target, err := url.Parse(up.URL + "/mcp")
	if err != nil {
		b.Fatal(err)
	}
	p, err := New(Options{Route: "bench", Target: target, Tokens: staticTokens{}})
	if err != nil {
		b.Fatal(err)
	}
	front := httptest.NewServer(p)
	b.Cleanup(front.Close)
	benchCalls(b, front.URL+"/mcp", false)
}

// BenchmarkUpstreamCall is BenchmarkProxyCall's reference: the same client
// and upstream, no proxy.
func BenchmarkUpstreamCall(b *testing.B) {
	up := benchUpstream(b)
	benchCalls(b, up.URL+"/mcp", true)
}
