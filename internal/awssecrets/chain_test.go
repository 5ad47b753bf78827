package awssecrets

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/agentcore-proxy/agentcore-proxy/internal/emulator"
	"github.com/agentcore-proxy/agentcore-proxy/proxy"
)

// TestDefaultChainSignsThroughProxy is the path `--auth sigv4` will take: the SDK's default chain
// (here: temporary credentials in the environment) feeds proxy.SigV4Transport, and the emulator's
// SigV4 runtime accepts the signature, session token included.
func TestDefaultChainSignsThroughProxy(t *testing.T) {
	temp := emulator.AWSCredential{AccessKeyID: "ASIACHAINEXAMPLE", SecretAccessKey: "chain/secret", SessionToken: "chain-session-token"}
	e, err := emulator.Start(t.Context(), emulator.Config{AWSCredentials: []emulator.AWSCredential{temp}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	e.SetSigV4(true)

	isolateAWS(t)
	t.Setenv("AWS_ACCESS_KEY_ID", temp.AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", temp.SecretAccessKey)
	t.Setenv("AWS_SESSION_TOKEN", temp.SessionToken)
	cfg := loadConfig(t, ConfigOptions{FallbackRegion: "us-west-2"})

	tr, err := proxy.NewSigV4Transport(nil, proxy.SigV4Options{Credentials: cfg.Credentials, Region: cfg.Region})
	if err != nil {
		t.Fatal(err)
	}
	target, _ := url.Parse(e.InvocationURL("DEFAULT"))
	p, err := proxy.New(proxy.Options{Target: target, Transport: tr})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+"/mcp", strings.NewReader(
		`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || e.Stats().Invocations != 1 {
		t.Errorf("initialize through the proxy = %d, invocations %d; want 200 and 1 (rejections %v)", resp.StatusCode, e.Stats().Invocations, e.Stats().Rejections)
	}
}
