// Package route builds a route once, the same way for serve, stdio, demo,
// doctor and token: credentials → token source (step-up inside) → checker →
// transports → handler. internal/server serves what it builds.
package route

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/agentcore-proxy/agentcore-proxy/agentcore"
	"github.com/agentcore-proxy/agentcore-proxy/internal/config"
	"github.com/agentcore-proxy/agentcore-proxy/internal/runtimeconfig"
	"github.com/agentcore-proxy/agentcore-proxy/proxy"
	"github.com/agentcore-proxy/agentcore-proxy/tokencache"
)

// Deps are what every route of a process shares: the token machinery, the
// upstream transport and how requests are shaped. Zero values take the
// defaults.
type Deps struct {
	// Auth builds the routes' token machinery; routes with the same token
	// URL, client, scopes and rules share one token cache through it.
	Auth *AuthSetup
	// Upstream is the transport to AgentCore, shared so that routes to one
	// host share connections.
	Upstream http.RoundTripper
	// Logger receives the proxy's logs; nil discards them.
	Logger *slog.Logger
	// UserAgent is sent upstream.
	UserAgent string
	// Redact cleans the text the proxy quotes to clients.
	Redact func(string) string
	// MaxRetries and RetryToolCalls shape retries of 409 and 429, as in
	// proxy.Options (0: the default, negative: never).
	MaxRetries     int
	RetryToolCalls bool
	// MaxBodyBytes and MaxStreamDuration bound each request (0: no bound).
	MaxBodyBytes      int64
	MaxStreamDuration time.Duration
	// SessionRecovery re-initializes MCP sessions the upstream lost
	// (proxy.Options.SessionRecovery).
	SessionRecovery bool
	// Hooks, if set, returns the observers of the route named name
	// (metrics, the status page, the request log).
	Hooks func(name string) Hooks
}

// Hooks observe one route's requests. Nil fields observe nothing. The first
// four are proxy.Options' hooks of the same names.
type Hooks struct {
	// OnDiagnosis gets the reason code of every failure explained.
	OnDiagnosis func(reason string, fromUpstream bool)
	// OnStream gets true when an event stream opens and false when it ends.
	OnStream func(open bool)
	// OnRecovery gets the outcome of every session recovery.
	OnRecovery func(result string)
	// OnDone gets the summary of every answered request.
	OnDone func(proxy.Summary)
	// Wrap, if set, wraps the route's handler outermost (the in-flight
	// gauge).
	Wrap func(http.Handler) http.Handler
}

// Route is one route, built: its handler and what readiness, the status
// page and doctor read of it.
type Route struct {
	config.Resolved
	// Handler is the chain serve mounts at the route's path.
	Handler http.Handler
	// Auth is the token machinery; nil for a route without auth.
	Auth *RouteAuth
	// Tokens is the token source the proxy uses (step-up included); nil
	// for a route without auth.
	Tokens proxy.TokenSource
	// SigV4 is set for a route signed with AWS SigV4.
	SigV4 *SigV4Route
	// WebIdentity is set for a secretless route (STS web identity tokens).
	WebIdentity *WebIdentity
	// Runtime is the runtime's configuration as read at start (GetAgentRuntime);
	// nil when it was not read.
	Runtime *runtimeconfig.Runtime
}

// Build builds route r: its token machinery (from deps.Auth), its SigV4
// signing, and the proxy handler with session recovery, step-up, the body
// cap and the stream duration bound. ctx bounds start-up; token caches and
// key sets live as long as life.
func Build(ctx, life context.Context, r config.Resolved, deps Deps) (*Route, error) {
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	runtime, err := deps.Auth.ReadRuntime(ctx, &r)
	if err != nil {
		return nil, err
	}
	if r.AuthFromRuntime {
		return nil, fmt.Errorf("route %s: no auth is configured: give %s and a client secret, or %s sigv4", r.Name,
			r.Names()(agentcore.SettingClientID), r.Names()(config.SettingAuth))
	}
	if r.AWSJWT != nil && len(r.AWSJWT.Audience) == 0 {
		return nil, fmt.Errorf("route %s: %s is empty and the runtime's configuration gave none (no allowedAudience read): give the audience the runtime's authorizer allows",
			r.Name, r.Names()(agentcore.SettingAudience))
	}
	rt := &Route{Resolved: r, Runtime: runtime}
	if r.Auth != nil {
		ra, err := deps.Auth.Route(ctx, life, r)
		if err != nil {
			return nil, err
		}
		rt.Auth, rt.Tokens = ra, deps.Auth.Tokens(r, ra)
	}
	if r.AWSJWT != nil {
		ra, wi, err := deps.Auth.AWSJWT(ctx, life, r)
		if err != nil {
			return nil, err
		}
		rt.Auth, rt.WebIdentity, rt.Tokens = ra, wi, deps.Auth.Tokens(r, ra)
	}
	transport := deps.Upstream
	if r.SigV4 != nil {
		var err error
		if rt.SigV4, err = deps.Auth.SigV4(ctx, r, deps.Upstream, deps.MaxBodyBytes); err != nil {
			return nil, err
		}
		transport = rt.SigV4.Transport
	}
	var h Hooks
	if deps.Hooks != nil {
		h = deps.Hooks(r.Name)
	}
	p, err := proxy.New(proxy.Options{
		Route:     r.Name,
		Target:    r.Upstream,
		Tokens:    rt.Tokens,
		UserAgent: deps.UserAgent,
		Transport: transport,
		Logger:    deps.Logger,
		Upstream:  UpstreamContext(r),
		Redact:    deps.Redact,

		MaxRetries:     deps.MaxRetries,
		RetryToolCalls: deps.RetryToolCalls,
		MaxBodyBytes:   deps.MaxBodyBytes,

		OnDiagnosis:     h.OnDiagnosis,
		OnStream:        h.OnStream,
		SessionRecovery: deps.SessionRecovery,
		OnRecovery:      h.OnRecovery,
		OnDone:          h.OnDone,
	})
	if err != nil {
		return nil, fmt.Errorf("route %s: %w", r.Name, err)
	}
	rt.Handler = limitDuration(p, deps.MaxStreamDuration)
	if h.Wrap != nil {
		rt.Handler = h.Wrap(rt.Handler)
	}
	return rt, nil
}

// TokenState is what readiness and the status page read of the route's
// token; false for a route without auth.
func (rt *Route) TokenState() (tokencache.State, bool) {
	if rt.Auth == nil {
		return tokencache.State{}, false
	}
	return rt.Auth.Cache.State(), true
}

// Readiness is a route's part of /readyz.
type Readiness struct {
	Ready       bool      `json:"ready"`
	Reason      string    `json:"reason,omitempty"`
	ExpiresAt   time.Time `json:"token_expires_at,omitzero"`
	Fingerprint string    `json:"token_fingerprint,omitempty"`
	// Auth is "sigv4" for a route signed with AWS credentials, whose
	// access key SignerFingerprint identifies.
	Auth              string `json:"auth,omitempty"`
	SignerFingerprint string `json:"aws_access_key_fingerprint,omitempty"`
}

// UpstreamContext describes route r for the proxy's explanations.
func UpstreamContext(r config.Resolved) proxy.UpstreamContext {
	uc := proxy.UpstreamContext{Qualifier: r.Qualifier, Endpoint: r.Upstream.Host, Names: r.Names()}
	if r.ARN != nil {
		uc.ARN, uc.Region = r.ARN.String(), r.ARN.Region
	}
	if r.Auth != nil {
		uc.ClientID, uc.StepUpOff = r.Auth.ClientID, r.Auth.NoStepUp
	}
	uc.SigV4 = r.SigV4 != nil
	uc.WebIdentity = r.AWSJWT != nil
	return uc
}

// Describe names route r's upstream for people: the ARN and qualifier, or
// the URL without credentials.
func Describe(r config.Resolved) string {
	if r.ARN != nil {
		return fmt.Sprintf("%s (qualifier %s)", r.ARN, r.Qualifier)
	}
	return r.Upstream.Redacted()
}

// limitDuration caps how long a request (a stream included) may last.
func limitDuration(next http.Handler, maxDuration time.Duration) http.Handler {
	if maxDuration <= 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), maxDuration)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}
