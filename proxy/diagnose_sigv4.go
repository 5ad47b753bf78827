package proxy

import (
	"fmt"
	"regexp"

	"github.com/agentcore-proxy/agentcore-proxy/agentcore"
)

// principalRE finds who AWS says was refused: "User: arn:... is not
// authorized".
var principalRE = regexp.MustCompile(`User: (arn:[^\s]{1,200}) is not authorized`)

// explainSigV4 explains a 401 or 403 to a request the proxy signed with
// SigV4. The checks run in the order AWS makes them: the authorization
// method, the credentials (known, not expired), the signature's time, the
// signature itself, then IAM's decision.
func explainSigV4(a answer, uc UpstreamContext, q string) (Diagnosis, bool) {
	runtime := "the runtime"
	if uc.ARN != "" {
		runtime = uc.ARN
	}
	switch {
	case a.has("authorization method mismatch"):
		return Diagnosis{agentcore.ReasonOAuthRuntimeSigV4,
			fmt.Sprintf("The runtime has an OAuth (JWT) authorizer and refuses SigV4-signed requests (%s)", q),
			"Use {auth} oauth with {client_id}, {client_secret} and {discovery_url} of the runtime's user pool, or reconfigure the runtime for IAM authorization"}, true
	case a.typeIs("ExpiredTokenException", "ExpiredToken") || a.has("security token included in the request is expired"):
		return Diagnosis{agentcore.ReasonSigV4ExpiredCreds,
			fmt.Sprintf("AWS says the signing credentials have expired, also after the proxy fetched fresh ones (%s)", q),
			"Renew the credentials at their source: aws sso login for an SSO profile, a new session for temporary keys in the environment; ECS, EKS and EC2 roles renew by themselves"}, true
	case a.typeIs("UnrecognizedClientException", "InvalidClientTokenId") || a.has("security token included in the request is invalid"):
		return Diagnosis{agentcore.ReasonSigV4UnknownKey,
			fmt.Sprintf("AWS does not know the signing access key or its session token (%s)", q),
			"Check the credentials the AWS chain found (doctor shows who signs): a deleted access key, a key of another partition, or AWS_SESSION_TOKEN missing for temporary credentials"}, true
	case a.has("signature expired", "signature not yet current"):
		return Diagnosis{agentcore.ReasonSigV4ClockSkew,
			fmt.Sprintf("AWS refused the signature's time: this machine's clock is more than 5 minutes off (%s)", q),
			"Synchronize this machine's clock (NTP); SigV4 signatures carry the time they were made"}, true
	case a.typeIs("InvalidSignatureException", "SignatureDoesNotMatch", "IncompleteSignatureException") ||
		a.has("signature we calculated does not match", "credential should be scoped"):
		return Diagnosis{agentcore.ReasonSigV4SignatureMismatch,
			fmt.Sprintf("AWS computed another SigV4 signature than the proxy sent (%s)", q),
			"Check that the secret access key belongs to the access key id the AWS chain found (doctor shows who signs), and that nothing between the proxy and {endpoint_url} rewrites the request"}, true
	case a.has("bedrock-agentcore:invokeagentruntime") || a.typeIs("AccessDeniedException") && a.has("not authorized to perform"):
		who := "the signing identity"
		if m := principalRE.FindStringSubmatch(a.message); m != nil {
			who = clip(m[1], maxField)
		}
		return Diagnosis{agentcore.ReasonSigV4AccessDenied,
			fmt.Sprintf("The signing identity %s lacks bedrock-agentcore:InvokeAgentRuntime (%s)", who, q),
			fmt.Sprintf("Grant it bedrock-agentcore:InvokeAgentRuntime (deploy/iam/agentcore-proxy-policy.json) on %s and its endpoints", runtime)}, true
	}
	return Diagnosis{agentcore.ReasonAccessDenied,
		fmt.Sprintf("AgentCore refused the SigV4-signed request (%s)", q),
		fmt.Sprintf("Check the IAM policies of the signing identity (doctor shows it) for bedrock-agentcore:InvokeAgentRuntime on %s", runtime)}, true
}
