package doctor

import (
	"errors"
	"fmt"
	"strings"

	"github.com/agentcore-proxy/agentcore-proxy/internal/config"
	"github.com/agentcore-proxy/agentcore-proxy/internal/route"
	"github.com/agentcore-proxy/agentcore-proxy/internal/runtimeconfig"
	"github.com/agentcore-proxy/agentcore-proxy/jwtcheck"
	"github.com/agentcore-proxy/agentcore-proxy/tokencache"
)

// readsRuntime reports whether route r reads its runtime's configuration.
func readsRuntime(r config.Resolved) bool {
	return r.ARN != nil && r.RuntimeConfig != "" && r.RuntimeConfig != config.RuntimeConfigOff
}

// notRead says why the runtime's configuration was passed over (auto),
// in words that do not change from machine to machine for the usual
// causes.
func notRead(auth *route.AuthSetup, r config.Resolved) string {
	why := auth.RuntimeNotRead(r.Name)
	var ue *runtimeconfig.UnavailableError
	switch {
	case errors.As(why, &ue) && ue.Cause == runtimeconfig.CauseAccessDenied:
		why = fmt.Errorf("access denied: grant the proxy's role %s", ue.Action)
	case errors.As(why, &ue):
		why = errors.New("no AWS credentials")
	}
	return fmt.Sprintf("not read: %v (%s %s: going on with the configured settings)", why, r.Names()(config.SettingRuntimeConfig), r.RuntimeConfig)
}

// runtimeRead describes what was read of the runtime.
func runtimeRead(r config.Resolved, rt *runtimeconfig.Runtime) string {
	if rt == nil {
		return ""
	}
	s := rt.String()
	if rt.IAM() && r.SigV4 != nil {
		s += "\nrequests are signed with AWS SigV4"
	}
	return s
}

// compareRuntime compares every rule of the runtime's authorizer with the
// token's claims, one line each; a rule the token fails fails the step,
// naming what the runtime allows and what the token carries.
func compareRuntime(rt *runtimeconfig.Runtime, token string) (string, error) {
	var b strings.Builder
	b.WriteString(rt.String())
	if token == "" || !tokencache.IsJWT(token) {
		b.WriteString("\nthe token is not a JWT: its claims cannot be compared")
		return b.String(), nil
	}
	_, claims, err := jwtcheck.Decode(token)
	if claims == nil {
		return "", err
	}
	findings := runtimeconfig.Compare(rt, claims)
	for _, f := range findings {
		mark := "ok"
		if !f.Holds {
			mark = "MISMATCH"
		}
		fmt.Fprintf(&b, "\n%s %s: %s", mark, f.Rule, f.Text)
	}
	if bad := runtimeconfig.Explain(rt, claims); len(bad) > 0 {
		return "", fmt.Errorf("%s\nAgentCore would refuse this token (%d rule(s) fail)", b.String(), len(bad))
	}
	return b.String(), nil
}
