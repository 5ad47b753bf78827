// Package proxy is a reverse proxy for MCP servers hosted on AWS Bedrock
// AgentCore Runtime. It forwards streamable-HTTP MCP traffic from local
// clients to one fixed upstream URL (usually an AgentCore invocation URL built
// with InvocationURL), replaces the client's credentials with a bearer token
// from a TokenSource, relays server-sent events as they arrive, and reports
// its own failures as JSON-RPC errors that MCP clients show to their users.
package proxy

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agentcore-proxy/agentcore-proxy/agentcore"
)

// HeaderInboundToken carries the credential clients present to the proxy
// itself; it never travels upstream.
const HeaderInboundToken = "X-Agentcore-Proxy-Token"

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
	// Transport sends upstream requests; nil means NewTransport with
	// default options.
	Transport http.RoundTripper
	// MaxRetries bounds how often a 409 (session operation in progress) or
	// 429 (throttled) answer is retried for a method safe to repeat; 0
	// means DefaultMaxRetries, negative means never.
	MaxRetries int
	// RetryToolCalls allows those retries for tools/call too. Off by
	// default: a tool may not be idempotent.
	RetryToolCalls bool
	// MaxBodyBytes caps request bodies; larger ones get 413 with a JSON-RPC
	// error. 0 means no cap.
	MaxBodyBytes int64
	// Logger receives one line per proxying failure; nil discards.
	Logger *slog.Logger
	// MaxReplayBytes bounds the body kept for a retry; 0 means DefaultMaxReplayBytes.
	MaxReplayBytes int64
	// Upstream describes the route, to make explanations of upstream
	// errors concrete (region, qualifier, client id).
	Upstream UpstreamContext
	// OnDone, if set, is called when a request has been answered, for
	// metrics, logs and a status page. It runs on the request's goroutine.
	OnDone func(Summary)
	// OnStream, if set, is called with true when an event-stream answer
	// starts and with false when it ends.
	OnStream func(open bool)
	// OnDiagnosis, if set, is called with the reason code of every failure
	// the proxy explains: upstream error answers (fromUpstream) and failures
	// to obtain a token it would send (not fromUpstream).
	OnDiagnosis func(reason string, fromUpstream bool)
	// SessionRecovery re-initializes an MCP session the upstream lost (a
	// 404 to a request carrying its Mcp-Session-Id) and sends the request
	// again, keeping the client's session id; see recoveryTransport.
	SessionRecovery bool
	// OnRecovery, if set, is called with the outcome of every session
	// recovery: RecoveryRecovered, RecoveryFailed, RecoveryLostAgain or
	// RecoveryNotReplayable.
	OnRecovery func(result string)
	// Redact, if set, replaces credentials in the text the proxy quotes:
	// upstream error answers explained to the client and logged, and
	// failures to obtain a token or reach the upstream. It never sees a
	// successful answer. It also becomes Upstream.Redact unless that is set.
	Redact func(string) string
	// Now is the proxy's clock: session recovery dates each remembered
	// session's start and last answer by it (the log line of a lost
	// session says how idle and how old it was, telling AgentCore's idle
	// timeout from its maximum lifetime), and each failure reason is logged
	// at most once a minute by it. Nil means time.Now.
	Now func() time.Time
}

// Proxy is an http.Handler that forwards MCP requests to one upstream.
type Proxy struct {
	route       string
	target      *url.URL
	userAgent   string
	logger      *slog.Logger
	maxReplay   int64
	maxBody     int64
	upstream    UpstreamContext
	onDiagnosis func(string, bool)
	onDone      func(Summary)
	onStream    func(bool)
	logLimit    reasonLimiter
	rp          *httputil.ReverseProxy
	// tokens, if set, supplies the bearer ServeHTTP attaches; bearer caches
	// the header value of the last token, so that a request costs no
	// allocation for it.
	tokens         TokenSource
	bearer         atomic.Pointer[bearerValue]
	userAgentValue []string
}

// bearerValue is a token and its Authorization header value.
type bearerValue struct {
	token string
	value []string
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
		route:       opts.Route,
		target:      opts.Target,
		userAgent:   opts.UserAgent,
		logger:      opts.Logger,
		maxReplay:   opts.MaxReplayBytes,
		maxBody:     opts.MaxBodyBytes,
		upstream:    opts.Upstream,
		onDiagnosis: func(string, bool) {},
		onDone:      func(Summary) {},
		onStream:    func(bool) {},
		logLimit:    reasonLimiter{now: opts.Now},
	}
	if p.logLimit.now == nil {
		p.logLimit.now = time.Now
	}
	if opts.OnDiagnosis != nil {
		p.onDiagnosis = opts.OnDiagnosis
	}
	if opts.OnDone != nil {
		p.onDone = opts.OnDone
	}
	if opts.OnStream != nil {
		p.onStream = opts.OnStream
	}
	if p.logger == nil {
		p.logger = slog.New(slog.DiscardHandler)
	}
	if p.upstream.Redact == nil {
		p.upstream.Redact = opts.Redact
	}
	if p.maxReplay <= 0 {
		p.maxReplay = DefaultMaxReplayBytes
	}
	transport := opts.Transport
	if transport == nil {
		transport = NewTransport(TransportOptions{})
	}
	transport = memoryBodyTransport{base: transport}
	if opts.Tokens != nil {
		p.tokens = opts.Tokens
		transport = &bearerTransport{base: transport, tokens: opts.Tokens, upstream: p.upstream}
	}
	if p.userAgent != "" {
		p.userAgentValue = []string{p.userAgent}
	}
	if retries := cmp.Or(opts.MaxRetries, DefaultMaxRetries); retries > 0 {
		transport = &retryTransport{base: transport, max: retries, toolCalls: opts.RetryToolCalls}
	}
	if opts.SessionRecovery {
		// Outermost, so that its own requests get tokens and retries too.
		rt := &recoveryTransport{base: transport, upstream: p.upstream, logger: p.logger, route: opts.Route, onRecovery: opts.OnRecovery, now: p.logLimit.now}
		if rt.onRecovery == nil {
			rt.onRecovery = func(string) {}
		}
		transport = rt
	}
	p.rp = &httputil.ReverseProxy{
		BufferPool:     copyBuffers,
		Rewrite:        p.rewrite,
		ModifyResponse: p.modifyResponse,
		Transport:      transport,
		ErrorHandler:   p.handleError,
		ErrorLog:       slog.NewLogLogger(p.logger.Handler(), slog.LevelWarn),
	}
	return p, nil
}

// requestInfo is what the proxy learned about a request while handling it.
type requestInfo struct {
	sniffed
	// message is the JSON-RPC error message the client got, if any.
	message string
	// wantsSSE says the client's Accept named text/event-stream; if not,
	// a streamed reply is delivered as one JSON body.
	wantsSSE bool
	// hadSession says the request carried an Mcp-Session-Id.
	hadSession bool
	// bearer is the Authorization header value rewrite sets, nil without
	// a token source.
	bearer []string
	// body is the request's body under LimitBodyRead, else nil.
	body *timedBody
}

// call is everything ServeHTTP keeps about one request, in one allocation.
type call struct {
	info requestInfo
	rec  recorder
}

// infoFrom returns what ServeHTTP learned about the request in ctx.
func infoFrom(ctx context.Context) *requestInfo {
	if info, ok := ctx.Value(infoKey{}).(*requestInfo); ok {
		return info
	}
	return &requestInfo{wantsSSE: true}
}

type infoKey struct{}

func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c := &call{info: requestInfo{wantsSSE: true, hadSession: r.Header.Get(agentcore.HeaderMCPSessionID) != ""},
		rec: recorder{ResponseWriter: w, start: time.Now(), onStream: p.onStream}}
	defer p.done(&c.rec, r, &c.info)
	p.serve(&c.rec, r, &c.info)
}

func (p *Proxy) serve(w http.ResponseWriter, r *http.Request, info *requestInfo) {
	switch r.Method {
	case http.MethodPost, http.MethodGet, http.MethodDelete:
	default:
		w.Header().Set("Allow", "POST, GET, DELETE")
		p.fail(w, info, http.StatusMethodNotAllowed, CodeInvalidRequest,
			fmt.Sprintf("agentcore-proxy: method %s is not part of MCP streamable HTTP (use POST, GET or DELETE)", r.Method))
		return
	}
	info.body, _ = r.Body.(*timedBody)
	if r.Method == http.MethodPost {
		if p.maxBody > 0 && r.Body != nil {
			if r.ContentLength > p.maxBody {
				// Read a little, for the id of the error, and refuse.
				head, _ := io.ReadAll(io.LimitReader(r.Body, 64<<10))
				info.sniffed = sniffRequest(head)
				p.tooLarge(w, info)
				return
			}
			if r.ContentLength < 0 {
				// A body of known length cannot exceed it: net/http stops there.
				r.Body = http.MaxBytesReader(w, r.Body, p.maxBody)
			}
		}
		if r.Body != nil {
			prefix, err := p.bufferBody(r, info)
			var mbe *http.MaxBytesError
			switch {
			case errors.As(err, &mbe):
				p.tooLarge(w, info)
				return
			case timedOut(info.body):
				p.bodyTimeout(w, info)
				return
			case err != nil:
				p.fail(w, info, http.StatusBadRequest, CodeInvalidRequest, "agentcore-proxy: reading the request body: "+err.Error())
				return
			}
			if r.Header.Get("Content-Type") == "" && looksLikeJSON(prefix) {
				r.Header.Set("Content-Type", "application/json")
			}
		}
		// Accept repair: MCP servers refuse a POST whose Accept lacks
		// either type (406 or 400), a classic failure of generic clients.
		acceptJSON, acceptSSE := acceptsMCP(r.Header.Values("Accept"))
		info.wantsSSE = acceptSSE
		if !acceptJSON || !acceptSSE {
			r.Header.Set("Accept", mcpAccept)
		}
		if m, bad := info.checkHeaders(r.Header); bad {
			p.fail(w, info, http.StatusBadRequest, CodeHeaderMismatch, m.message())
			return
		}
	}
	if sid := r.Header.Get(agentcore.HeaderRuntimeSessionID); sid != "" && (len(sid) < agentcore.MinRuntimeSessionID || len(sid) > agentcore.MaxRuntimeSessionID) {
		w.Header().Set(HeaderDiagnosis, agentcore.ReasonSessionIDInvalid)
		p.fail(w, info, http.StatusBadRequest, CodeInvalidRequest, fmt.Sprintf(
			"agentcore-proxy: header %s is %d characters; AgentCore requires %d to %d (use a UUID plus a prefix, or omit the header and AgentCore assigns one)",
			agentcore.HeaderRuntimeSessionID, len(sid), agentcore.MinRuntimeSessionID, agentcore.MaxRuntimeSessionID))
		return
	}
	r = r.WithContext(context.WithValue(r.Context(), infoKey{}, info))
	if p.tokens != nil {
		token, err := p.tokens.Token(r.Context())
		if err != nil {
			p.handleError(w, r, &TokenError{Err: err})
			return
		}
		info.bearer = p.bearerFor(token)
	}
	p.rp.ServeHTTP(w, r)
}

// bearerFor returns the Authorization header value for token, cached for
// the token in use.
func (p *Proxy) bearerFor(token string) []string {
	if b := p.bearer.Load(); b != nil && b.token == token {
		return b.value
	}
	b := &bearerValue{token: token, value: []string{"Bearer " + token}}
	p.bearer.Store(b)
	return b.value
}

// tooLarge refuses a body over MaxBodyBytes.
func (p *Proxy) tooLarge(w http.ResponseWriter, info *requestInfo) {
	p.fail(w, info, http.StatusRequestEntityTooLarge, CodeInvalidRequest, fmt.Sprintf(
		"agentcore-proxy: the request body is larger than %d bytes (%s; AgentCore accepts at most 100 MB)",
		p.maxBody, agentcore.Render("{max_body_bytes}", p.upstream.Names)))
}

// fail answers a request the proxy itself refuses or cannot serve.
func (p *Proxy) fail(w http.ResponseWriter, info *requestInfo, status, code int, msg string) {
	info.message = msg
	WriteError(w, status, info.id, code, msg)
}

// bufferBody reads up to maxReplay bytes of the body and returns them. A
// body that fits is kept for replay (GetBody) and sniffed for the JSON-RPC
// id; a larger one is stitched back together and streams through
// unreplayable.
func (p *Proxy) bufferBody(r *http.Request, info *requestInfo) ([]byte, error) {
	var buf []byte
	var err error
	if n := r.ContentLength; n >= 0 && n <= p.maxReplay {
		// The usual case: a small body of known length, read into a buffer
		// of exactly its size.
		buf = make([]byte, n)
		var got int
		got, err = io.ReadFull(r.Body, buf)
		buf = buf[:got]
	} else {
		buf, err = io.ReadAll(io.LimitReader(r.Body, p.maxReplay+1))
	}
	info.sniffed = sniffRequest(buf) // what was read, even on error: for the id
	if err != nil {
		return nil, err
	}
	if int64(len(buf)) > p.maxReplay {
		r.Body = prefixedBody(buf, r.Body)
		r.GetBody = nil
		return buf, nil
	}
	r.Body.Close()
	r.ContentLength = int64(len(buf))
	r.Body = io.NopCloser(bytes.NewReader(buf))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf)), nil }
	return buf, nil
}

// prefixedBody returns a body that reads prefix, then the rest of rc, and
// closes rc.
func prefixedBody(prefix []byte, rc io.ReadCloser) io.ReadCloser {
	return struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(prefix), rc), rc}
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
	for _, h := range []string{"Authorization", "Proxy-Authorization", "Cookie", "Origin", "Referer", HeaderInboundToken} {
		pr.Out.Header.Del(h)
	}
	if p.userAgentValue != nil {
		pr.Out.Header["User-Agent"] = p.userAgentValue
	}
	if info := infoFrom(pr.In.Context()); info.bearer != nil {
		// Shared and never written to: net/http only reads it.
		pr.Out.Header["Authorization"] = info.bearer
	}
}

// copyBuffers lends ReverseProxy its 32 KiB copy buffers, which it would
// otherwise allocate for every answer. (An event stream holds one for its
// whole life; 8 KiB buffers made no difference to the RSS of 1,000 open
// streams in make bench, since an idle stream touches one page of it.)
var copyBuffers = &bufferPool{}

const copyBufferSize = 32 << 10

type bufferPool struct{ pool sync.Pool }

func (b *bufferPool) Get() []byte {
	if v, ok := b.pool.Get().(*[]byte); ok {
		return *v
	}
	return make([]byte, copyBufferSize)
}

func (b *bufferPool) Put(buf []byte) {
	if cap(buf) == copyBufferSize {
		b.pool.Put(&buf)
	}
}

// handleError turns a failure to proxy into a JSON-RPC error the client can
// show, with the request's id when it had one.
func (p *Proxy) handleError(w http.ResponseWriter, r *http.Request, err error) {
	if info := infoFrom(r.Context()); timedOut(info.body) {
		// The body stalled while it streamed upstream: net/http has
		// cancelled the context, but the client still waits for an answer.
		p.bodyTimeout(w, info)
		return
	}
	if r.Context().Err() != nil {
		// The client went away; there is nobody to answer.
		p.logger.Debug("client went away", "route", p.route, "err", p.upstream.redact(err.Error()))
		return
	}
	info := infoFrom(r.Context())
	status, code, msg := errorStatus(err)
	msg = p.upstream.redact(msg)
	reason := tokenReason(err)
	if reason != "" {
		p.onDiagnosis(reason, false)
		w.Header().Set(HeaderDiagnosis, reason)
	}
	// One line per kind of failure a minute: an outage must not flood the log.
	if p.logLimit.allow("proxy:" + cmp.Or(reason, strconv.Itoa(status))) {
		p.logger.Warn("proxying failed", "route", p.route, "status", status, "reason", reason, "mcp_method", info.method, "err", p.upstream.redact(err.Error()))
	}
	p.fail(w, info, status, code, msg)
}

// memoryBodyTransport hands the transport the in-memory replay copy of a
// small body instead of the body ReverseProxy wraps (in a reader net/http
// does not recognise): net/http then writes the request's headers and body
// in one write, not two (make bench's profile: write syscalls were the
// largest cost).
type memoryBodyTransport struct{ base http.RoundTripper }

func (t memoryBodyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.GetBody == nil || req.ContentLength <= 0 || req.Body == nil || req.Body == http.NoBody {
		return t.base.RoundTrip(req)
	}
	body, err := req.GetBody()
	if err != nil {
		return t.base.RoundTrip(req)
	}
	req.Body.Close() // a RoundTripper closes the body it was given
	out := *req      // shallow: the transport only reads it
	out.Body = body
	return t.base.RoundTrip(&out)
}
