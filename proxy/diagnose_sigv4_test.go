package proxy

// diagSigV4 is a runtime route whose requests the proxy signs with SigV4.
var diagSigV4 = UpstreamContext{ARN: diagTestARN, Region: "us-west-2", Qualifier: "DEFAULT",
	Endpoint: "bedrock-agentcore.us-west-2.amazonaws.com", SigV4: true, Names: flagNames}
