// Package server runs agentcore-proxy: it serves the routes internal/route
// builds with the health endpoints, metrics and the status page behind the
// inbound guard, and drains open streams on shutdown. internal/cli turns flags and YAML into
// its inputs and its structured errors into sentences.
package server

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/agentcore-proxy/agentcore-proxy/internal/config"
	"github.com/agentcore-proxy/agentcore-proxy/internal/redact"
	"github.com/agentcore-proxy/agentcore-proxy/internal/route"
	"github.com/agentcore-proxy/agentcore-proxy/proxy"
)

// Options shape a Server. Zero values take the defaults.
type Options struct {
	// Version is reported in metrics, on the status page and in the
	// User-Agent sent upstream ("agentcore-proxy/VERSION").
	Version string
	// Logger receives the server's logs; nil discards them.
	Logger *slog.Logger
	// Registerer receives the metrics and Gatherer serves them on
	// /metrics. Both nil: a private registry with the Go and process
	// collectors. A Registerer that is also a Gatherer (a
	// *prometheus.Registry) serves as both.
	Registerer prometheus.Registerer
	Gatherer   prometheus.Gatherer
	// MaxToolNames caps distinct tool names per route in
	// agentcore_proxy_tool_calls_total; 0 leaves tool names out.
	MaxToolNames int
	// Transport bounds the upstream's dial, TLS and answer-header waits.
	Transport proxy.TransportOptions
	// TokenFetchTimeout bounds one token or key-set request (default 10 s).
	TokenFetchTimeout time.Duration
	// MaxRetries and RetryToolCalls shape retries of 409 and 429, as in
	// proxy.Options (0: the default, negative: never).
	MaxRetries     int
	RetryToolCalls bool
	// MaxBodyBytes and MaxStreamDuration bound each request (0: no bound).
	MaxBodyBytes      int64
	MaxStreamDuration time.Duration
	// DisableSessionRecovery turns off re-initializing MCP sessions the
	// upstream lost (proxy.Options.SessionRecovery), which is on by default.
	DisableSessionRecovery bool
	// AWSCredentials, if set, sign SigV4 routes instead of the default AWS
	// credential chain.
	AWSCredentials aws.CredentialsProvider
	// Redactor receives every credential the routes hold and cleans the
	// text they quote: JSON-RPC errors, /status, the status page, /readyz.
	// Nil: one of the server's own. Share the logger's (redact.NewHandler).
	Redactor *redact.Redactor
}

// UserAgent is what the proxy sends upstream.
func (o Options) UserAgent() string { return "agentcore-proxy/" + o.Version }

// Server is the running proxy: one handler per route, their token caches,
// the health endpoints, metrics and the status page.
type Server struct {
	routes []*route.Route
	auth   *route.AuthSetup
	logger *slog.Logger
	opts   Options
	// stop ends the token caches' lifetime; Run calls it after draining.
	stop context.CancelFunc
	// draining is set when shutdown starts, so that /readyz turns false at
	// once and load balancers stop sending new work.
	draining atomic.Bool
	// upstream is shared by every route so that routes to one AgentCore
	// host share connections; Run closes its idle ones at the end.
	upstream *http.Transport
	metrics  *metrics
	recorder *recorder
	// recoveries counts session recoveries for the status page.
	recoveries recoveryCounts
}

// New discovers each route's token endpoint, builds one token cache per
// (token URL, client id, scopes, rules), and one proxy per route. ctx bounds
// start-up; the token caches live until Run has drained the server, so that
// requests finishing after a signal still get tokens. Every problem is
// reported, each naming its setting.
func New(ctx context.Context, routes []config.Resolved, opts Options) (_ *Server, err error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Redactor == nil {
		opts.Redactor = redact.New()
	}
	life, stop := context.WithCancel(context.WithoutCancel(ctx))
	s := &Server{logger: opts.Logger, stop: stop, opts: opts, upstream: proxy.NewTransport(opts.Transport),
		recorder: newRecorder()}
	s.metrics = newMetrics(opts)
	s.auth = route.NewAuthSetup(route.AuthOptions{Logger: opts.Logger, FetchTimeout: opts.TokenFetchTimeout, Transport: opts.Transport,
		OnFetch: s.metrics.onFetch, OnJWKSRefresh: s.metrics.onJWKSRefresh, AWSCredentials: opts.AWSCredentials,
		Redactor: opts.Redactor})
	defer func() {
		s.auth.CloseIdleConnections()
		if err != nil {
			stop()
			s.auth.Wait()
		}
	}()
	deps := route.Deps{
		Auth: s.auth, Upstream: s.upstream, Logger: s.logger, UserAgent: opts.UserAgent(), Redact: opts.Redactor.Redact,
		MaxRetries: opts.MaxRetries, RetryToolCalls: opts.RetryToolCalls,
		MaxBodyBytes: opts.MaxBodyBytes, MaxStreamDuration: opts.MaxStreamDuration,
		SessionRecovery: !opts.DisableSessionRecovery,
		Hooks:           s.hooks,
	}
	var errs []error
	for _, r := range routes {
		rt, err := route.Build(ctx, life, r, deps)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		s.routes = append(s.routes, rt)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	s.auth.Warm()
	return s, nil
}

// hooks returns the observers of route name's requests: metrics, the
// status page's counts and failures, the request log.
func (s *Server) hooks(name string) route.Hooks {
	return route.Hooks{
		OnDiagnosis: s.metrics.onDiagnosis(name),
		OnStream:    s.metrics.onStream(name),
		OnRecovery:  s.onRecovery(name),
		OnDone: func(sum proxy.Summary) {
			s.metrics.observe(sum)
			s.recorder.observe(sum)
			logRequest(s.logger, sum)
		},
		Wrap: func(h http.Handler) http.Handler {
			return promhttp.InstrumentHandlerInFlight(s.metrics.inflight.WithLabelValues(name), h)
		},
	}
}
