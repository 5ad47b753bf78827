// Package statuspage renders the proxy's status for a person at a browser
// and for a program as JSON.
//
// The page is one self-contained HTML document: inline CSS, no scripts, no
// fonts or images from elsewhere, so it works offline and under a
// Content-Security-Policy that forbids everything else. It reloads itself
// every five seconds. Every string in a Status is treated as untrusted
// (failure messages quote upstream bodies); html/template escapes them.
package statuspage

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// MaxFailures is how many failures the page and /status show, newest first.
const MaxFailures = 50

// Status is a snapshot of the proxy for the status page and /status.
type Status struct {
	Version   string    `json:"version"`
	GoVersion string    `json:"go_version"`
	StartedAt time.Time `json:"started_at"`
	Now       time.Time `json:"now"`
	Ready     bool      `json:"ready"`
	Routes    []Route   `json:"routes"`
	Failures  []Failure `json:"failures"` // newest first, at most 50
}

// Route is one configured route: where it listens, where it forwards, and
// how its token and traffic fare.
type Route struct {
	Name   string `json:"name"`
	Path   string `json:"path"`   // e.g. /mcp
	Target string `json:"target"` // runtime ARN with qualifier, or upstream URL
	Auth   bool   `json:"auth"`
	Token  *Token `json:"token,omitempty"` // nil for a route without auth
	// Discovery says where the authorization server was found, for
	// routes with auth.
	Discovery *Discovery `json:"discovery,omitempty"`
	Requests  int64      `json:"requests"`
	Errors    int64      `json:"errors"` // answers >= 400 and proxy failures
	// SessionRecovery says lost upstream sessions are re-initialized;
	// Recoveries counts those by result (recovered, failed, lost_again,
	// not_replayable).
	SessionRecovery bool             `json:"session_recovery"`
	Recoveries      map[string]int64 `json:"session_recoveries,omitempty"`

	// Signing describes AWS SigV4 signing (service, region, access key
	// fingerprint); "" for a route that sends a bearer token or nothing.
	Signing string `json:"signing,omitempty"`
	// Runtime is the runtime's own configuration, read at start
	// (GetAgentRuntime); nil when it was not read.
	Runtime *Runtime `json:"runtime,omitempty"`
}

// Runtime is what a runtime said about itself at start.
type Runtime struct {
	Protocol string `json:"protocol"`
	Status   string `json:"status,omitempty"`
	// Authorizer is "IAM (SigV4)" or the JWT authorizer's discovery URL
	// and rules, in words.
	Authorizer      string   `json:"authorizer"`
	HeaderAllowlist []string `json:"header_allowlist,omitempty"`
	// IdleTimeoutSeconds and MaxLifetimeSeconds are the session
	// lifecycle; 0 when the runtime gives none (AgentCore's defaults
	// apply: 900 and 28800).
	IdleTimeoutSeconds int64 `json:"idle_timeout_seconds,omitempty"`
	MaxLifetimeSeconds int64 `json:"max_lifetime_seconds,omitempty"`
}

// Discovery is what a route learned of its authorization server and from
// where: each request made, in order.
type Discovery struct {
	// Source is "upstream" (zero-config, from the upstream's 401),
	// "discovery_url" or "token_url" (nothing discovered).
	Source        string `json:"source"`
	Issuer        string `json:"issuer,omitempty"`
	TokenEndpoint string `json:"token_endpoint,omitempty"`
	JWKSURI       string `json:"jwks_uri,omitempty"`
	// Resource is the protected resource's identifier (zero-config), and
	// SentResource what the token requests carry ("" none).
	Resource     string `json:"resource,omitempty"`
	SentResource string `json:"sent_resource,omitempty"`
	// LocalCheck is "jwt: checked against the key set" or
	// "opaque: not checked locally".
	LocalCheck string   `json:"local_check"`
	Hops       []string `json:"hops,omitempty"` // "URL: HTTP 200: ok"
}

// Token is the state of a route's cached access token. It never holds the
// token itself, only a fingerprint and a summary of its claims.
type Token struct {
	Valid       bool      `json:"valid"`
	ExpiresAt   time.Time `json:"expires_at,omitzero"`
	SecondsLeft int64     `json:"seconds_left"`
	FetchedAt   time.Time `json:"fetched_at,omitzero"`
	Fingerprint string    `json:"fingerprint,omitempty"` // first 8 hex of SHA-256, never the token
	Claims      string    `json:"claims,omitempty"`      // one-line summary: client_id=… scope=… iss=… exp=…
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
}

// Failure is one request the proxy answered with an error, as explained to
// the client.
type Failure struct {
	Time      time.Time `json:"time"`
	Route     string    `json:"route"`
	Status    int       `json:"status"`
	MCPMethod string    `json:"mcp_method"`
	Reason    string    `json:"reason"`            // diagnosis reason code, may be ""
	Message   string    `json:"message"`           // the explanation given to the client
	Session   string    `json:"session,omitempty"` // session-id fingerprint
}

// StatusPath is where Handler serves the JSON form of the page.
const StatusPath = "/status"

// Handler serves the HTML page at "/" (exactly) and the same data as JSON at
// StatusPath; other paths get 404 and methods other than GET and HEAD get
// 405. snapshot is called once per request.
//
// A server that has its own answer for unknown paths can mount Handler on
// just its two paths, as in
//
//	mux.Handle("GET /{$}", h)
//	mux.Handle("GET /status", h)
//
// or mount HTML and JSON separately.
func Handler(snapshot func() Status) http.Handler {
	page, data := HTML(snapshot), JSON(snapshot)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/":
			page.ServeHTTP(w, r)
		case StatusPath:
			data.ServeHTTP(w, r)
		default:
			setHeaders(w.Header())
			http.NotFound(w, r)
		}
	})
}

// HTML serves the status page at whatever path it is mounted on. The page
// links to the JSON form at StatusPath.
func HTML(snapshot func() Status) http.Handler {
	return render("text/html; charset=utf-8", func(buf *bytes.Buffer) error {
		return pageTmpl.Execute(buf, newView(snapshot()))
	})
}

// JSON serves the snapshot as indented JSON at whatever path it is mounted
// on. Empty lists are [] rather than null, and at most MaxFailures failures
// are included.
func JSON(snapshot func() Status) http.Handler {
	return render("application/json", func(buf *bytes.Buffer) error {
		s := snapshot()
		if s.Routes == nil {
			s.Routes = []Route{}
		}
		s.Failures = capFailures(s.Failures)
		if s.Failures == nil {
			s.Failures = []Failure{}
		}
		enc := json.NewEncoder(buf)
		enc.SetIndent("", "  ")
		return enc.Encode(s)
	})
}

// render answers GET and HEAD with what fill writes. It renders into a
// buffer first so a failure becomes a 500 rather than half a page.
func render(contentType string, fill func(*bytes.Buffer) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		setHeaders(h)
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		var buf bytes.Buffer
		if err := fill(&buf); err != nil {
			http.Error(w, "statuspage: "+err.Error(), http.StatusInternalServerError)
			return
		}
		h.Set("Content-Type", contentType)
		h.Set("Content-Length", strconv.Itoa(buf.Len()))
		if r.Method == http.MethodHead {
			return
		}
		w.Write(buf.Bytes()) // the client may be gone; nothing to do about it

	})
}

// contentSecurityPolicy allows the page's inline CSS and its data: favicon
// and nothing else: no scripts, no fetches, no frames.
const contentSecurityPolicy = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

// setHeaders sets the headers every answer carries.
func setHeaders(h http.Header) {
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
}

// capFailures returns at most MaxFailures of fs, newest (first) kept.
func capFailures(fs []Failure) []Failure {
	if len(fs) > MaxFailures {
		return fs[:MaxFailures]
	}
	return fs
}
