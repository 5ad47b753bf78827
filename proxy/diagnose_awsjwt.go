package proxy

import (
	"fmt"
	"strings"

	"github.com/agentcore-proxy/agentcore-proxy/agentcore"
)

// webIdentityFix is what a runtime needs to accept AWS STS web identity
// tokens: their issuer and audience, and no client rule.
const webIdentityFix = "The runtime's customJWTAuthorizer must have discoveryUrl = the STS issuer + /.well-known/openid-configuration (aws iam get-outbound-web-identity-federation-info names the issuer) and allowedAudience holding {audience}; STS tokens carry no client_id, so allowedClients must be empty"

// explainWebIdentity explains a 401 or 403 to a request that carried an
// AWS STS web identity token (UpstreamContext.WebIdentity). ok is false
// when the generic explanation fits as well.
func explainWebIdentity(a answer, uc UpstreamContext, q string) (Diagnosis, bool) {
	if m := claimRE.FindStringSubmatch(a.message); m != nil || claimRE.MatchString(a.hay) {
		if m == nil {
			m = claimRE.FindStringSubmatch(a.hay)
		}
		d := explainClaim(clip(oneLine(m[1]), 64), "", q)
		switch strings.ToLower(m[1]) {
		case "client_id":
			d.Fix = "STS web identity tokens carry no client_id: remove allowedClients from the runtime's customJWTAuthorizer and trust the token by allowedAudience holding {audience}"
		case "aud", "iss":
			d.Fix = webIdentityFix
		}
		return d, true
	}
	if a.status == 401 && !a.has("missing authentication token") && !a.has("expired") {
		return Diagnosis{agentcore.ReasonInvalidToken,
			fmt.Sprintf("The runtime's authorizer rejected the STS web identity token (%s)", q),
			webIdentityFix}, true
	}
	return Diagnosis{}, false
}
