package emulator

import (
	"cmp"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Reason codes of the control-plane fake, in AWSRequest.Rejection.
const ReasonRuntimeNotFound = "runtime_not_found"

// ControlRuntime is an agent runtime as bedrock-agentcore-control's GetAgentRuntime describes it.
type ControlRuntime struct {
	ID       string // agentRuntimeId, the ARN's part after runtime/
	Name     string // default: ID up to its last "-"
	Protocol string // serverProtocol: MCP (default), HTTP, A2A, AGUI
	Status   string // default READY
	// JWT is the customJWTAuthorizer; nil: an IAM (SigV4) runtime.
	JWT *ControlAuthorizer
	// HeaderAllowlist is requestHeaderAllowlist; nil: none.
	HeaderAllowlist []string
	// IdleTimeout and MaxLifetime are the lifecycle; zero leaves it out of the answer.
	IdleTimeout, MaxLifetime time.Duration
}

// ControlAuthorizer is a runtime's customJWTAuthorizer, as the control plane returns it.
type ControlAuthorizer struct {
	DiscoveryURL    string
	AllowedClients  []string
	AllowedAudience []string
	AllowedScopes   []string
	CustomClaims    []ControlClaim
}

// ControlClaim is one customClaims rule.
type ControlClaim struct {
	Name     string   // inboundTokenClaimName
	Type     string   // STRING or STRING_ARRAY
	Operator string   // EQUALS, CONTAINS, CONTAINS_ANY
	Values   []string // one value for STRING (matchValueString), else matchValueStringList
}

// ControlRuntime returns the emulated runtime as the control plane would describe it: its
// authorizer (discovery URL, allowed clients, audiences, scopes) or, in SigV4 mode, none; MCP,
// READY, and AgentCore's default lifecycle (15 minutes idle, 8 hours at most).
func (e *Emulator) ControlRuntime() ControlRuntime {
	rt := ControlRuntime{ID: e.cfg.RuntimeID, Protocol: "MCP", Status: "READY", IdleTimeout: 15 * time.Minute, MaxLifetime: 8 * time.Hour}
	if e.sigv4Mode() {
		return rt
	}
	a := e.authorizer()
	discovery := e.DiscoveryURL()
	if t := e.cfg.TrustedIssuer; t != nil {
		discovery = strings.TrimSuffix(t.Issuer, "/") + "/.well-known/openid-configuration"
	}
	rt.JWT = &ControlAuthorizer{DiscoveryURL: discovery, AllowedClients: slices.Clone(a.AllowedClients),
		AllowedAudience: slices.Clone(a.AllowedAudience), AllowedScopes: slices.Clone(a.AllowedScopes)}
	return rt
}

// SetRuntime creates or replaces a runtime of the control plane.
func (a *AWS) SetRuntime(rt ControlRuntime) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.runtimes[rt.ID] = rt
}

// RemoveRuntime deletes a runtime of the control plane.
func (a *AWS) RemoveRuntime(id string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.runtimes, id)
}

// serveControl answers bedrock-agentcore-control's GetAgentRuntime (restJson1, GET
// /runtimes/{agentRuntimeId}/), signed for service bedrock-agentcore.
func (a *AWS) serveControl(w http.ResponseWriter, r *http.Request) {
	rec := AWSRequest{Service: "bedrock-agentcore-control", Action: "GetAgentRuntime"}
	defer func() { a.mu.Lock(); a.requests = append(a.requests, rec); a.mu.Unlock() }()
	fail := func(status int, code, msg, reason string) {
		rec.Rejection = reason
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Amzn-Errortype", code)
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]string{"message": msg})
	}
	v := sigv4Verifier{creds: a.creds, now: a.now}
	cred, serr := v.verify(r, nil, "bedrock-agentcore", a.cfg.Region)
	rec.AccessKey = cred.AccessKeyID
	if serr != nil {
		fail(serr.status, serr.code, serr.message, serr.reason)
		return
	}
	id, ok := strings.CutPrefix(r.URL.Path, "/runtimes/")
	id, slash := strings.CutSuffix(id, "/")
	if !ok || !slash || id == "" || strings.Contains(id, "/") {
		fail(http.StatusNotFound, "UnknownOperationException", "", "unknown_operation")
		return
	}
	arn := "arn:aws:bedrock-agentcore:" + a.cfg.Region + ":" + a.cfg.AccountID + ":runtime/" + id
	if d := accessDenied(cred, "bedrock-agentcore:GetAgentRuntime", arn); d != nil {
		fail(d.status, d.code, d.message, d.reason)
		return
	}
	a.mu.Lock()
	rt, found := a.runtimes[id]
	a.mu.Unlock()
	if !found {
		// Chosen wording: the documented error is ResourceNotFoundException (404); its message is
		// not settled by any source.
		fail(http.StatusNotFound, "ResourceNotFoundException", "Agent runtime "+id+" not found", ReasonRuntimeNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(controlAnswer(rt, arn))
}

// controlAnswer renders rt in GetAgentRuntime's restJson1 shape.
func controlAnswer(rt ControlRuntime, arn string) map[string]any {
	name, _, _ := strings.Cut(rt.ID, "-")
	when := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC).Format(time.RFC3339)
	out := map[string]any{
		"agentRuntimeArn": arn, "agentRuntimeId": rt.ID, "agentRuntimeName": cmp.Or(rt.Name, name),
		"agentRuntimeVersion": "1", "createdAt": when, "lastUpdatedAt": when, "status": cmp.Or(rt.Status, "READY"),
		"roleArn":               "arn:aws:iam::123456789012:role/AgentCoreRuntimeRole",
		"protocolConfiguration": map[string]any{"serverProtocol": cmp.Or(rt.Protocol, "MCP")},
		"networkConfiguration":  map[string]any{"networkMode": "PUBLIC"},
	}
	if rt.HeaderAllowlist != nil {
		out["requestHeaderConfiguration"] = map[string]any{"requestHeaderAllowlist": rt.HeaderAllowlist}
	}
	if rt.IdleTimeout > 0 || rt.MaxLifetime > 0 {
		l := map[string]any{}
		if rt.IdleTimeout > 0 {
			l["idleRuntimeSessionTimeout"] = int(rt.IdleTimeout / time.Second)
		}
		if rt.MaxLifetime > 0 {
			l["maxLifetime"] = int(rt.MaxLifetime / time.Second)
		}
		out["lifecycleConfiguration"] = l
	}
	if j := rt.JWT; j != nil {
		auth := map[string]any{"discoveryUrl": j.DiscoveryURL}
		for k, v := range map[string][]string{"allowedClients": j.AllowedClients, "allowedAudience": j.AllowedAudience, "allowedScopes": j.AllowedScopes} {
			if len(v) > 0 {
				auth[k] = v
			}
		}
		var claims []any
		for _, c := range j.CustomClaims {
			value := map[string]any{"matchValueStringList": c.Values}
			if c.Type == "STRING" && len(c.Values) == 1 {
				value = map[string]any{"matchValueString": c.Values[0]}
			}
			claims = append(claims, map[string]any{"inboundTokenClaimName": c.Name, "inboundTokenClaimValueType": c.Type,
				"authorizingClaimMatchValue": map[string]any{"claimMatchOperator": c.Operator, "claimMatchValue": value}})
		}
		if len(claims) > 0 {
			auth["customClaims"] = claims
		}
		out["authorizerConfiguration"] = map[string]any{"customJWTAuthorizer": auth}
	}
	return out
}
