package e2e

import (
	"encoding/json"
	"html"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentcore-proxy/agentcore-proxy/internal/emulator"
	"github.com/agentcore-proxy/agentcore-proxy/internal/redact"
)

// awsJWTAudience is the allowedAudience of the secretless runtime.
const awsJWTAudience = "secretless-runtime"

// startSecretless starts the fake AWS host (STS GetWebIdentityToken) and a runtime whose authorizer
// trusts its issuer with allowedAudience and no client rule, and gives the process a clean AWS
// environment with the emulator's access key and AWS_ENDPOINT_URL_STS: no client secret anywhere.
func startSecretless(t *testing.T) (*emulator.AWS, *emulator.Emulator) {
	t.Helper()
	a, err := emulator.StartAWS(t.Context(), emulator.AWSConfig{})
	if err != nil {
		t.Fatalf("emulator.StartAWS: %v", err)
	}
	t.Cleanup(func() { a.Close() })
	trust, err := a.WebIdentityTrust()
	if err != nil {
		t.Fatal(err)
	}
	emu := startEmulator(t, emulator.Config{TrustedIssuer: trust, Authorizer: emulator.Authorizer{AllowedAudience: []string{awsJWTAudience}}})
	// The fake control plane describes the runtime, as AgentCore would: a JWT authorizer trusting
	// the STS issuer with allowedAudience.
	a.SetRuntime(emu.ControlRuntime())
	awsEnv(t, awsKeyEnv(map[string]string{"AWS_ENDPOINT_URL_STS": a.URL(), "AWS_ENDPOINT_URL_BEDROCK_AGENTCORE_CONTROL": a.URL()}))
	for _, k := range []string{"AGENTCORE_PROXY_CLIENT_SECRET", "AGENTCORE_PROXY_CLIENT_SECRET_FILE", "AGENTCORE_PROXY_CLIENT_ID"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	return a, emu
}

func awsJWTFlags(cmd string, emu *emulator.Emulator, extra ...string) []string {
	args := []string{cmd, "--runtime-arn", emu.RuntimeARN(), "--endpoint-url", emu.EndpointURL(), "--auth", "aws-jwt", "--audience", awsJWTAudience}
	if cmd == "serve" {
		args = append(args, "--listen", "127.0.0.1:0", "--log-format", "json", "--log-level", "debug")
	}
	return append(args, extra...)
}

func stsCalls(a *emulator.AWS) (n int) {
	for _, r := range a.Requests() {
		if r.Service == "sts" && r.Action == "GetWebIdentityToken" {
			n++
		}
	}
	return n
}

// TestAWSJWTWithGoSDKClient: serve --auth aws-jwt with no client id and no secret anywhere: a Go SDK
// client lists and calls tools, the runtime accepts the STS tokens (ES384 here), Cognito is never
// asked, and no token reaches the logs or the status page.
func TestAWSJWTWithGoSDKClient(t *testing.T) {
	a, emu := startSecretless(t)
	p := startProxy(t, nil, awsJWTFlags("serve", emu, "--aws-jwt-alg", "ES384", "--aws-jwt-duration", "5m", "--aws-jwt-tag", "team=payments")...)
	waitReady(t, p)
	cs := connect(t, p.MCPURL(), nil)
	if got := callText(t, cs, "add_numbers", map[string]any{"a": 5, "b": 3}); got != "8" {
		t.Errorf("add_numbers(5, 3) = %q, want 8", got)
	}
	if got := callText(t, cs, "multiply_numbers", map[string]any{"a": 6, "b": 7}); got != "42" {
		t.Errorf("multiply_numbers(6, 7) = %q, want 42", got)
	}
	st := emu.Stats()
	if st.TokenRequests != 0 || st.Invocations < 3 || len(st.Rejections) != 0 {
		t.Errorf("emulator stats = %+v, want no Cognito token request and every invocation accepted", st)
	}
	if n := stsCalls(a); n != 1 {
		t.Errorf("GetWebIdentityToken called %d times, want 1 (cached)", n)
	}
	for _, inv := range emu.Invocations() {
		if inv.Rejection != "" {
			t.Errorf("invocation %s %s rejected: %s", inv.Method, inv.RawPath, inv.Rejection)
		}
	}
	status, body := httpGet(t, p.BaseURL+"/status")
	secretScan(t, body)
	if status != http.StatusOK || !strings.Contains(body, a.WebIdentityIssuer()) {
		t.Errorf("/status = %d, want 200 naming the STS issuer %s:\n%s", status, a.WebIdentityIssuer(), body)
	}
	status, body = httpGet(t, p.BaseURL+"/readyz")
	var ready struct {
		Routes map[string]struct {
			Ready       bool   `json:"ready"`
			Fingerprint string `json:"token_fingerprint"`
		} `json:"routes"`
	}
	json.Unmarshal([]byte(body), &ready)
	if status != http.StatusOK || !ready.Routes["default"].Ready || ready.Routes["default"].Fingerprint == "" {
		t.Errorf("/readyz = %d %s, want the route ready with a token fingerprint", status, body)
	}
}

// TestAWSJWTFederationDisabled: an account without outbound identity federation stops serve at
// start, saying so and how to enable it; nothing is sent to the runtime.
func TestAWSJWTFederationDisabled(t *testing.T) {
	a, emu := startSecretless(t)
	a.SetOutboundFederation(false)
	_, stderr, err := runCmd(t, nil, awsJWTFlags("serve", emu)...)
	if err == nil {
		t.Fatal("serve = nil error, want a start-up failure")
	}
	for _, w := range []string{"outbound identity federation is not enabled for this account", "aws iam enable-outbound-web-identity-federation"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("serve error = %q, want it to contain %q (stderr %s)", err, w, stderr)
		}
	}
	if st := emu.Stats(); st.Invocations != 0 || len(st.Rejections) != 0 {
		t.Errorf("emulator stats = %+v, want nothing sent", st)
	}
}

// TestAWSJWTDoctor: doctor's checklist for a secretless route, healthy and with the runtime trusting
// another issuer than STS's.
func TestAWSJWTDoctor(t *testing.T) {
	t.Run("healthy", func(t *testing.T) {
		_, emu := startSecretless(t)
		stdout, _, err := runCmd(t, nil, awsJWTFlags("doctor", emu)...)
		if err != nil {
			t.Fatalf("doctor = %v\n%s", err, stdout)
		}
		golden(t, "aws_jwt", stdout)
	})
	t.Run("federation disabled", func(t *testing.T) {
		a, emu := startSecretless(t)
		a.SetOutboundFederation(false)
		stdout, _, err := runCmd(t, nil, awsJWTFlags("doctor", emu)...)
		if err == nil || !strings.Contains(stdout, "✗ token: ") || !strings.Contains(stdout, "outbound identity federation is not enabled for this account") {
			t.Fatalf("doctor = %v, want ✗ token explaining federation:\n%s", err, stdout)
		}
		golden(t, "aws_jwt_federation_disabled", stdout)
	})
	t.Run("runtime trusts another issuer", func(t *testing.T) {
		// Another account's STS: its issuer is not the one the runtime trusts.
		a, err := emulator.StartAWS(t.Context(), emulator.AWSConfig{AccountID: "210987654321"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { a.Close() })
		own, emu := startSecretless(t)
		awsEnv(t, awsKeyEnv(map[string]string{"AWS_ENDPOINT_URL_STS": a.URL()}))
		// Without the runtime's configuration, the runtime's protected-resource metadata tells.
		stdout, _, err := runCmd(t, nil, awsJWTFlags("doctor", emu, "--runtime-config", "off")...)
		if err == nil || !strings.Contains(stdout, "✗ protected-resource metadata: the runtime trusts") {
			t.Fatalf("doctor = %v, want ✗ on the runtime's trust:\n%s", err, stdout)
		}
		golden(t, "aws_jwt_other_issuer", stdout)
		// With it, the runtime's discoveryUrl tells before any call to the runtime.
		awsEnv(t, awsKeyEnv(map[string]string{"AWS_ENDPOINT_URL_STS": a.URL(), "AWS_ENDPOINT_URL_BEDROCK_AGENTCORE_CONTROL": own.URL()}))
		stdout, _, err = runCmd(t, nil, awsJWTFlags("doctor", emu)...)
		if err == nil || !strings.Contains(stdout, "differs from the runtime authorizer's discoveryUrl") {
			t.Fatalf("doctor = %v, want ✗ naming the runtime's discoveryUrl:\n%s", err, stdout)
		}
		golden(t, "aws_jwt_other_issuer_runtime", stdout)
	})
}

// TestDemoAWSJWT runs demo --auth aws-jwt with a poisoned AWS environment: the demo uses its
// in-process key and fake STS, never reads them, and a Go SDK client calls a tool through it.
func TestDemoAWSJWT(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "config")
	if err := os.WriteFile(bad, []byte("[profile broken\nnot ini at all"), 0o600); err != nil {
		t.Fatal(err)
	}
	awsEnv(t, map[string]string{"AWS_ACCESS_KEY_ID": "AKIABOGUSEXAMPLE0000", "AWS_SECRET_ACCESS_KEY": "bogus",
		"AWS_CONFIG_FILE": bad, "AWS_PROFILE": "broken", "AWS_ENDPOINT_URL": "http://127.0.0.1:1"})
	p := startProxy(t, nil, "demo", "--listen", "127.0.0.1:0", "--log-format", "json", "--auth", "aws-jwt")
	waitReady(t, p)
	want := "secretless. No client secret exists"
	if out := waitStdout(p, "Authorizer:"); !strings.Contains(out, want) || !strings.Contains(out, "allowedAudience [agentcore-demo-runtime]") {
		t.Errorf("demo banner does not show the secretless mode:\n%s", out)
	}
	cs := connect(t, p.MCPURL(), nil)
	if got := callText(t, cs, "multiply_numbers", map[string]any{"a": 6, "b": 7}); got != "42" {
		t.Errorf("multiply_numbers(6, 7) = %q, want 42", got)
	}
}

// TestAWSJWTTokenCommand: token prints a fresh STS web identity token for a secretless route, and
// --decode shows its claims and the check against the STS issuer's key set.
func TestAWSJWTTokenCommand(t *testing.T) {
	_, emu := startSecretless(t)
	stdout, _, err := runCmd(t, nil, awsJWTFlags("token", emu)...)
	if err != nil || !tokenRe.MatchString(stdout) {
		t.Fatalf("token = %q, %v; want a JWT", stdout, err)
	}
	stdout, _, err = runCmd(t, nil, awsJWTFlags("token", emu, "--decode", "--aws-jwt-tag", "team=payments")...)
	if err != nil {
		t.Fatalf("token --decode: %v\n%s", err, stdout)
	}
	for _, w := range []string{`"sub": "arn:aws:iam::123456789012:role/agentcore-proxy"`, `"team": "payments"`, "check: ✓ passes the authorizer rules (allowedAudience [secretless-runtime])"} {
		if !strings.Contains(stdout, w) {
			t.Errorf("token --decode output lacks %q:\n%s", w, stdout)
		}
	}
	if tokenRe.MatchString(stdout) {
		t.Errorf("token --decode printed the token itself")
	}
}

// TestAWSJWTRuntimeRejectsAudience: a runtime whose allowedAudience lacks the token's audience
// refuses it; the client's error says what the runtime's authorizer needs, naming --audience.
func TestAWSJWTRuntimeRejectsAudience(t *testing.T) {
	_, emu := startSecretless(t)
	emu.SetAuthorizer(emulator.Authorizer{AllowedAudience: []string{"another-runtime"}})
	p := startProxy(t, nil, awsJWTFlags("serve", emu)...)
	waitReady(t, p)
	req, _ := http.NewRequest(http.MethodPost, p.MCPURL(), strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body strings.Builder
	if _, err := io.Copy(&body, resp.Body); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("X-Agentcore-Proxy-Diagnosis") != "claim_aud" ||
		!strings.Contains(body.String(), "allowedAudience holding --audience") {
		t.Errorf("initialize = %d (diagnosis %q) %s, want 401 claim_aud explaining the authorizer setup", resp.StatusCode, resp.Header.Get("X-Agentcore-Proxy-Diagnosis"), body.String())
	}
}

// TestAWSJWTFromRuntimeConfig: with only the runtime ARN and --auth aws-jwt, the runtime's own
// configuration (GetAgentRuntime) gives the audience (its first allowedAudience) and the discovery
// URL the STS issuer must match: no --audience, no --discovery-url, no secret, and the calls work.
// When the runtime's authorizer trusts another issuer, serve stops at start naming both.
func TestAWSJWTFromRuntimeConfig(t *testing.T) {
	a, emu := startSecretless(t)
	a.SetRuntime(emu.ControlRuntime())
	awsEnv(t, awsKeyEnv(map[string]string{"AWS_ENDPOINT_URL_STS": a.URL(), "AWS_ENDPOINT_URL_BEDROCK_AGENTCORE_CONTROL": a.URL()}))
	args := []string{"serve", "--runtime-arn", emu.RuntimeARN(), "--endpoint-url", emu.EndpointURL(), "--auth", "aws-jwt",
		"--listen", "127.0.0.1:0", "--log-format", "json", "--log-level", "debug"}
	p := startProxy(t, nil, args...)
	waitReady(t, p)
	cs := connect(t, p.MCPURL(), nil)
	if got := callText(t, cs, "add_numbers", map[string]any{"a": 2, "b": 2}); got != "4" {
		t.Errorf("add_numbers(2, 2) = %q, want 4", got)
	}
	if st := emu.Stats(); st.TokenRequests != 0 || len(st.Rejections) != 0 {
		t.Errorf("emulator stats = %+v, want no Cognito token request and no rejection", st)
	}
	var controlCalls int
	for _, r := range a.Requests() {
		if r.Action == "GetAgentRuntime" && r.Rejection == "" {
			controlCalls++
		}
	}
	if controlCalls != 1 {
		t.Errorf("GetAgentRuntime answered %d times, want 1", controlCalls)
	}

	other := emu.ControlRuntime()
	other.JWT.DiscoveryURL = emu.DiscoveryURL() // the Cognito pool, not the STS issuer
	a.SetRuntime(other)
	_, stderr, err := runCmd(t, nil, args...)
	if err == nil {
		t.Fatal("serve = nil error with a runtime that trusts another issuer, want a start-up failure")
	}
	out := err.Error() + "\n" + stderr
	for _, w := range []string{a.WebIdentityIssuer(), emu.DiscoveryURL(), "set the runtime's discoveryUrl to"} {
		if !strings.Contains(out, w) {
			t.Errorf("serve's error lacks %q:\n%s", w, out)
		}
	}
}

// TestAWSJWTEchoedTokenRedacted: a hostile upstream that quotes the STS bearer it received in its
// error answers (JSON 401, which makes the proxy fetch a fresh token from STS and try again; a
// plain-text 403; an SSE 500) gets its answers to the client, the log, /status and the status page
// with the token replaced by its fingerprint: no 24 bytes of any STS token anywhere.
func TestAWSJWTEchoedTokenRedacted(t *testing.T) {
	a, emu := startSecretless(t)
	up := newEchoUpstream(t)
	p := startProxy(t, nil, "serve", "--runtime-arn", emu.RuntimeARN(), "--endpoint-url", up.srv.URL, "--auth", "aws-jwt",
		"--audience", awsJWTAudience, "--listen", "127.0.0.1:0", "--log-format", "json", "--log-level", "debug")
	waitReady(t, p)
	answers := map[string]string{}
	for _, m := range []string{"echo/401", "echo/403", "echo/500"} {
		answers[m] = postEcho(t, p.MCPURL(), m)
	}
	status, page := getBody(t, p.BaseURL+"/status"), html.UnescapeString(getBody(t, p.BaseURL+"/"))
	tokens := up.tokens()
	if len(tokens) < 4 || stsCalls(a) < 2 {
		t.Fatalf("the upstream saw %d tokens and STS was called %d times, want at least 4 and 2 (the 401 retried with a fresh one)", len(tokens), stsCalls(a))
	}
	for _, tok := range tokens {
		for m, ans := range answers {
			assertNoPiece(t, "the answer to "+m, ans, tok)
		}
		assertNoPiece(t, "the log", p.Logs(), tok)
		assertNoPiece(t, "/status", status, tok)
		assertNoPiece(t, "the status page", page, tok)
	}
	last := "[token sha256:" + redact.Fingerprint(tokens[len(tokens)-1]) + "]"
	if !strings.Contains(answers["echo/403"], last) {
		t.Errorf("the answer to echo/403 = %s, want the token's fingerprint %s", answers["echo/403"], last)
	}
}
