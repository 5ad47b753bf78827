package emulator

import (
	"net/http"
	"strings"
)

// agentCoreService is the SigV4 service name of the AgentCore data plane.
const agentCoreService = "bedrock-agentcore"

// authenticate applies the runtime's one authorization method to r. In SigV4 mode (SetSigV4) the
// request must be signed for bedrock-agentcore in the runtime's region by a known credential allowed
// bedrock-agentcore:InvokeAgentRuntime, and a bearer gets "Authorization method mismatch"; otherwise
// a SigV4-signed request gets the same mismatch the other way round and a bearer goes to the JWT
// authorizer. The mismatch message is documented for both directions; its status (403) is field.
func (e *Emulator) authenticate(r *http.Request, inv *Invocation) *rejection {
	header := r.Header.Get("Authorization")
	signed := strings.HasPrefix(header, sigv4Algorithm+" ")
	if !e.sigv4Mode() {
		if signed {
			rej := e.mismatch()
			rej.reason = ReasonOAuthRuntimeGotAWS4
			return rej
		}
		var rej *rejection
		inv.TokenExpiry, rej = e.authorize(header, e.now())
		return rej
	}
	if header != "" && !signed {
		return e.mismatch()
	}
	body, err := readBody(r)
	if err != nil {
		return serviceError(ReasonSigV4Malformed, http.StatusBadRequest, "ValidationException", "could not read the request body")
	}
	v := sigv4Verifier{creds: e.awsCreds, now: e.now}
	cred, serr := v.verify(r, body, agentCoreService, e.cfg.Region)
	if serr == nil {
		serr = accessDenied(cred, "bedrock-agentcore:InvokeAgentRuntime", e.RuntimeARN())
	}
	if serr != nil {
		return serviceError(serr.reason, serr.status, serr.code, serr.message)
	}
	return nil
}

func (e *Emulator) sigv4Mode() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.faults.sigv4
}

func (e *Emulator) mismatch() *rejection {
	return serviceError(ReasonSigV4Runtime, http.StatusForbidden, "AccessDeniedException",
		"Authorization method mismatch. The agent is configured for a different authorization method than what was used in your request.")
}

// ExpireAWSCredential makes the access key's session expired: requests signed with it get 403
// ExpiredTokenException.
func (e *Emulator) ExpireAWSCredential(accessKeyID string) { e.awsCreds.expire(accessKeyID) }

// DenyAWSActions replaces the IAM actions the access key's identity lacks, e.g.
// "bedrock-agentcore:InvokeAgentRuntime".
func (e *Emulator) DenyAWSActions(accessKeyID string, actions ...string) {
	e.awsCreds.setDenied(accessKeyID, actions)
}
