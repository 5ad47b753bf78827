package route

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/agentcore-proxy/agentcore-proxy/agentcore"
	"github.com/agentcore-proxy/agentcore-proxy/internal/config"
	"github.com/agentcore-proxy/agentcore-proxy/internal/runtimeconfig"
	"github.com/agentcore-proxy/agentcore-proxy/jwtcheck"
)

// ReadRuntime reads the configuration of route r's runtime, when r targets
// a runtime ARN and its mode is not off, and applies it to r before
// discovery: the discovery URL and claim rules the user left unset (a
// given value that differs wins, with a warning naming both); SigV4 for a
// route without auth whose runtime has no JWT authorizer. A runtime whose
// protocol is not MCP fails the route. In auto mode, a runtime that cannot
// be read for want of credentials or permission is passed over with one
// info line, unless the route has no auth to fall back on. It returns nil
// when nothing was read.
func (a *AuthSetup) ReadRuntime(ctx context.Context, r *config.Resolved) (*runtimeconfig.Runtime, error) {
	if a == nil || r.ARN == nil || r.RuntimeConfig == "" || r.RuntimeConfig == config.RuntimeConfigOff {
		return nil, nil
	}
	if err := a.ReadSources(ctx, *r); err != nil {
		return nil, err
	}
	// doctor and token read the runtime before building the route, which
	// reads it again: each line is logged once per route.
	logOnce := func(level slog.Level, msg string, args ...any) {
		key := r.Name + "\x00" + msg
		if a.runtimeLogged[key] {
			return
		}
		if a.runtimeLogged == nil {
			a.runtimeLogged = map[string]bool{}
		}
		a.runtimeLogged[key] = true
		a.opts.Logger.Log(ctx, level, msg, append([]any{"route", r.Name}, args...)...)
	}
	info := func(msg string, args ...any) { logOnce(slog.LevelInfo, msg, args...) }
	warn := func(msg string, args ...any) { logOnce(slog.LevelWarn, msg, args...) }
	names := r.Names()
	mode := names(config.SettingRuntimeConfig) + " " + r.RuntimeConfig
	rt, err := a.fetchRuntimeOnce(ctx, r)
	if err != nil {
		switch {
		case r.AuthFromRuntime:
			return nil, fmt.Errorf("route %s: no auth is configured and the runtime's configuration cannot be read (%w): give %s and a client secret (%s) for a runtime with a JWT authorizer, or %s sigv4 for an IAM runtime; or let the proxy read the runtime with AWS credentials allowed %s",
				r.Name, err, names(agentcore.SettingClientID), names(agentcore.SettingClientSecret), names(config.SettingAuth), runtimeconfig.Action)
		case r.RuntimeConfig == config.RuntimeConfigRequired:
			return nil, fmt.Errorf("route %s: %s, and the runtime's configuration cannot be read: %w%s", r.Name, mode, err, unavailableFix(err))
		}
		// auto: the route has settings of its own to go on with. Lacking
		// credentials or permission is expected; anything else (a wrong
		// ARN, throttling) deserves a warning.
		if a.runtimeNotRead == nil {
			a.runtimeNotRead = map[string]error{}
		}
		a.runtimeNotRead[r.Name] = err
		var ue *runtimeconfig.UnavailableError
		if errors.As(err, &ue) {
			info("runtime configuration not read; going on with the configured settings", "reason", err.Error())
		} else {
			warn("runtime configuration not read; going on with the configured settings", "reason", err.Error())
		}
		return nil, nil
	}
	if rt.Protocol != runtimeconfig.ProtocolMCP {
		return nil, fmt.Errorf("route %s: %s %s is a %s runtime (protocolConfiguration.serverProtocol), and this proxy speaks MCP only: give the ARN of an MCP runtime",
			r.Name, names(agentcore.SettingRuntimeARN), r.ARN, rt.Protocol)
	}
	switch {
	case rt.IAM() && r.AuthFromRuntime:
		r.AuthFromRuntime = false
		r.SigV4 = &config.SigV4{Profile: r.AuthFromRuntimeProfile, Region: r.ARN.Region}
		info("the runtime has no JWT authorizer (IAM): signing requests with AWS SigV4", "runtime", rt.ARN)
	case rt.IAM() && r.Auth != nil:
		warn(fmt.Sprintf("the runtime takes IAM (SigV4) callers only, but the route sends a bearer token (%s): AgentCore will answer 'Authorization method mismatch'; use %s sigv4",
			names(agentcore.SettingClientID), names(config.SettingAuth)))
	case !rt.IAM() && r.AuthFromRuntime:
		return nil, fmt.Errorf("route %s: the runtime has a JWT authorizer (discovery URL %s, %s): give %s and a client secret (%s)",
			r.Name, rt.JWT.DiscoveryURL, rulesText(rt.JWT.Rules()), names(agentcore.SettingClientID), names(agentcore.SettingClientSecret))
	case !rt.IAM() && r.SigV4 != nil:
		warn(fmt.Sprintf("%s sigv4 is given, but the runtime has a JWT authorizer (discovery URL %s): AgentCore will answer 'Authorization method mismatch'; give %s and a client secret instead",
			names(config.SettingAuth), rt.JWT.DiscoveryURL, names(agentcore.SettingClientID)))
	case rt.IAM() && r.AWSJWT != nil:
		warn(fmt.Sprintf("the runtime takes IAM (SigV4) callers only, but the route sends STS web identity tokens (%s aws-jwt): AgentCore will answer 'Authorization method mismatch'; use %s sigv4",
			names(config.SettingAuth), names(config.SettingAuth)))
	case !rt.IAM() && r.AWSJWT != nil:
		applyWebIdentity(r, rt.JWT, warn)
		info("route configured from the runtime's JWT authorizer", "discovery_url", r.AWSJWT.DiscoveryURL, "audience", r.AWSJWT.Audience, "rules", rulesText(r.Rules))
	case !rt.IAM() && r.Auth != nil:
		applyAuthorizer(r, rt.JWT, warn)
		info("route configured from the runtime's JWT authorizer", "discovery_url", r.Auth.DiscoveryURL, "rules", rulesText(r.Rules))
	}
	return rt, nil
}

// AutoCredentialsWait bounds how long --runtime-config auto looks for AWS
// credentials for a route that has settings of its own.
const AutoCredentialsWait = time.Second

// runtimeFetch is the outcome of reading a route's runtime.
type runtimeFetch struct {
	rt  *runtimeconfig.Runtime
	err error
}

// fetchRuntimeOnce reads r's runtime once per route: doctor and token
// apply it before building the route, which applies it again (to the same
// effect) without a second call.
func (a *AuthSetup) fetchRuntimeOnce(ctx context.Context, r *config.Resolved) (*runtimeconfig.Runtime, error) {
	if f, ok := a.runtimeFetched[r.Name]; ok {
		return f.rt, f.err
	}
	rt, err := a.fetchRuntime(ctx, r)
	if a.runtimeFetched == nil {
		a.runtimeFetched = map[string]runtimeFetch{}
	}
	a.runtimeFetched[r.Name] = runtimeFetch{rt, err}
	return rt, err
}

// fetchRuntime reads r's runtime with the AWS configuration of r's profile.
func (a *AuthSetup) fetchRuntime(ctx context.Context, r *config.Resolved) (*runtimeconfig.Runtime, error) {
	profile := r.AuthFromRuntimeProfile
	switch {
	case r.Auth != nil:
		profile = r.Auth.AWS.Profile
	case r.SigV4 != nil:
		profile = r.SigV4.Profile
	case r.AWSJWT != nil:
		profile = r.AWSJWT.Profile
	}
	cfg, err := a.AWSConfig(ctx, profile, r.ARN.Region)
	if err != nil {
		return nil, err
	}
	if a.opts.AWSCredentials != nil {
		cfg.Credentials = a.withRedaction(a.opts.AWSCredentials)
	}
	opts := runtimeconfig.Options{Timeout: a.opts.FetchTimeout}
	if r.RuntimeConfig == config.RuntimeConfigAuto && !r.AuthFromRuntime {
		// The route can go on without the runtime: do not let a machine
		// without AWS credentials wait for the instance metadata endpoint.
		opts.CredentialsTimeout = AutoCredentialsWait
	}
	// Routes sharing a profile share its credentials: once none were found,
	// the next route does not wait for them again.
	key := fmt.Sprintf("%s\x00%v", profile, opts.CredentialsTimeout)
	if err, ok := a.runtimeNoCredentials[key]; ok {
		return nil, err
	}
	rt, err := runtimeconfig.Fetch(ctx, cfg, *r.ARN, opts)
	var ue *runtimeconfig.UnavailableError
	if errors.As(err, &ue) && ue.Cause == runtimeconfig.CauseNoCredentials {
		if a.runtimeNoCredentials == nil {
			a.runtimeNoCredentials = map[string]error{}
		}
		a.runtimeNoCredentials[key] = err
	}
	return rt, err
}

// unavailableFix says how to let the proxy read the runtime.
func unavailableFix(err error) string {
	var ue *runtimeconfig.UnavailableError
	if !errors.As(err, &ue) {
		return ""
	}
	if ue.Cause == runtimeconfig.CauseAccessDenied {
		return fmt.Sprintf(": grant the proxy's role %s on the runtime (see deploy/iam/agentcore-proxy-policy.json)", ue.Action)
	}
	return ": give the proxy AWS credentials (an IAM role, AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"
}

// applyAuthorizer fills r's discovery URL and claim rules from the
// runtime's authorizer where the user gave none; warn reports each given
// value that differs from the runtime's, naming both.
func applyAuthorizer(r *config.Resolved, j *runtimeconfig.JWTAuthorizer, warn func(string, ...any)) {
	given := runtimeconfig.Given{DiscoveryURL: r.Auth.DiscoveryURL, Rules: r.Rules}
	if r.RulesDefaulted {
		given.Rules = jwtcheck.Rules{}
	}
	merged, conflicts := runtimeconfig.Merge(given, j)
	for _, c := range conflicts {
		warn(fmt.Sprintf("%s is %s, but the runtime's %s is %s: using %s", r.Names()(config.RuleSettings[c.Rule]), c.User, c.Rule, c.Runtime,
			r.Names()(config.RuleSettings[c.Rule])))
	}
	if given.DiscoveryURL == "" && merged.DiscoveryURL != "" {
		r.Auth.DiscoveryFromRuntime = true
	}
	r.Auth.DiscoveryURL = merged.DiscoveryURL
	r.Rules = merged.Rules
	r.RulesDefaulted = false
	if len(r.Rules.AllowedClients)+len(r.Rules.AllowedAudience)+len(r.Rules.AllowedScopes)+len(r.Rules.CustomClaims) == 0 && r.Auth.ClientID != "" {
		r.Rules.AllowedClients = []string{r.Auth.ClientID}
		r.RulesDefaulted = true
	}
}

func rulesText(r jwtcheck.Rules) string {
	var parts []string
	for _, l := range []struct {
		name string
		v    []string
	}{{"allowedClients", r.AllowedClients}, {"allowedAudience", r.AllowedAudience}, {"allowedScopes", r.AllowedScopes}} {
		if len(l.v) > 0 {
			parts = append(parts, fmt.Sprintf("%s %v", l.name, l.v))
		}
	}
	for _, cc := range r.CustomClaims {
		parts = append(parts, fmt.Sprintf("customClaims %s %s %q", cc.Name, cc.Operator, cc.Values))
	}
	if len(parts) == 0 {
		return "no claim rule"
	}
	return strings.Join(parts, ", ")
}

// RuntimeNotRead returns why route name's runtime configuration was passed
// over in auto mode, nil if it was read or not asked for.
func (a *AuthSetup) RuntimeNotRead(name string) error { return a.runtimeNotRead[name] }

// applyWebIdentity fills a secretless route's audience (the runtime's first
// allowedAudience), the discovery URL its STS issuer must match, and its
// allowedAudience rule from the runtime's authorizer where the user gave
// none; warn reports a given value that differs, naming both.
func applyWebIdentity(r *config.Resolved, j *runtimeconfig.JWTAuthorizer, warn func(string, ...any)) {
	w := *r.AWSJWT
	names := r.Names()
	switch {
	case w.DiscoveryURL == "":
		w.DiscoveryURL, w.DiscoveryFromRuntime = j.DiscoveryURL, true
	case w.DiscoveryURL != j.DiscoveryURL:
		warn(fmt.Sprintf("%s %s differs from the runtime's discoveryUrl %s; using %s", names(agentcore.SettingDiscoveryURL), w.DiscoveryURL, j.DiscoveryURL, w.DiscoveryURL))
	}
	if len(w.Audience) == 0 && len(j.AllowedAudience) > 0 {
		w.Audience = []string{j.AllowedAudience[0]}
	}
	switch {
	case len(r.Rules.AllowedAudience) == 0:
		r.Rules.AllowedAudience = slices.Clone(j.AllowedAudience)
	case len(j.AllowedAudience) > 0 && !slices.Equal(r.Rules.AllowedAudience, j.AllowedAudience):
		warn(fmt.Sprintf("the allowedAudience rule given, %v, differs from the runtime's allowedAudience %v; using %v", r.Rules.AllowedAudience, j.AllowedAudience, r.Rules.AllowedAudience))
	}
	r.AWSJWT = &w
}
