package proxy

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/agentcore-proxy/agentcore-proxy/agentcore"
)

// LimitBodyRead returns next with a bound on how long each request body may
// take to arrive: timeout from the end of the headers (when next starts) to
// the end of the body. A body still incomplete by then fails to read, so a
// stalled client holds neither a goroutine nor a connection: a Proxy behind
// the limit answers 408 with a JSON-RPC error and closes the connection,
// having sent nothing upstream if it was still buffering the body, and
// cancelling the upstream request if the body was already streaming to it.
// The bound is lifted when the body ends (net/http does it), so that the
// answer may stream for as long as it lasts. It is a whole-body budget, not an idle timeout: a
// client trickling a byte a second does not escape it.
//
// Put it outermost, in front of any handler that may answer without reading
// the body: net/http reads up to 256 KiB of an unread body before it writes
// an answer, and would wait for a stalled one forever. A ResponseWriter that
// cannot set a read deadline (one that is not net/http's) gets no bound.
// timeout <= 0 returns next.
func LimitBodyRead(next http.Handler, timeout time.Duration) http.Handler {
	if timeout <= 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody {
			next.ServeHTTP(w, r)
			return
		}
		if http.NewResponseController(w).SetReadDeadline(time.Now().Add(timeout)) != nil {
			next.ServeHTTP(w, r)
			return
		}
		r.Body = &timedBody{ReadCloser: r.Body, timeout: timeout}
		next.ServeHTTP(w, r)
	})
}

// ErrBodyTimeout is the error of a read of a request body that did not
// arrive within LimitBodyRead's timeout. It wraps os.ErrDeadlineExceeded.
var ErrBodyTimeout = fmt.Errorf("proxy: the request body did not arrive in time: %w", os.ErrDeadlineExceeded)

// timedBody is a request body under LimitBodyRead's deadline. Proxy finds
// it as the request's Body (nothing between LimitBodyRead and Proxy
// replaces a body), to answer 408 even when the failed read happened in the
// transport, after net/http had already cancelled the request's context.
type timedBody struct {
	io.ReadCloser
	timeout time.Duration
	late    atomic.Bool // a read hit the deadline
}

// Read needs not lift the deadline at the end of the body: net/http does
// (connReader.startBackgroundRead), before it watches the connection for
// the client going away, which the deadline would otherwise end.
func (b *timedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF && errors.Is(err, os.ErrDeadlineExceeded) {
		b.late.Store(true)
		err = ErrBodyTimeout
	}
	return n, err
}

// timedOut reports whether the request's body missed LimitBodyRead's
// deadline; body is the request's Body as ServeHTTP got it.
func timedOut(body *timedBody) bool { return body != nil && body.late.Load() }

// bodyTimeout answers a request whose body missed the deadline: 408, and
// the connection is closed (what is left of the body on it is garbage).
func (p *Proxy) bodyTimeout(w http.ResponseWriter, info *requestInfo) {
	w.Header().Set("Connection", "close")
	p.fail(w, info, http.StatusRequestTimeout, CodeInvalidRequest, fmt.Sprintf(
		"agentcore-proxy: the request body did not arrive within %s (%s); the connection is closed",
		info.body.timeout, agentcore.Render("{body_read_timeout}", p.upstream.Names)))
}
