package emulator

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestAgentCoreSigV4Mode(t *testing.T) {
	e := startEmulator(t, Config{})
	rawURL := e.InvocationURL("DEFAULT")

	send := func(t *testing.T, sign bool, bearer string) (int, string, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, rawURL, strings.NewReader(initializeBody))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("Content-Type", "application/json")
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		if sign {
			signWithSDK(t, req, initializeBody, testCreds, agentCoreService, "us-west-2", time.Now())
		}
		resp, err := testHTTPClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("X-Amzn-Errortype"), string(b)
	}

	// OAuth runtime: a SigV4 request gets the method mismatch.
	if status, typ, body := send(t, true, ""); status != 403 || typ != "AccessDeniedException" || !strings.Contains(body, "Authorization method mismatch") {
		t.Errorf("SigV4 to an OAuth runtime = %d %s %s, want 403 AccessDeniedException method mismatch", status, typ, body)
	}

	e.SetSigV4(true)
	if status, _, body := send(t, true, ""); status != 200 || !strings.Contains(body, `"result"`) {
		t.Errorf("signed initialize = %d %s, want 200 with a result", status, body)
	}
	if status, typ, body := send(t, false, fetchToken(t, e)); status != 403 || typ != "AccessDeniedException" || !strings.Contains(body, "Authorization method mismatch") {
		t.Errorf("bearer to a SigV4 runtime = %d %s %s, want 403 method mismatch", status, typ, body)
	}
	if status, typ, _ := send(t, false, ""); status != 403 || typ != "MissingAuthenticationTokenException" {
		t.Errorf("unsigned = %d %s, want 403 MissingAuthenticationTokenException", status, typ)
	}
	e.DenyAWSActions(testCreds.AccessKeyID, "bedrock-agentcore:InvokeAgentRuntime")
	if status, typ, body := send(t, true, ""); status != 403 || typ != "AccessDeniedException" ||
		!strings.Contains(body, "not authorized to perform: bedrock-agentcore:InvokeAgentRuntime on resource: "+e.RuntimeARN()) {
		t.Errorf("signed without permission = %d %s %s, want AccessDeniedException naming the action and ARN", status, typ, body)
	}
	e.DenyAWSActions(testCreds.AccessKeyID)
	e.SetClockSkew(10 * time.Minute)
	if status, typ, body := send(t, true, ""); status != 403 || typ != "InvalidSignatureException" || !strings.Contains(body, "Signature expired") {
		t.Errorf("signed with a skewed clock = %d %s %s, want InvalidSignatureException Signature expired", status, typ, body)
	}
	e.SetClockSkew(0)
	e.ExpireAWSCredential(testCreds.AccessKeyID)
	if status, typ, _ := send(t, true, ""); status != 403 || typ != "ExpiredTokenException" {
		t.Errorf("signed with expired credentials = %d %s, want 403 ExpiredTokenException", status, typ)
	}
	rej := e.Stats().Rejections
	for _, reason := range []string{ReasonOAuthRuntimeGotAWS4, ReasonSigV4Runtime, ReasonSigV4Missing, ReasonSigV4AccessDenied, ReasonSigV4ClockSkew, ReasonSigV4ExpiredToken} {
		if rej[reason] != 1 {
			t.Errorf("Stats().Rejections[%s] = %d, want 1", reason, rej[reason])
		}
	}
}
