package proxy

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/agentcore-proxy/agentcore-proxy/internal/backoff"
)

// Retries of 409 (RetryableConflictException: "Session operation in
// progress") and 429 (ThrottlingException).
const (
	// DefaultMaxRetries is how often a conflict or throttle is retried.
	DefaultMaxRetries = 2
	retryBase         = 200 * time.Millisecond
	maxRetryWait      = 5 * time.Second
)

// retryTransport sends a request again after 409 or 429, with backoff and
// jitter, when the body can be replayed and the JSON-RPC method its body
// names (never an Mcp-Method header) is safe to repeat: initialize, ping
// and the */list methods (tools/call only when allowed: a tool may not be
// idempotent).
type retryTransport struct {
	base      http.RoundTripper
	max       int
	toolCalls bool
}

// safeToRepeat reports whether a request with this JSON-RPC method may be
// sent twice without harm.
func safeToRepeat(method string, toolCalls bool) bool {
	switch {
	case method == "initialize", method == "ping", strings.HasSuffix(method, "/list"):
		return true
	case method == "tools/call":
		return toolCalls
	}
	return false
}

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	info := infoFrom(req.Context())
	if req.Method != http.MethodPost || !safeToRepeat(info.method, t.toolCalls) {
		return t.base.RoundTrip(req)
	}
	out := req
	for attempt := 1; ; attempt++ {
		resp, err := t.base.RoundTrip(out)
		if err != nil || resp.StatusCode != http.StatusConflict && resp.StatusCode != http.StatusTooManyRequests || attempt > t.max {
			return resp, err
		}
		body, ok := replayBody(req)
		if !ok {
			return resp, nil
		}
		wait := retryWait(attempt, resp.Header.Get("Retry-After"))
		io.Copy(io.Discard, io.LimitReader(resp.Body, diagnoseBytes))
		resp.Body.Close()
		timer := time.NewTimer(wait)
		select {
		case <-timer.C:
		case <-req.Context().Done():
			timer.Stop()
			if body != nil {
				body.Close()
			}
			return nil, req.Context().Err()
		}
		out = req.Clone(req.Context())
		out.Body = body
	}
}

// retryWait is the pause before retry number attempt: the upstream's
// Retry-After in seconds if it gives one, else exponential backoff from
// 200 ms, with ±20% jitter, never more than 5 s.
func retryWait(attempt int, retryAfter string) time.Duration {
	if s, err := strconv.Atoi(strings.TrimSpace(retryAfter)); err == nil && s >= 0 {
		return min(backoff.Jitter(time.Duration(s)*time.Second), maxRetryWait)
	}
	return backoff.Policy{Base: retryBase, Max: maxRetryWait}.Delay(attempt)
}
