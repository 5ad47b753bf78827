package proxy

import (
	"cmp"
	"net/http"
	"time"

	"github.com/agentcore-proxy/agentcore-proxy/agentcore"
)

// StatusClientGone is the status Summary reports when the client went away
// before any answer was written (nginx's convention).
const StatusClientGone = 499

// Summary describes one answered request, for metrics, logs and a status
// page. MCPMethod is bounded (MethodLabel, or "none" for GET and DELETE);
// Tool is the raw tools/call name, which callers must bound themselves.
type Summary struct {
	Route      string
	HTTPMethod string
	MCPMethod  string
	Tool       string
	Status     int
	// Reason is the diagnosis reason code, if the proxy explained a failure.
	Reason string
	// Message is the JSON-RPC error message the client got, if any.
	Message string
	// Duration runs until the handler returned (the end of a stream);
	// TTFB until the response headers were written.
	Duration, TTFB time.Duration
	// Streamed says the answer was an event stream.
	Streamed bool
	// SessionID is the Mcp-Session-Id of the answer or the request. It
	// identifies a user's session: log a fingerprint of it, never a label.
	SessionID string
}

// done reports the finished request.
func (p *Proxy) done(rec *recorder, r *http.Request, info *requestInfo) {
	s := Summary{
		Route:      p.route,
		HTTPMethod: r.Method,
		MCPMethod:  "none",
		Status:     rec.status,
		Reason:     rec.Header().Get(HeaderDiagnosis),
		Message:    info.message,
		Duration:   time.Since(rec.start),
		Streamed:   rec.streamed,
		SessionID:  cmp.Or(rec.Header().Get(agentcore.HeaderMCPSessionID), r.Header.Get(agentcore.HeaderMCPSessionID)),
	}
	if r.Method == http.MethodPost {
		var method string
		method, s.Tool = info.labels(r.Header)
		s.MCPMethod = MethodLabel(method)
	}
	if s.Status == 0 {
		s.Status = StatusClientGone
	} else {
		s.TTFB = rec.firstByte.Sub(rec.start)
	}
	if rec.streamed {
		p.onStream(false)
	}
	p.onDone(s)
}

// recorder notes the status, the time of the first byte and whether the
// answer is an event stream. It implements Flush and Unwrap so that
// ReverseProxy's per-event flushes reach the client.
type recorder struct {
	http.ResponseWriter
	start, firstByte time.Time
	status           int
	streamed         bool
	onStream         func(bool)
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 && code >= 200 {
		r.status, r.firstByte = code, time.Now()
		if mediaType(r.Header().Get("Content-Type")) == "text/event-stream" {
			r.streamed = true
			r.onStream(true)
		}
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.WriteHeader(http.StatusOK)
	}
	return r.ResponseWriter.Write(b)
}

// Flush sends what has been written so far.
func (r *recorder) Flush() { http.NewResponseController(r.ResponseWriter).Flush() }

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
