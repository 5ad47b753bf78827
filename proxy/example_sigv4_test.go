package proxy_test

import (
	"context"
	"log"
	"net/http"

	"github.com/agentcore-proxy/agentcore-proxy/agentcore"
	"github.com/agentcore-proxy/agentcore-proxy/proxy"
	"github.com/aws/aws-sdk-go-v2/aws"
)

// ExampleNewSigV4Transport proxies to a runtime authorized with IAM: no token source, a signing
// transport instead. In a program, Credentials is the SDK's default chain (config.LoadDefaultConfig).
func ExampleNewSigV4Transport() {
	arn, err := agentcore.ParseRuntimeARN("arn:aws:bedrock-agentcore:us-west-2:123456789012:runtime/my_mcp_server-xyz123")
	if err != nil {
		log.Fatal(err)
	}
	target, err := agentcore.InvocationURL(arn.DefaultEndpoint(), arn, "DEFAULT")
	if err != nil {
		log.Fatal(err)
	}
	creds := aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: "AKIAIOSFODNN7EXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}, nil
	})
	signer, err := proxy.NewSigV4Transport(nil, proxy.SigV4Options{Credentials: creds, Region: arn.Region})
	if err != nil {
		log.Fatal(err)
	}
	p, err := proxy.New(proxy.Options{Route: "iam", Target: target, Transport: signer})
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Addr: "127.0.0.1:8080", Handler: p}
	_ = srv // srv.ListenAndServe() serves MCP clients at http://127.0.0.1:8080/mcp
}
