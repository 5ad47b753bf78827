package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/agentcore-proxy/agentcore-proxy/agentcore"
	"github.com/agentcore-proxy/agentcore-proxy/internal/redact"
)

// Outcomes of a session recovery, passed to Options.OnRecovery. The set is
// fixed, so that it can label a metric.
const (
	// RecoveryRecovered: the session was re-initialized upstream and the
	// failed request succeeded (or at least did not get 404) on the new one.
	RecoveryRecovered = "recovered"
	// RecoveryFailed: the re-initialize failed; the client got the 404.
	RecoveryFailed = "failed"
	// RecoveryLostAgain: the request got 404 again on the new session; the
	// client got that 404.
	RecoveryLostAgain = "lost_again"
	// RecoveryNotReplayable: the request's body was too large to keep, so it
	// could not be sent again; the client got the 404.
	RecoveryNotReplayable = "not_replayable"
)

// MaxRecoverableSessions bounds how many client sessions the proxy remembers
// for recovery; beyond it the oldest is forgotten (its client then sees a
// 404 and re-initializes on its own, as without recovery).
const MaxRecoverableSessions = 1024

// sessionlessVersion is the first MCP protocol version without initialize
// and sessions; versions are dates, so they compare as strings.
const sessionlessVersion = "2026-07-28"

// maxInitializeBytes bounds a remembered initialize request; real ones are
// a few hundred bytes.
const maxInitializeBytes = 64 << 10

// recoveryTransport keeps MCP sessions alive across the loss of the upstream
// session (AgentCore ends a session's microVM after 15 idle minutes or 8
// hours, and answers 404 to its Mcp-Session-Id afterwards, which many
// clients never recover from).
//
// It remembers each session's initialize request, keyed by the
// Mcp-Session-Id the upstream returned, and that notifications/initialized
// followed. When a request carrying that id gets a 404 that Diagnose
// attributes to the lost session, it initializes again upstream with the
// remembered request, sends notifications/initialized, sends the failed
// request once more with the new id, and from then on maps the client's id
// to the new one in both directions: the client keeps its Mcp-Session-Id
// (the Go SDK client fails on a changed one).
//
// Which requests are sent again: every one whose body could be kept,
// tools/call and notifications included. A 404 for an unknown session is
// answered by the server's session lookup, which comes before any method
// runs (MCP Python, TypeScript and Go SDKs alike), so the request never ran
// and sending it again cannot run it twice. A 404 that Diagnose does not
// attribute to the session (an unknown runtime or endpoint) is not
// recovered. A second 404 in a row, or a failed re-initialize, passes the
// 404 through to be explained as usual.
//
// Requests without an Mcp-Session-Id (protocol 2026-07-28 has no sessions)
// pass through untouched. But AgentCore returns an Mcp-Session-Id on every
// answer, and the Go SDK v1.8.0 client adopts it even on 2026-07-28 and sends
// it on, so its requests too get 404 once the microVM ends; having nothing to
// re-initialize, the proxy sends such a request (Mcp-Protocol-Version
// 2026-07-28 or later) again without the id and maps the client's id to the
// one the upstream mints.
type recoveryTransport struct {
	base       http.RoundTripper
	upstream   UpstreamContext
	logger     *slog.Logger
	route      string
	onRecovery func(string)
	store      sessionStore
	now        func() time.Time // the clock of began and lastUsed
}

// recoverable is one remembered client session.
type recoverable struct {
	client string // the Mcp-Session-Id the client knows
	init   []byte // its initialize request body

	recoverMu sync.Mutex // one recovery at a time per session

	mu              sync.Mutex
	upstream        string    // the upstream's current id for this session
	initialized     bool      // notifications/initialized followed initialize
	protocolVersion string    // the Mcp-Protocol-Version the client sent after initialize
	began           time.Time // when the upstream session began; zero if unknown
	lastUsed        time.Time // when it last answered anything but a lost-session 404; zero if never
}

// used records that the upstream session answered at now.
func (s *recoverable) used(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastUsed = now
}

// lifeAttrs returns, for the log line of a lost session, how long it had
// been idle and how old it was at now: the two limits after which AgentCore
// ends a session's microVM (idleRuntimeSessionTimeout, maxLifetime), so the
// reader can tell which one it was.
func (s *recoverable) lifeAttrs(now time.Time) []any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var attrs []any
	if !s.lastUsed.IsZero() {
		attrs = append(attrs, "idle", now.Sub(s.lastUsed).Round(time.Second))
	}
	if !s.began.IsZero() {
		attrs = append(attrs, "session_age", now.Sub(s.began).Round(time.Second))
	}
	return attrs
}

func (s *recoverable) state() (upstream string, initialized bool, version string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.upstream, s.initialized, s.protocolVersion
}

// sessionStore holds at most MaxRecoverableSessions sessions, forgetting
// the oldest first.
type sessionStore struct {
	mu    sync.Mutex
	byID  map[string]*recoverable
	order []string // insertion order; may hold ids already forgotten
}

func (st *sessionStore) get(id string) *recoverable {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.byID[id]
}

func (st *sessionStore) add(s *recoverable) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.byID == nil {
		st.byID = map[string]*recoverable{}
	}
	if _, ok := st.byID[s.client]; !ok {
		st.order = append(st.order, s.client)
	}
	st.byID[s.client] = s
	for len(st.byID) > MaxRecoverableSessions && len(st.order) > 0 {
		delete(st.byID, st.order[0])
		st.order = st.order[1:]
	}
	if len(st.order) > 2*MaxRecoverableSessions {
		// Forgotten ids pile up after many DELETEs: compact.
		kept := st.order[:0]
		for _, id := range st.order {
			if st.byID[id] != nil {
				kept = append(kept, id)
			}
		}
		st.order = kept
	}
}

func (st *sessionStore) forget(id string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	delete(st.byID, id)
}

func (t *recoveryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	clientID := req.Header.Get(agentcore.HeaderMCPSessionID)
	info := infoFrom(req.Context())
	if clientID == "" {
		if req.Method == http.MethodPost && info.method == "initialize" {
			return t.initialize(req)
		}
		return t.base.RoundTrip(req)
	}
	s := t.store.get(clientID)
	if s == nil && req.Header.Get("Mcp-Protocol-Version") >= sessionlessVersion {
		// No initialize to remember: the upstream minted the id on its own.
		s = &recoverable{client: clientID, upstream: clientID, initialized: true}
	}
	if s == nil {
		// A session from before the proxy started, or forgotten: as without recovery.
		return t.base.RoundTrip(req)
	}
	upstream, initialized, _ := s.state()
	resp, err := t.base.RoundTrip(withSessionID(req, upstream, req.Body))
	if err != nil {
		return nil, err
	}
	switch {
	case req.Method == http.MethodDelete:
		t.store.forget(clientID)
	case req.Method == http.MethodPost && info.method == "notifications/initialized" && resp.StatusCode < 300:
		s.mu.Lock()
		s.initialized = true
		s.protocolVersion = req.Header.Get("Mcp-Protocol-Version")
		s.mu.Unlock()
	case resp.StatusCode == http.StatusNotFound && initialized && t.sessionLost(resp):
		resp, err = t.recoverAndRetry(req, s, upstream, resp)
		if err != nil {
			return nil, err
		}
		return t.mapID(resp, clientID), nil
	}
	s.used(t.now())
	return t.mapID(resp, clientID), nil
}

// mapID shows the client its own session id on an answer that carries one.
func (t *recoveryTransport) mapID(resp *http.Response, clientID string) *http.Response {
	if resp.Header.Get(agentcore.HeaderMCPSessionID) != "" {
		resp.Header.Set(agentcore.HeaderMCPSessionID, clientID)
	}
	return resp
}

// initialize sends an initialize request and remembers it under the session
// id the upstream returns.
func (t *recoveryTransport) initialize(req *http.Request) (*http.Response, error) {
	var body []byte
	if rc, ok := replayBody(req); ok && rc != nil {
		body, _ = io.ReadAll(io.LimitReader(rc, maxInitializeBytes+1))
		rc.Close()
	}
	resp, err := t.base.RoundTrip(req)
	if err != nil || resp.StatusCode >= 300 || len(body) == 0 || len(body) > maxInitializeBytes {
		return resp, err
	}
	if id := resp.Header.Get(agentcore.HeaderMCPSessionID); id != "" {
		now := t.now()
		t.store.add(&recoverable{client: id, upstream: id, init: body, began: now, lastUsed: now})
	}
	return resp, nil
}

// sessionLost reads the start of a 404 answer, puts it back, and reports
// whether Diagnose attributes it to a lost session.
func (t *recoveryTransport) sessionLost(resp *http.Response) bool {
	prefix, _ := io.ReadAll(io.LimitReader(resp.Body, diagnoseBytes))
	resp.Body = prefixedBody(prefix, resp.Body)
	uc := t.upstream
	uc.HadSession = true
	d, ok := Diagnose(resp.StatusCode, resp.Header, prefix, uc)
	return ok && d.Reason == agentcore.ReasonSessionNotFound
}

// recoverAndRetry re-initializes s (unless a concurrent request already did)
// and sends req once more on the new session. lost is the 404 answer, given
// back to the client if recovery fails.
func (t *recoveryTransport) recoverAndRetry(req *http.Request, s *recoverable, failed string, lost *http.Response) (*http.Response, error) {
	life := s.lifeAttrs(t.now())
	body, ok := replayBody(req)
	if !ok {
		t.report(RecoveryNotReplayable, s, life, nil)
		return lost, nil
	}
	fresh, err := t.recover(req, s, failed)
	if err != nil {
		if body != nil {
			body.Close()
		}
		t.report(RecoveryFailed, s, life, err)
		return lost, nil
	}
	io.Copy(io.Discard, io.LimitReader(lost.Body, diagnoseBytes))
	lost.Body.Close()
	resp, err := t.base.RoundTrip(withSessionID(req, fresh, body))
	if err != nil {
		t.report(RecoveryFailed, s, life, err)
		return nil, err
	}
	if resp.StatusCode == http.StatusNotFound {
		t.report(RecoveryLostAgain, s, life, nil)
		return resp, nil
	}
	if s.init == nil {
		// Sessionless: the upstream minted a new id for the request sent without one.
		if id := resp.Header.Get(agentcore.HeaderMCPSessionID); id != "" {
			now := t.now()
			s.mu.Lock()
			s.upstream, s.began, s.lastUsed = id, now, now
			s.mu.Unlock()
			t.store.add(s)
		}
	}
	s.used(t.now())
	t.report(RecoveryRecovered, s, life, nil)
	return resp, nil
}

// recover starts a new upstream session for s with its remembered
// initialize request and returns the new upstream id. failed is the id that
// got 404: if s has moved on from it meanwhile, another request recovered
// the session and its id is returned at once.
func (t *recoveryTransport) recover(req *http.Request, s *recoverable, failed string) (string, error) {
	s.recoverMu.Lock()
	defer s.recoverMu.Unlock()
	current, _, version := s.state()
	if current != failed {
		return current, nil // recovered meanwhile
	}
	if s.init == nil {
		return "", nil // sessionless: sent again without an id
	}
	resp, err := t.base.RoundTrip(internalPost(req, "initialize", s.init, "", ""))
	if err != nil {
		return "", fmt.Errorf("initialize: %w", err)
	}
	fresh := resp.Header.Get(agentcore.HeaderMCPSessionID)
	err = checkAnswer(resp)
	switch {
	case err != nil:
		return "", fmt.Errorf("initialize: %w", err)
	case fresh == "":
		return "", errors.New("initialize: the upstream returned no " + agentcore.HeaderMCPSessionID)
	}
	resp, err = t.base.RoundTrip(internalPost(req, "notifications/initialized",
		[]byte(`{"jsonrpc":"2.0","method":"notifications/initialized"}`), fresh, version))
	if err != nil {
		return "", fmt.Errorf("notifications/initialized: %w", err)
	}
	if err := checkAnswer(resp); err != nil {
		return "", fmt.Errorf("notifications/initialized: %w", err)
	}
	now := t.now()
	s.mu.Lock()
	s.upstream, s.began, s.lastUsed = fresh, now, now
	s.mu.Unlock()
	return fresh, nil
}

// report counts and logs the outcome of a recovery of s; life tells how
// idle and old the lost session was.
func (t *recoveryTransport) report(result string, s *recoverable, life []any, err error) {
	t.onRecovery(result)
	level := slog.LevelInfo
	if result != RecoveryRecovered {
		level = slog.LevelWarn
	}
	attrs := []any{"route", t.route, "result", result, "mcp_session", redact.Fingerprint(s.client)}
	attrs = append(attrs, life...)
	if err != nil {
		attrs = append(attrs, "err", t.upstream.redact(err.Error()))
	}
	t.logger.Log(context.Background(), level, "upstream MCP session lost", attrs...)
}

// withSessionID returns a copy of req that carries the upstream session id
// and body.
func withSessionID(req *http.Request, id string, body io.ReadCloser) *http.Request {
	if req.Header.Get(agentcore.HeaderMCPSessionID) == id && body == req.Body {
		return req
	}
	out := req.Clone(req.Context())
	out.Body = body
	if id == "" {
		out.Header.Del(agentcore.HeaderMCPSessionID)
	} else {
		out.Header.Set(agentcore.HeaderMCPSessionID, id)
	}
	return out
}

// internalPost builds a request of the proxy's own to the same upstream as
// req: its headers (tracing, User-Agent, runtime session) without the
// per-request MCP ones, and a fresh request info for the transports below,
// so that retries and logs see the right method.
func internalPost(req *http.Request, method string, body []byte, sessionID, version string) *http.Request {
	ctx := context.WithValue(req.Context(), infoKey{}, &requestInfo{sniffed: sniffed{method: method}, wantsSSE: true, hadSession: sessionID != ""})
	out := req.Clone(ctx)
	for name := range out.Header {
		if strings.HasPrefix(http.CanonicalHeaderKey(name), "Mcp-") || name == "Last-Event-Id" {
			out.Header.Del(name)
		}
	}
	out.Method = http.MethodPost
	out.Header.Set("Content-Type", "application/json")
	out.Header.Set("Accept", mcpAccept)
	if sessionID != "" {
		out.Header.Set(agentcore.HeaderMCPSessionID, sessionID)
	}
	if version != "" {
		out.Header.Set("Mcp-Protocol-Version", version)
	}
	out.ContentLength = int64(len(body))
	out.Body = io.NopCloser(bytes.NewReader(body))
	out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	return out
}

// checkAnswer reads and closes an answer to one of the proxy's own requests
// and reports an error status or a JSON-RPC error in it.
func checkAnswer(resp *http.Response) error {
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		io.Copy(io.Discard, io.LimitReader(resp.Body, diagnoseBytes))
		return fmt.Errorf("the upstream answered %d", resp.StatusCode)
	}
	if resp.StatusCode == http.StatusAccepted {
		return nil
	}
	var body []byte
	var err error
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt == "text/event-stream" {
		body, err = SSEToJSON(resp.Body, nil, maxConvertBytes)
	} else {
		body, err = io.ReadAll(io.LimitReader(resp.Body, maxConvertBytes))
	}
	if err != nil {
		return fmt.Errorf("reading the answer: %w", err)
	}
	var msg struct {
		Error *rpcError `json:"error"`
	}
	if len(bytes.TrimSpace(body)) > 0 && json.Unmarshal(body, &msg) == nil && msg.Error != nil {
		return fmt.Errorf("JSON-RPC error %d: %s", msg.Error.Code, msg.Error.Message)
	}
	return nil
}
