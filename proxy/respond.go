package proxy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/agentcore-proxy/agentcore-proxy/agentcore"
)

// HeaderDiagnosis carries the reason code of a failure the proxy explains.
const HeaderDiagnosis = "X-Agentcore-Proxy-Diagnosis"

const (
	// diagnoseBytes is how much of an error body the proxy reads to explain it.
	diagnoseBytes = 64 << 10
	// maxConvertBytes bounds one SSE event converted to a JSON body;
	// AgentCore's streaming chunks are at most 10 MB.
	maxConvertBytes = 32 << 20
)

// modifyResponse explains upstream error answers and turns an event stream
// into one JSON body for a client that did not ask for a stream.
func (p *Proxy) modifyResponse(resp *http.Response) error {
	info := infoFrom(resp.Request.Context())
	if resp.StatusCode >= 400 {
		p.explain(resp, info)
		return nil
	}
	if !info.wantsSSE && resp.StatusCode == http.StatusOK && mediaType(resp.Header.Get("Content-Type")) == "text/event-stream" {
		body, err := SSEToJSON(resp.Body, info.id, maxConvertBytes)
		resp.Body.Close()
		if err != nil {
			return err
		}
		setBody(resp, body)
	}
	return nil
}

// explain replaces an upstream error answer with a JSON-RPC error that says
// what went wrong and how to fix it, keeping the status so that clients
// react as they would (a 404 on an expired session makes them initialize
// again).
func (p *Proxy) explain(resp *http.Response, info *requestInfo) {
	prefix, _ := io.ReadAll(io.LimitReader(resp.Body, diagnoseBytes))
	uc := p.upstream
	uc.HadSession = info.hadSession
	d, ok := Diagnose(resp.StatusCode, resp.Header, prefix, uc)
	if !ok {
		resp.Body = prefixedBody(prefix, resp.Body)
		return
	}
	resp.Body.Close()
	p.onDiagnosis(d.Reason, true)
	if p.logLimit.allow(d.Reason) {
		p.logger.Warn("upstream error explained", "route", p.route, "status", resp.StatusCode, "reason", d.Reason,
			"mcp_method", info.method, "cause", d.Cause, "fix", d.Fix)
	}
	who := "AgentCore"
	if uc.ARN == "" {
		who = "the upstream"
	}
	code := CodeUpstream
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		code = CodeAuth
	}
	msg := fmt.Sprintf("agentcore-proxy: %s answered %d %s: %s", who, resp.StatusCode, http.StatusText(resp.StatusCode), d.Message())
	// The proxy owns authentication: a challenge would send MCP clients off
	// on an OAuth flow of their own against AgentCore's metadata.
	resp.Header.Del("WWW-Authenticate")
	resp.Header.Set(HeaderDiagnosis, d.Reason)
	info.message = msg
	setBody(resp, errorBody(info.id, code, msg))
}

// setBody replaces resp's body with a JSON document.
func setBody(resp *http.Response, body []byte) {
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.TransferEncoding = nil
	resp.Header.Set("Content-Type", "application/json")
	resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
	resp.Header.Del("Content-Encoding")
}

func errorBody(id json.RawMessage, code int, message string) []byte {
	return append(ErrorResponse(id, code, message), '\n')
}

func mediaType(contentType string) string {
	switch contentType {
	case "application/json", "text/event-stream":
		return contentType // the usual answers, without parsing
	}
	mt, _, _ := mime.ParseMediaType(contentType)
	return mt
}

// tokenReason returns the reason code for a failure to obtain a token that
// could be sent, or "" if err is not one. The TokenSource's error names its
// reason by implementing Reason() string (see TokenSource); any other
// failure counts as agentcore.ReasonTokenEndpoint.
func tokenReason(err error) string {
	var te *TokenError
	if !errors.As(err, &te) {
		return ""
	}
	var r interface{ Reason() string }
	if errors.As(err, &r) && r.Reason() != "" {
		return r.Reason()
	}
	return agentcore.ReasonTokenEndpoint
}

// reasonLimiter lets each reason be logged at most once a minute.
type reasonLimiter struct {
	now  func() time.Time
	mu   sync.Mutex
	last map[string]time.Time
}

func (l *reasonLimiter) allow(reason string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if t, ok := l.last[reason]; ok && now.Sub(t) < time.Minute {
		return false
	}
	if l.last == nil {
		l.last = map[string]time.Time{}
	}
	l.last[reason] = now
	return true
}
