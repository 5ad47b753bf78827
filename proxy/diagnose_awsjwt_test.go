package proxy

import (
	"net/http"
	"strings"
	"testing"

	"github.com/agentcore-proxy/agentcore-proxy/agentcore"
)

// TestDiagnoseWebIdentity: a runtime's refusal of an STS web identity token is explained with the
// authorizer setup such tokens need, not with a client id and secret.
func TestDiagnoseWebIdentity(t *testing.T) {
	jsonRPC := func(msg string) []byte {
		return []byte(`{"jsonrpc":"2.0","error":{"code":-32001,"message":"` + msg + `"}}`)
	}
	tests := []struct {
		name       string
		status     int
		body       []byte
		wantReason string
		wantFix    string
	}{
		{name: "aud", status: 401, body: jsonRPC("Claim 'aud' value mismatch with configuration."), wantReason: agentcore.ReasonClaimAud, wantFix: "allowedAudience holding --audience"},
		{name: "iss", status: 401, body: jsonRPC("Claim 'iss' value mismatch with configuration."), wantReason: agentcore.ReasonClaimIss, wantFix: "discoveryUrl = the STS issuer + /.well-known/openid-configuration"},
		{name: "client_id", status: 401, body: jsonRPC("Claim 'client_id' value mismatch with configuration."), wantReason: agentcore.ReasonClaimClientID, wantFix: "remove allowedClients"},
		{name: "bad signature", status: 401, body: jsonRPC("Invalid token signature"), wantReason: agentcore.ReasonInvalidToken, wantFix: "allowedClients must be empty"},
		{name: "missing token", status: 401, body: jsonRPC("Missing Authentication Token"), wantReason: agentcore.ReasonMissingToken, wantFix: "dropped the Authorization header"},
	}
	names := func(s agentcore.Setting) string { return "--" + string(s) }
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{"Content-Type": {"application/json"}}
			d, ok := Diagnose(tt.status, h, tt.body, UpstreamContext{ARN: "arn:aws:bedrock-agentcore:us-west-2:123456789012:runtime/x", WebIdentity: true, Names: names})
			if !ok || d.Reason != tt.wantReason || !strings.Contains(d.Message(), tt.wantFix) {
				t.Errorf("Diagnose = %+v, %v; want reason %s and a fix containing %q", d, ok, tt.wantReason, tt.wantFix)
			}
			if strings.Contains(d.Message(), "client_secret") || strings.Contains(d.Message(), "--client-id") {
				t.Errorf("Diagnose message %q asks for a client or secret", d.Message())
			}
		})
	}
}
