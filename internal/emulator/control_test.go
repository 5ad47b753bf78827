package emulator

import (
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockagentcorecontrol"
	"github.com/aws/aws-sdk-go-v2/service/bedrockagentcorecontrol/types"
)

func TestFakeControlPlane(t *testing.T) {
	t.Parallel()
	a := startAWS(t, AWSConfig{})
	a.SetRuntime(ControlRuntime{ID: "mcp-CTRL000001", JWT: &ControlAuthorizer{DiscoveryURL: "https://idp.example.com/.well-known/openid-configuration",
		AllowedClients: []string{"c"}}, HeaderAllowlist: []string{"Authorization"}})
	c := bedrockagentcorecontrol.NewFromConfig(sdkConfig(a, testCreds))
	get := func(id string) (*bedrockagentcorecontrol.GetAgentRuntimeOutput, error) {
		return c.GetAgentRuntime(t.Context(), &bedrockagentcorecontrol.GetAgentRuntimeInput{AgentRuntimeId: aws.String(id)})
	}
	out, err := get("mcp-CTRL000001")
	if err != nil {
		t.Fatalf("GetAgentRuntime() error = %v", err)
	}
	jwt, ok := out.AuthorizerConfiguration.(*types.AuthorizerConfigurationMemberCustomJWTAuthorizer)
	if !ok || aws.ToString(jwt.Value.DiscoveryUrl) != "https://idp.example.com/.well-known/openid-configuration" ||
		out.ProtocolConfiguration.ServerProtocol != types.ServerProtocolMcp || out.Status != types.AgentRuntimeStatusReady ||
		aws.ToString(out.AgentRuntimeName) != "mcp" {
		t.Errorf("GetAgentRuntime() = %+v; want the JWT runtime set", out)
	}
	if _, err := get("gone-GONE000001"); apiCode(err) != "ResourceNotFoundException" {
		t.Errorf("GetAgentRuntime(unknown) error = %v, want ResourceNotFoundException", err)
	}
	a.RemoveRuntime("mcp-CTRL000001")
	if _, err := get("mcp-CTRL000001"); apiCode(err) != "ResourceNotFoundException" {
		t.Errorf("GetAgentRuntime(removed) error = %v, want ResourceNotFoundException", err)
	}
	resp, err := http.Get(a.URL() + "/runtimes/mcp-CTRL000001/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get("X-Amzn-Errortype") != "MissingAuthenticationTokenException" {
		t.Errorf("unsigned GET = %d %q, want 403 MissingAuthenticationTokenException", resp.StatusCode, resp.Header.Get("X-Amzn-Errortype"))
	}
	a.DenyActions(testCreds.AccessKeyID, "bedrock-agentcore:GetAgentRuntime")
	if _, err := get("mcp-CTRL000001"); apiCode(err) != "AccessDeniedException" {
		t.Errorf("GetAgentRuntime(denied) error = %v, want AccessDeniedException", err)
	}
}

func TestControlRuntimeOfEmulator(t *testing.T) {
	t.Parallel()
	e, err := Start(t.Context(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	rt := e.ControlRuntime()
	if rt.ID != "demo_mcp_server-EMUL8R0001" || rt.JWT == nil || rt.JWT.DiscoveryURL != e.DiscoveryURL() || len(rt.JWT.AllowedClients) != 1 {
		t.Errorf("ControlRuntime() = %+v; want the emulated runtime's authorizer", rt)
	}
	e.SetSigV4(true)
	if rt := e.ControlRuntime(); rt.JWT != nil {
		t.Errorf("ControlRuntime() in SigV4 mode has authorizer %+v, want none (IAM)", rt.JWT)
	}
}
