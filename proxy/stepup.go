package proxy

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/agentcore-proxy/agentcore-proxy/agentcore"
	"github.com/agentcore-proxy/agentcore-proxy/discovery"
)

// ScopeStepper is a TokenSource that can get a token with more scopes when
// the upstream answers 403 with a Bearer challenge
// error="insufficient_scope", scope="..." (MCP 2025-11-25 step-up).
type ScopeStepper interface {
	// StepUp returns a token whose scopes include scopes, for use from now
	// on, or an error if the route may not request them.
	StepUp(ctx context.Context, scopes []string) (string, error)
}

// stepUp answers a 403: with an insufficient_scope challenge naming scopes,
// a TokenSource that can step up and a body that can be sent again, it
// sends the request once more with a token carrying those scopes. Any other
// 403, or a refused step-up, goes to the client as it came (and is
// diagnosed).
func (t *bearerTransport) stepUp(req *http.Request, resp *http.Response) (*http.Response, error) {
	stepper, ok := t.tokens.(ScopeStepper)
	if !ok {
		return resp, nil
	}
	ch, ok := discovery.ParseBearerChallenge(resp.Header.Values("WWW-Authenticate"))
	if !ok || ch.Error != "insufficient_scope" || len(ch.Scope) == 0 {
		return resp, nil
	}
	body, replayable := replayBody(req)
	if !replayable {
		return resp, nil
	}
	token, err := stepper.StepUp(req.Context(), ch.Scope)
	if err != nil {
		if body != nil {
			body.Close()
		}
		return resp, nil
	}
	return t.resend(req, resp, token, body)
}

// explainStepUp explains a 403 insufficient_scope challenge that names the
// scopes the MCP server wants: the proxy did not, or could not, step up.
func explainStepUp(a answer, uc UpstreamContext, client, q string) (Diagnosis, bool) {
	ch := a.bearer
	if !a.hasBearer || ch.Error != "insufficient_scope" || len(ch.Scope) == 0 {
		return Diagnosis{}, false
	}
	scopes := strings.Join(ch.Scope, " ")
	const grant = "grant it to client %s at the identity provider (Cognito: the resource server's custom scope on the app client; Entra ID: the API permission; Okta and Auth0: the scope on the authorization server or API)"
	if uc.StepUpOff {
		return Diagnosis{agentcore.ReasonInsufficientScope,
			fmt.Sprintf("The MCP server needs scope %q, which the token lacks, and step-up is off for this route (%s)", scopes, q),
			fmt.Sprintf("Turn step-up on (set {step_up} to true, the default) so the proxy can request it, or add %q to {scope}; and "+grant, scopes, client)}, true
	}
	return Diagnosis{agentcore.ReasonInsufficientScope,
		fmt.Sprintf("The MCP server needs scope %q, which the token lacks, and the proxy may not request it (%s)", scopes, q),
		fmt.Sprintf("Add %q to {scope} (or give no {scope} list) so the proxy can request it, and "+grant, scopes, client)}, true
}
