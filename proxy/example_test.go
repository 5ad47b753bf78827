package proxy_test

import (
	"fmt"

	"github.com/agentcore-proxy/agentcore-proxy/proxy"
)

func ExampleInvocationURL() {
	arn, err := proxy.ParseRuntimeARN("arn:aws:bedrock-agentcore:us-west-2:123456789012:runtime/my_mcp_server-xyz123")
	if err != nil {
		panic(err)
	}
	u, err := proxy.InvocationURL(arn.DefaultEndpoint(), arn, "DEFAULT")
	if err != nil {
		panic(err)
	}
	fmt.Println(u)
	// Output:
	// https://bedrock-agentcore.us-west-2.amazonaws.com/runtimes/arn%3Aaws%3Abedrock-agentcore%3Aus-west-2%3A123456789012%3Aruntime%2Fmy_mcp_server-xyz123/invocations?qualifier=DEFAULT
}
