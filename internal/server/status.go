package server

import (
	"context"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"github.com/agentcore-proxy/agentcore-proxy/internal/redact"
	"github.com/agentcore-proxy/agentcore-proxy/internal/route"
	"github.com/agentcore-proxy/agentcore-proxy/internal/statuspage"
	"github.com/agentcore-proxy/agentcore-proxy/proxy"
)

// maxFailures is how many recent failures the status page keeps.
const maxFailures = 50

// recorder keeps what the status page shows: per-route counts and the
// most recent failures.
type recorder struct {
	started time.Time

	mu       sync.Mutex
	counts   map[string]*routeCounts
	failures []statuspage.Failure // ring, oldest first once full
	next     int
}

type routeCounts struct{ requests, errors int64 }

func newRecorder() *recorder {
	return &recorder{started: time.Now(), counts: map[string]*routeCounts{}}
}

func (r *recorder) observe(s proxy.Summary) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.counts[s.Route]
	if c == nil {
		c = &routeCounts{}
		r.counts[s.Route] = c
	}
	c.requests++
	if !failed(s) {
		return
	}
	c.errors++
	f := statuspage.Failure{Time: time.Now(), Route: s.Route, Status: s.Status, MCPMethod: s.MCPMethod,
		Reason: s.Reason, Message: s.Message, Session: sessionFingerprint(s.SessionID)}
	if len(r.failures) < maxFailures {
		r.failures = append(r.failures, f)
		return
	}
	r.failures[r.next] = f
	r.next = (r.next + 1) % maxFailures
}

// recent returns the failures, newest first.
func (r *recorder) recent() []statuspage.Failure {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]statuspage.Failure, 0, len(r.failures))
	for i := len(r.failures) - 1; i >= 0; i-- {
		out = append(out, r.failures[(r.next+i)%len(r.failures)])
	}
	return out
}

func (r *recorder) count(route string) routeCounts {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c := r.counts[route]; c != nil {
		return *c
	}
	return routeCounts{}
}

// failed reports whether a request counts as a failure: an error status
// or a failure the proxy explained. A client that went away is not one.
func failed(s proxy.Summary) bool {
	return s.Status >= 400 && s.Status != proxy.StatusClientGone || s.Reason != ""
}

// sessionFingerprint identifies a session in logs without revealing its id.
func sessionFingerprint(id string) string {
	if id == "" {
		return ""
	}
	return redact.Fingerprint(id)
}

// logRequest writes one line per failure, and one per request at debug.
// Nothing that authenticates (tokens, secrets, session ids) is logged.
func logRequest(logger *slog.Logger, s proxy.Summary) {
	level := slog.LevelDebug
	msg := "request"
	if failed(s) {
		level, msg = slog.LevelWarn, "request failed"
	}
	if !logger.Enabled(context.Background(), level) {
		return
	}
	logger.Log(context.Background(), level, msg, "route", s.Route, "method", s.HTTPMethod, "mcp_method", s.MCPMethod,
		"status", s.Status, "duration", s.Duration.Round(time.Microsecond), "ttfb", s.TTFB.Round(time.Microsecond),
		"streamed", s.Streamed, "reason", s.Reason, "session", sessionFingerprint(s.SessionID))
}

// snapshot gathers the status page's data. The text it quotes (failure
// messages, token and signing errors) is redacted once more, whatever its
// source did.
func (s *Server) snapshot() statuspage.Status {
	st := statuspage.Status{
		Version: s.opts.Version, GoVersion: runtime.Version(), StartedAt: s.recorder.started, Now: time.Now(),
		Ready: true, Failures: s.recorder.recent(),
	}
	red := s.opts.Redactor
	for i := range st.Failures {
		st.Failures[i].Message = red.Redact(st.Failures[i].Message)
	}
	for _, r := range s.routes {
		c := s.recorder.count(r.Name)
		sr := statuspage.Route{Name: r.Name, Path: r.Path, Target: route.Describe(r.Resolved), Auth: r.Auth != nil,
			Requests: c.requests, Errors: c.errors,
			SessionRecovery: !s.opts.DisableSessionRecovery, Recoveries: s.recoveries.get(r.Name)}
		if rc := r.Runtime; rc != nil {
			sr.Runtime = &statuspage.Runtime{Protocol: rc.Protocol, Status: rc.Status, Authorizer: rc.Authorizer(),
				HeaderAllowlist: rc.HeaderAllowlist, IdleTimeoutSeconds: int64(rc.IdleTimeout.Seconds()), MaxLifetimeSeconds: int64(rc.MaxLifetime.Seconds())}
		}
		if r.SigV4 != nil {
			var ready bool
			sr.Signing, ready = r.SigV4.Signing()
			sr.Signing = red.Redact(sr.Signing)
			st.Ready = st.Ready && ready
		}
		if ts, ok := r.TokenState(); ok {
			tok := &statuspage.Token{Valid: ts.Valid, ExpiresAt: ts.ExpiresAt, FetchedAt: ts.FetchedAt,
				Fingerprint: ts.Fingerprint, LastErrorAt: ts.LastErrorAt}
			if ts.Valid {
				tok.SecondsLeft = int64(time.Until(ts.ExpiresAt).Seconds())
				tok.Claims = r.Auth.Claims()
			}
			if ts.LastError != nil {
				tok.LastError = red.Redact(ts.LastError.Error())
			}
			sr.Token = tok
			sr.Discovery = r.Auth.Status(s.auth.Found(r.Resolved), r.Auth.Resource)
			for i, h := range sr.Discovery.Hops {
				sr.Discovery.Hops[i] = red.Redact(h)
			}
			st.Ready = st.Ready && ts.Valid
		}
		st.Routes = append(st.Routes, sr)
	}
	return st
}
