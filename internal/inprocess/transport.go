// Package inprocess sends HTTP requests to an http.Handler in the same
// process, with no listener: a front that attaches credentials (the stdio
// front, doctor's MCP check) must not open a port any local process could
// use to borrow them.
package inprocess

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"sync"
)

// Transport is an http.RoundTripper that serves each request with Handler
// in process, streaming the answer through a pipe: event streams reach the
// client as the handler flushes, and closing the response body ends the
// handler's request (its context is cancelled).
type Transport struct {
	// Handler serves every request.
	Handler http.Handler
	// RemoteAddr is the handler's Request.RemoteAddr, naming the front in
	// logs.
	RemoteAddr string

	wg   sync.WaitGroup
	mu   sync.Mutex
	open map[*handlerBody]struct{} // answers not yet closed by the client
}

// RoundTrip serves req with t.Handler. It returns when the handler has
// written its headers (or returned), or when req's context ends first.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancel(req.Context())
	in := req.Clone(ctx)
	in.RequestURI = req.URL.RequestURI()
	in.RemoteAddr = t.RemoteAddr
	if in.Body == nil {
		in.Body = http.NoBody
	}
	pr, pw := io.Pipe()
	w := &pipeWriter{header: http.Header{}, pw: pw, ready: make(chan struct{})}
	body := &handlerBody{pr: pr, cancel: cancel, t: t}
	t.mu.Lock()
	if t.open == nil {
		t.open = map[*handlerBody]struct{}{}
	}
	t.open[body] = struct{}{}
	t.mu.Unlock()
	t.wg.Go(func() {
		defer func() {
			in.Body.Close() // a RoundTripper closes the request body
			// Like http.Server, survive a handler's panic: the answer is cut short.
			if v := recover(); v != nil {
				w.start(http.StatusInternalServerError)
				pw.CloseWithError(io.ErrUnexpectedEOF)
				return
			}
			w.start(http.StatusOK)
			pw.Close()
		}()
		t.Handler.ServeHTTP(w, in)
	})
	select {
	case <-w.ready:
	case <-ctx.Done():
		body.Close()
		return nil, ctx.Err()
	}
	return &http.Response{
		Status:        strconv.Itoa(w.status) + " " + http.StatusText(w.status),
		StatusCode:    w.status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        w.sent,
		Body:          body,
		ContentLength: -1,
		Request:       req,
	}, nil
}

// Close ends every request still being served, as if its client had closed
// the answer, and waits for their handlers to return.
func (t *Transport) Close() error {
	t.mu.Lock()
	open := make([]*handlerBody, 0, len(t.open))
	for b := range t.open {
		open = append(open, b)
	}
	t.mu.Unlock()
	for _, b := range open {
		b.Close()
	}
	t.wg.Wait()
	return nil
}

// pipeWriter is the handler's http.ResponseWriter: headers are captured on
// the first write or flush, the body goes into the pipe.
type pipeWriter struct {
	header http.Header
	pw     *io.PipeWriter
	once   sync.Once
	ready  chan struct{}
	status int
	sent   http.Header
}

func (w *pipeWriter) Header() http.Header { return w.header }

func (w *pipeWriter) WriteHeader(code int) {
	if code >= 100 && code < 200 {
		return
	}
	w.start(code)
}

func (w *pipeWriter) start(code int) {
	w.once.Do(func() {
		w.status, w.sent = code, w.header.Clone()
		close(w.ready)
	})
}

func (w *pipeWriter) Write(b []byte) (int, error) {
	w.start(http.StatusOK)
	return w.pw.Write(b)
}

// Flush sends the headers; the body is unbuffered.
func (w *pipeWriter) Flush() { w.start(http.StatusOK) }

// handlerBody ends the handler's request when the reader is done with it:
// its context is cancelled and its writes fail.
type handlerBody struct {
	pr     *io.PipeReader
	cancel context.CancelFunc
	t      *Transport
}

func (b *handlerBody) Read(p []byte) (int, error) { return b.pr.Read(p) }

func (b *handlerBody) Close() error {
	b.cancel()
	b.t.mu.Lock()
	delete(b.t.open, b)
	b.t.mu.Unlock()
	return b.pr.Close()
}
