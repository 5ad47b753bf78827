package agentcore_test

import (
	"fmt"

	"github.com/agentcore-proxy/agentcore-proxy/agentcore"
)

func ExampleInvocationURL() {
	arn, err := agentcore.ParseRuntimeARN("arn:aws:bedrock-agentcore:us-west-2:123456789012:runtime/my_mcp_server-xyz123")
	if err != nil {
		panic(err)
	}
	u, err := agentcore.InvocationURL(arn.DefaultEndpoint(), arn, "DEFAULT")
	if err != nil {
		panic(err)
	}
	fmt.Println(u)
	// Output:
	// https://bedrock-agentcore.us-west-2.amazonaws.com/runtimes/arn%3Aaws%3Abedrock-agentcore%3Aus-west-2%3A123456789012%3Aruntime%2Fmy_mcp_server-xyz123/invocations?qualifier=DEFAULT
}

func ExampleRender() {
	r, _ := agentcore.Lookup(agentcore.ReasonTokenInvalidClient)
	flags := func(s agentcore.Setting) string {
		return map[agentcore.Setting]string{agentcore.SettingClientID: "--client-id", agentcore.SettingClientSecret: "--client-secret-file"}[s]
	}
	fmt.Println(agentcore.Render(r.Fix, flags))
	// Output:
	// check --client-id and --client-secret-file
}
