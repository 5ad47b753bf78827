// Package proxy is a reverse proxy for MCP servers hosted on AWS Bedrock
// AgentCore Runtime. It forwards streamable-HTTP MCP traffic from local
// clients to one fixed upstream URL (usually an AgentCore invocation URL built
// with InvocationURL), replaces the client's credentials with a bearer token
// from a TokenSource, relays server-sent events as they arrive, and reports
// its own failures as JSON-RPC errors that MCP clients show to their users.
package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
)

// Headers with rules of their own.
const (
	HeaderRuntimeSessionID = "X-Amzn-Bedrock-AgentCore-Runtime-Session-Id"
	HeaderMCPSessionID     = "Mcp-Session-Id"
)

// Runtime session ids outside these bounds get 400 ValidationException from
// AgentCore; the proxy refuses them itself with a message that says so.
const (
	minRuntimeSessionID = 33
	maxRuntimeSessionID = 256
)

// DefaultMaxReplayBytes is how much of a request body the proxy keeps in
// memory so that it can send the request again after a 401. MCP requests are
// small; larger bodies stream through and are not replayed.
const DefaultMaxReplayBytes = 1 << 20

// Options configures a Proxy. Target is required.
type Options struct {
	// Route names the route in logs and errors.
	Route string
	// Target is the fixed upstream URL every request goes to. Its RawPath
	// is sent as is. Plain http is accepted only to a loopback host.
	Target *url.URL
	// Tokens supplies the bearer token; nil sends no Authorization header
	// (a local upstream without auth).
	Tokens TokenSource
	// UserAgent is sent upstream instead of the client's.
	UserAgent string
	// Transport sends upstream requests; nil means NewTransport().
	Transport http.RoundTripper
	// Logger receives one line per proxying failure; nil discards.
	Logger *slog.Logger
	// MaxReplayBytes bounds the body kept for a retry; 0 means DefaultMaxReplayBytes.
	MaxReplayBytes int64
}

// Proxy is an http.Handler that forwards MCP requests to one upstream.
type Proxy struct {
	route     string
	target    *url.URL
	userAgent string
	logger    *slog.Logger
	maxReplay int64
	rp        *httputil.ReverseProxy
}

// New returns a Proxy for opts, or an error if the target is unusable.
func New(opts Options) (*Proxy, error) {
	if opts.Target == nil {
		return nil, errors.New("proxy: Options.Target is required")
	}
	if _, err := CheckSecureURL(opts.Target.String()); err != nil {
		return nil, fmt.Errorf("proxy: target %s: %w", opts.Target.Redacted(), err)
	}
	p := &Proxy{
		route:     opts.Route,
		target:    opts.Target,
		userAgent: opts.UserAgent,
		logger:    opts.Logger,
		maxReplay: opts.MaxReplayBytes,
	}
	if p.logger == nil {
		p.logger = slog.New(slog.DiscardHandler)
	}
	if p.maxReplay <= 0 {
		p.maxReplay = DefaultMaxReplayBytes
	}
	transport := opts.Transport
	if transport == nil {
		transport = NewTransport()
	}
	if opts.Tokens != nil {
		transport = &bearerTransport{base: transport, tokens: opts.Tokens}
	}
	p.rp = &httputil.ReverseProxy{
		Rewrite:      p.rewrite,
		Transport:    transport,
		ErrorHandler: p.handleError,
		ErrorLog:     slog.NewLogLogger(p.logger.Handler(), slog.LevelWarn),
	}
	return p, nil
}

// requestInfo is what the proxy learned about a request before forwarding it.
type requestInfo struct {
	id     json.RawMessage
	method string
}

type infoKey struct{}

func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodPost, http.MethodGet, http.MethodDelete:
	default:
		w.Header().Set("Allow", "POST, GET, DELETE")
		WriteError(w, http.StatusMethodNotAllowed, nil, CodeInvalidRequest,
			fmt.Sprintf("agentcore-proxy: method %s is not part of MCP streamable HTTP (use POST, GET or DELETE)", r.Method))
		return
	}
	info := &requestInfo{}
	if r.Method == http.MethodPost && r.Body != nil {
		if err := p.bufferBody(r, info); err != nil {
			WriteError(w, http.StatusBadRequest, nil, CodeInvalidRequest, "agentcore-proxy: reading the request body: "+err.Error())
			return
		}
	}
	if sid := r.Header.Get(HeaderRuntimeSessionID); sid != "" && (len(sid) < minRuntimeSessionID || len(sid) > maxRuntimeSessionID) {
		WriteError(w, http.StatusBadRequest, info.id, CodeInvalidRequest, fmt.Sprintf(
			"agentcore-proxy: header %s is %d characters; AgentCore requires %d to %d (use a UUID plus a prefix, or omit the header and AgentCore assigns one)",
			HeaderRuntimeSessionID, len(sid), minRuntimeSessionID, maxRuntimeSessionID))
		return
	}
	p.rp.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), infoKey{}, info)))
}

// bufferBody reads up to maxReplay bytes of the body. A body that fits is
// kept for replay (GetBody) and sniffed for the JSON-RPC id; a larger one is
// stitched back together and streams through unreplayable.
func (p *Proxy) bufferBody(r *http.Request, info *requestInfo) error {
	buf, err := io.ReadAll(io.LimitReader(r.Body, p.maxReplay+1))
	if err != nil {
		return err
	}
	if int64(len(buf)) > p.maxReplay {
		r.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(buf), r.Body), r.Body}
		r.GetBody = nil
		return nil
	}
	r.Body.Close()
	info.id, info.method = sniffRequest(buf)
	r.ContentLength = int64(len(buf))
	r.Body = io.NopCloser(bytes.NewReader(buf))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf)), nil }
	return nil
}

// rewrite points the outbound request at the fixed target and strips what
// must not cross: the client's credentials and cookies. ReverseProxy has
// already removed hop-by-hop and X-Forwarded-* headers.
func (p *Proxy) rewrite(pr *httputil.ProxyRequest) {
	target := *p.target
	pr.Out.URL = &target
	// The upstream's own host: servers behind AgentCore, and the MCP SDKs on
	// loopback, refuse a Host that is not theirs.
	pr.Out.Host = ""
	for _, h := range []string{"Authorization", "Proxy-Authorization", "Cookie", "Origin", "Referer"} {
		pr.Out.Header.Del(h)
	}
	if p.userAgent != "" {
		pr.Out.Header.Set("User-Agent", p.userAgent)
	}
}

// handleError turns a failure to proxy into a JSON-RPC error the client can
// show, with the request's id when it had one.
func (p *Proxy) handleError(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil {
		// The client went away; there is nobody to answer.
		p.logger.Debug("client went away", "route", p.route, "err", err)
		return
	}
	info, _ := r.Context().Value(infoKey{}).(*requestInfo)
	if info == nil {
		info = &requestInfo{}
	}
	status, code, msg := errorStatus(err)
	p.logger.Warn("proxying failed", "route", p.route, "status", status, "mcp_method", info.method, "err", err)
	WriteError(w, status, info.id, code, msg)
}
