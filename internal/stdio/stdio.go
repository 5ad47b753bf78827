// Package stdio is agentcore-proxy's stdio front: it speaks the MCP stdio
// transport (newline-delimited JSON-RPC on stdin and stdout) to a client that
// launched it as a subprocess, and relays every message as a streamable-HTTP
// request to the proxy's own handler, so that tokens, checks, diagnosis,
// session recovery and metrics apply exactly as in serve.
//
// How it relays, and why not with more of the official Go SDK (v1.8.0):
//
//   - stdin: the SDK's IOTransport/StdioTransport connection stops reading
//     for good at the first line that is not JSON, and the stdio front must
//     answer garbage with a parse error and keep serving. So the front frames
//     lines itself and uses the SDK's codec (jsonrpc.DecodeMessage) to tell
//     requests, notifications and responses apart and read ids and methods.
//     Messages are forwarded as the client wrote them, never re-encoded.
//   - stdout: upstream messages are written as they arrive, each compacted
//     onto one line, under one lock. The proxy's own errors (a parse error
//     with id null, an upstream failure for a request) are JSON-RPC error
//     responses; the SDK's encoder omits a null id, so they are marshalled
//     here with the shape proxy.WriteError uses.
//   - upstream: the SDK's StreamableClientTransport connection is made for an
//     mcp.Client and does not work alone. It learns the protocol version
//     only through sessionUpdated, which only mcp.Client can call, so it
//     would send no Mcp-Protocol-Version after initialize; the Mcp-Param-*
//     headers need the tool's schema from the Client's context; it turns an
//     HTTP error answer into a Go error, losing the proxy's explanation,
//     which must reach the client as a JSON-RPC error for the request's id;
//     and it closes the whole connection on a 404. So the front POSTs each
//     message itself (to an http.Handler in process, or to a URL), reads the
//     JSON or SSE answer, and sets the few headers MCP's HTTP transport
//     wants: Mcp-Session-Id from the initialize answer, Mcp-Protocol-Version
//     (from the message's _meta on 2026-07-28, else from the initialize
//     result), and on 2026-07-28 Mcp-Method and Mcp-Name, as the SDK's client
//     does. Mcp-Param-* headers (x-mcp-header in a tool's input schema) are
//     not derived: that would need the tool list.
package stdio

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/agentcore-proxy/agentcore-proxy/internal/inprocess"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
)

// Defaults for Options.
const (
	// DefaultDrainTimeout is how long calls in flight may run on after stdin
	// closes or the context ends.
	DefaultDrainTimeout = 10 * time.Second
	// DefaultMaxLineBytes bounds one line on stdin (AgentCore accepts
	// request bodies of at most 100 MB) and one upstream message relayed
	// to stdout.
	DefaultMaxLineBytes = 100 << 20
)

// Options configures Run. Handler or Endpoint is required.
type Options struct {
	// Handler serves the relayed requests in process, usually the route's
	// *proxy.Proxy; no listener is opened.
	Handler http.Handler
	// Endpoint is the MCP URL to POST to when Handler is nil.
	Endpoint string
	// HTTPClient sends requests to Endpoint; nil means a client without
	// timeout (a call may stream for an hour).
	HTTPClient *http.Client
	// Logger receives the front's own log lines; never stdout. Nil discards.
	Logger *slog.Logger
	// DrainTimeout bounds how long calls in flight may finish after stdin
	// closes or ctx ends; 0 means DefaultDrainTimeout.
	DrainTimeout time.Duration
	// MaxLineBytes bounds one line on stdin, and one upstream message (a
	// JSON body, one event's data): a larger answer gets a JSON-RPC error
	// for its request and is not read further. 0 means DefaultMaxLineBytes.
	MaxLineBytes int
	// Redact, if set, replaces credentials in the upstream's words the
	// front quotes in its own errors and logs; nil quotes them as they are.
	Redact func(string) string
	// MaxLineName names MaxLineBytes in those errors, e.g. the flag that
	// set it; "" leaves it unnamed.
	MaxLineName string
}

// Run relays MCP messages between stdin/stdout and the upstream until stdin
// ends or ctx is done; then calls in flight get DrainTimeout to finish and
// the rest are cancelled. It returns nil then, and an error only if stdin or
// stdout failed. Only JSON-RPC messages are ever written to stdout.
func Run(ctx context.Context, stdin io.Reader, stdout io.Writer, opts Options) error {
	if opts.Handler == nil && opts.Endpoint == "" {
		return errors.New("stdio: Options.Handler or Options.Endpoint is required")
	}
	r := &relay{
		endpoint: opts.Endpoint,
		client:   opts.HTTPClient,
		log:      opts.Logger,
		out:      &lineWriter{w: stdout},
		redact:   opts.Redact,
	}
	if r.redact == nil {
		r.redact = func(s string) string { return s }
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if opts.Handler != nil {
		r.endpoint = "http://agentcore-proxy.stdio/mcp"
		r.client = &http.Client{Transport: &inprocess.Transport{Handler: opts.Handler, RemoteAddr: "stdio"}}
	} else if r.client == nil {
		r.client = &http.Client{}
	}
	drain := opts.DrainTimeout
	if drain <= 0 {
		drain = DefaultDrainTimeout
	}
	maxLine := opts.MaxLineBytes
	if maxLine <= 0 {
		maxLine = DefaultMaxLineBytes
	}
	r.maxMessage, r.limitName = maxLine, opts.MaxLineName

	// Calls outlive ctx by up to the drain; cancelCalls ends them.
	callCtx, cancelCalls := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelCalls()
	r.out.onError = cancelCalls

	lines := make(chan line)
	readDone := make(chan struct{})
	go func() {
		defer close(lines)
		br := bufio.NewReaderSize(stdin, 64<<10)
		for {
			b, tooLong, err := readLine(br, maxLine)
			if len(b) > 0 || tooLong {
				select {
				case lines <- line{data: b, tooLong: tooLong}:
				case <-readDone:
					return
				}
			}
			if err != nil {
				if !errors.Is(err, io.EOF) {
					select {
					case lines <- line{err: err}:
					case <-readDone:
					}
				}
				return
			}
		}
	}()
	defer close(readDone)

	var calls sync.WaitGroup
	var readErr error
loop:
	for {
		select {
		case <-ctx.Done():
			r.log.Debug("stdio: context ended, draining", "err", ctx.Err())
			break loop
		case <-callCtx.Done():
			break loop // stdout failed
		case l, ok := <-lines:
			if !ok {
				r.log.Debug("stdio: stdin closed, draining")
				break loop
			}
			if l.err != nil {
				readErr = fmt.Errorf("stdio: reading stdin: %w", l.err)
				break loop
			}
			r.handle(callCtx, &calls, l)
		}
	}

	r.stopListening()
	finished := make(chan struct{})
	go func() { calls.Wait(); close(finished) }()
	timer := time.NewTimer(drain)
	defer timer.Stop()
	select {
	case <-finished:
	case <-timer.C:
		r.log.Warn("stdio: calls still running after the drain timeout; cancelling them", "drain_timeout", drain)
		cancelCalls()
		<-finished
	}
	cancelCalls()
	r.waitListener()
	r.endSession()
	return errors.Join(readErr, r.out.err())
}

// line is one line read from stdin.
type line struct {
	data    []byte
	tooLong bool
	err     error
}

// readLine reads one newline-terminated line without its line ending. A
// line over max bytes is consumed and reported as tooLong, without data.
func readLine(br *bufio.Reader, max int) (data []byte, tooLong bool, err error) {
	for {
		chunk, err := br.ReadSlice('\n')
		if !tooLong {
			if len(data)+len(chunk) > max+2 { // +2: the line ending
				tooLong, data = true, nil
			} else {
				data = append(data, chunk...)
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		data = bytes.TrimRight(data, "\r\n")
		if len(data) > max {
			return nil, true, err
		}
		return data, tooLong, err
	}
}

// handle dispatches one line. Requests run concurrently; notifications and
// responses are sent in order, before the next line is read, so that
// notifications/initialized reaches the server before what follows it.
func (r *relay) handle(ctx context.Context, calls *sync.WaitGroup, l line) {
	if l.tooLong {
		r.out.writeError(nil, jsonrpc.CodeInvalidRequest, "agentcore-proxy: a line on stdin is longer than the limit; it was dropped")
		return
	}
	data := bytes.TrimSpace(l.data)
	if len(data) == 0 {
		return
	}
	if !json.Valid(data) {
		r.out.writeError(nil, jsonrpc.CodeParseError, "Parse error: agentcore-proxy read a line on stdin that is not JSON")
		return
	}
	msg, err := jsonrpc.DecodeMessage(data)
	if err != nil {
		if data[0] == '[' {
			// A batch (protocol 2025-03-26): the upstream decides.
			calls.Go(func() { r.send(ctx, data, nil) })
			return
		}
		r.out.writeError(rawID(data), jsonrpc.CodeInvalidRequest, "Invalid Request: "+err.Error())
		return
	}
	if req, ok := msg.(*jsonrpc.Request); ok && req.IsCall() {
		calls.Go(func() { r.send(ctx, data, msg) })
		return
	}
	r.send(ctx, data, msg)
}

// rawID returns the id member of a JSON object, or nil.
func rawID(data []byte) json.RawMessage {
	var m struct {
		ID json.RawMessage `json:"id"`
	}
	if json.Unmarshal(data, &m) != nil || len(m.ID) == 0 || (m.ID[0] != '"' && m.ID[0] != '-' && (m.ID[0] < '0' || m.ID[0] > '9')) {
		return nil
	}
	return m.ID
}

// lineWriter writes whole lines to stdout, one at a time.
type lineWriter struct {
	mu      sync.Mutex
	w       io.Writer
	failed  error
	onError func()
}

// writeMessage writes a JSON message compacted onto one line.
func (lw *lineWriter) writeMessage(data []byte) error {
	var buf bytes.Buffer
	buf.Grow(len(data) + 1)
	if err := json.Compact(&buf, data); err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	buf.WriteByte('\n')
	lw.mu.Lock()
	defer lw.mu.Unlock()
	if lw.failed != nil {
		return lw.failed
	}
	if _, err := lw.w.Write(buf.Bytes()); err != nil {
		lw.failed = fmt.Errorf("stdio: writing stdout: %w", err)
		if lw.onError != nil {
			lw.onError()
		}
		return lw.failed
	}
	return nil
}

// errorResponse is a JSON-RPC error response with a raw id (null when nil),
// the shape proxy.WriteError writes.
type errorResponse struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Error   errorObject     `json:"error"`
}

type errorObject struct {
	Code    int64           `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data,omitempty"`
}

func (lw *lineWriter) writeError(id json.RawMessage, code int64, message string) {
	if len(id) == 0 {
		id = json.RawMessage("null")
	}
	// Without HTML escaping, the id goes back as the client sent it:
	// json.Marshal would rewrite "&" in a string id as "\u0026".
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(errorResponse{JSONRPC: "2.0", ID: id, Error: errorObject{Code: code, Message: message}})
	lw.writeMessage(b.Bytes())
}

func (lw *lineWriter) err() error {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	return lw.failed
}
