package main

import (
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// The request and reply of one small MCP tool call, as an agent sends it.
const (
	callBody  = `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_weather","arguments":{"city":"Paris"}}}`
	callReply = `{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"Sunny, 21 degrees C in Paris"}],"isError":false}}`
	// sseFirst is the event every SSE stream starts with, so that a client
	// knows the stream is open end to end.
	sseFirst = "event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\",\"params\":{\"level\":\"info\",\"data\":\"open\"}}\n\n"
)

// upstream is the fast MCP upstream every contender talks to: it answers a
// tools/call POST with a fixed reply, holds SSE streams open for GET, and
// refuses a request without a bearer token.
type upstream struct {
	srv          *http.Server
	url          string // http://127.0.0.1:PORT
	stop         chan struct{}
	calls        atomic.Int64
	unauthorized atomic.Int64
	openStreams  atomic.Int64
}

func startUpstream() (*upstream, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	u := &upstream{url: "http://" + ln.Addr().String(), stop: make(chan struct{})}
	u.srv = &http.Server{Handler: u, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = u.srv.Serve(ln) }()
	return u, nil
}

// close ends every open stream and the server.
func (u *upstream) close() {
	close(u.stop)
	_ = u.srv.Close()
}

var (
	replyLen = strconv.Itoa(len(callReply))
	replyB   = []byte(callReply)
)

func (u *upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/healthz" {
		_, _ = io.WriteString(w, "ok\n")
		return
	}
	if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
		u.unauthorized.Add(1)
		http.Error(w, "missing bearer token", http.StatusUnauthorized)
		return
	}
	switch r.Method {
	case http.MethodPost:
		_, _ = io.Copy(io.Discard, r.Body)
		u.calls.Add(1)
		h := w.Header()
		h["Content-Type"] = []string{"application/json"}
		h["Content-Length"] = []string{replyLen}
		_, _ = w.Write(replyB)
	case http.MethodGet:
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-cache")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, sseFirst)
		http.NewResponseController(w).Flush()
		u.openStreams.Add(1)
		defer u.openStreams.Add(-1)
		select {
		case <-r.Context().Done():
		case <-u.stop:
		}
	default:
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}
