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
	"mime"
	"net/http"
	"strings"
	"sync"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
)

// Headers of MCP's streamable HTTP transport.
const (
	headerSessionID       = "Mcp-Session-Id"
	headerProtocolVersion = "Mcp-Protocol-Version"
	headerMethod          = "Mcp-Method"
	headerName            = "Mcp-Name"
	// metaProtocolVersion is the _meta key that carries the protocol version
	// in every request from 2026-07-28 on.
	metaProtocolVersion = "io.modelcontextprotocol/protocolVersion"
	// sessionlessVersion is the first protocol version without initialize;
	// from it on requests carry Mcp-Method and Mcp-Name. Versions are dates,
	// so they compare as strings.
	sessionlessVersion = "2026-07-28"
	// maxErrorBody is how much of an HTTP error answer is read.
	maxErrorBody = 64 << 10
	// codeUpstream is the JSON-RPC code of the proxy's upstream failures
	// (proxy.CodeUpstream).
	codeUpstream = -32000
)

// relay holds the session state shared by the messages of one stdio client.
type relay struct {
	endpoint string
	client   *http.Client
	log      *slog.Logger
	out      *lineWriter
	redact   func(string) string
	// maxMessage bounds one upstream message (a JSON body, one event's
	// data); limitName names the limit in errors ("" leaves it unnamed).
	maxMessage int
	limitName  string

	mu              sync.Mutex
	sessionID       string
	protocolVersion string
	stopListen      context.CancelFunc
	listening       sync.WaitGroup
	stopped         bool
}

func (r *relay) session() (id, version string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sessionID, r.protocolVersion
}

// send POSTs one message and writes what comes back. msg is nil for a batch.
func (r *relay) send(ctx context.Context, data []byte, msg jsonrpc.Message) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.endpoint, bytes.NewReader(data))
	if err != nil {
		r.fail(msg, "agentcore-proxy: "+err.Error())
		return
	}
	r.setHeaders(req.Header, msg)
	call, _ := msg.(*jsonrpc.Request)
	if call != nil && !call.IsCall() {
		call = nil
	}
	resp, err := r.client.Do(req)
	if err != nil {
		if ctx.Err() == nil {
			r.fail(msg, "agentcore-proxy could not reach the upstream: "+err.Error())
		}
		return
	}
	defer resp.Body.Close()
	initialize := call != nil && call.Method == "initialize"
	if initialize && resp.StatusCode < 300 {
		if id := resp.Header.Get(headerSessionID); id != "" {
			r.mu.Lock()
			r.sessionID = id
			r.mu.Unlock()
		}
	}
	switch mt := mediaType(resp.Header.Get("Content-Type")); {
	case resp.StatusCode >= 400:
		r.relayError(msg, resp)
	case resp.StatusCode == http.StatusAccepted || resp.StatusCode == http.StatusNoContent:
		if call != nil {
			r.fail(msg, fmt.Sprintf("agentcore-proxy: the upstream answered the request with %d and no response", resp.StatusCode))
		}
	case mt == "text/event-stream":
		answered, err := r.relayEvents(ctx, resp.Body, call)
		switch {
		case answered:
		case errors.Is(err, errMessageTooLarge):
			r.fail(msg, r.tooLarge("one event of the upstream's event stream"))
		case call != nil && ctx.Err() == nil:
			r.fail(msg, "agentcore-proxy: the upstream's event stream ended without a response")
		}
	default:
		// One byte over the limit tells a body that is too large; the rest
		// is never read (the deferred Close ends the upstream request).
		body, err := io.ReadAll(io.LimitReader(resp.Body, int64(r.maxMessage)+1))
		if err != nil {
			if ctx.Err() == nil {
				r.fail(msg, "agentcore-proxy: reading the upstream's answer: "+err.Error())
			}
			return
		}
		if len(body) > r.maxMessage {
			r.fail(msg, r.tooLarge("the upstream's answer"))
			return
		}
		if len(bytes.TrimSpace(body)) == 0 {
			if call != nil {
				r.fail(msg, "agentcore-proxy: the upstream answered the request with an empty body")
			}
			return
		}
		r.relayMessage(body, call)
	}
	if initialize {
		r.listen()
	}
}

// setHeaders sets the streamable-HTTP headers for msg.
func (r *relay) setHeaders(h http.Header, msg jsonrpc.Message) {
	h.Set("Content-Type", "application/json")
	h.Set("Accept", "application/json, text/event-stream")
	sid, version := r.session()
	if sid != "" {
		h.Set(headerSessionID, sid)
	}
	req, _ := msg.(*jsonrpc.Request)
	var params struct {
		Meta map[string]json.RawMessage `json:"_meta"`
		Name string                     `json:"name"`
		URI  string                     `json:"uri"`
	}
	if req != nil && len(req.Params) > 0 {
		json.Unmarshal(req.Params, &params)
	}
	if raw, ok := params.Meta[metaProtocolVersion]; ok {
		var v string
		if json.Unmarshal(raw, &v) == nil && v != "" {
			version = v
		}
	}
	if version != "" && (req == nil || req.Method != "initialize") {
		h.Set(headerProtocolVersion, version)
	}
	if req != nil && version >= sessionlessVersion {
		h.Set(headerMethod, req.Method)
		switch req.Method {
		case "tools/call", "prompts/get":
			h.Set(headerName, params.Name)
		case "resources/read":
			h.Set(headerName, params.URI)
		}
	}
}

// relayMessage writes one upstream message to stdout. If it is the
// response to call and call is initialize, it also learns the protocol
// version. It reports whether the message was call's response.
func (r *relay) relayMessage(data []byte, call *jsonrpc.Request) bool {
	answered := false
	if call != nil {
		if msg, err := jsonrpc.DecodeMessage(data); err == nil {
			if resp, ok := msg.(*jsonrpc.Response); ok && resp.ID == call.ID {
				answered = true
				if call.Method == "initialize" && resp.Error == nil {
					var res struct {
						ProtocolVersion string `json:"protocolVersion"`
					}
					if json.Unmarshal(resp.Result, &res) == nil && res.ProtocolVersion != "" {
						r.mu.Lock()
						r.protocolVersion = res.ProtocolVersion
						r.mu.Unlock()
					}
				}
			}
		}
	}
	if err := r.out.writeMessage(data); err != nil {
		r.log.Warn("stdio: dropped an upstream message", "err", err)
	}
	return answered
}

// relayEvents writes the message of each SSE event as it arrives and
// reports whether call's response was among them. It stops at an event
// larger than the limit and returns errMessageTooLarge; the caller closes
// the body, which ends the upstream request.
func (r *relay) relayEvents(ctx context.Context, body io.Reader, call *jsonrpc.Request) (bool, error) {
	answered := false
	err := readEvents(body, r.maxMessage, func(data []byte) {
		if r.relayMessage(data, call) {
			answered = true
		}
	})
	if err != nil && ctx.Err() == nil {
		r.log.Warn("stdio: reading an event stream", "err", err)
	}
	return answered, err
}

// tooLarge explains the refusal of an upstream message over the limit.
func (r *relay) tooLarge(what string) string {
	name := ""
	if r.limitName != "" {
		name = " (" + r.limitName + ")"
	}
	return fmt.Sprintf("agentcore-proxy: %s is larger than %d bytes, the limit on one message%s; it was dropped and the rest of the answer not read", what, r.maxMessage, name)
}

// relayError turns an HTTP error answer into a JSON-RPC error response to
// the request: the proxy explains its failures in a JSON-RPC error body,
// whose message is kept.
func (r *relay) relayError(msg jsonrpc.Message, resp *http.Response) {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	var e struct {
		Error *errorObject `json:"error"`
	}
	message := fmt.Sprintf("agentcore-proxy: the upstream answered %d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
	code := int64(codeUpstream)
	if json.Unmarshal(body, &e) == nil && e.Error != nil && e.Error.Message != "" {
		code, message = e.Error.Code, e.Error.Message
	} else if s := strings.TrimSpace(string(body)); s != "" {
		message += ": " + truncate(r.redact(s), 500) // before a token is cut short
	}
	r.fail(msg, r.redact(message), withCode(code))
}

type failOption func(*errorObject)

func withCode(code int64) failOption { return func(e *errorObject) { e.Code = code } }

// fail answers a request with a JSON-RPC error, or logs the failure of a
// notification or response, which has nobody to answer.
func (r *relay) fail(msg jsonrpc.Message, message string, opts ...failOption) {
	e := errorObject{Code: codeUpstream, Message: message}
	for _, o := range opts {
		o(&e)
	}
	req, ok := msg.(*jsonrpc.Request)
	if !ok || !req.IsCall() {
		r.log.Warn("stdio: a message could not be delivered", "err", message)
		return
	}
	id, _ := json.Marshal(req.ID.Raw())
	r.out.writeError(id, e.Code, e.Message)
}

// listen opens the standalone GET stream once a session exists, for server
// messages outside any request (list changes, log messages). Servers that
// offer none answer 405, and the front stops trying.
func (r *relay) listen() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.sessionID == "" || r.stopListen != nil || r.stopped {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.stopListen = cancel
	r.listening.Go(func() {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.endpoint, nil)
		if err != nil {
			return
		}
		sid, version := r.session()
		req.Header.Set("Accept", "text/event-stream")
		req.Header.Set(headerSessionID, sid)
		if version != "" {
			req.Header.Set(headerProtocolVersion, version)
		}
		resp, err := r.client.Do(req)
		if err != nil {
			return
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK || mediaType(resp.Header.Get("Content-Type")) != "text/event-stream" {
			io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
			r.log.Debug("stdio: no standalone event stream", "status", resp.StatusCode)
			return
		}
		r.relayEvents(ctx, resp.Body, nil) // an event over the limit ends the stream: logged
	})
}

func (r *relay) stopListening() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stopped = true
	if r.stopListen != nil {
		r.stopListen()
	}
}

func (r *relay) waitListener() { r.listening.Wait() }

// errMessageTooLarge reports an upstream message (one event's data) over
// the limit.
var errMessageTooLarge = errors.New("stdio: an upstream message is larger than the limit")

// readEvents calls fn with the data of each server-sent event in body. An
// event whose data would pass max bytes (or a line that would) stops it at
// once with errMessageTooLarge: nothing more is read or kept, so memory
// stays within about twice max whatever the upstream sends.
func readEvents(body io.Reader, max int, fn func(data []byte)) error {
	br := bufio.NewReaderSize(body, 64<<10)
	var ev eventData
	var buf []byte
	dispatch := func() {
		if data, ok := ev.take(); ok {
			fn(data)
		}
	}
	for {
		// A line may hold a field name and max bytes of data.
		l, err := eventLine(br, max+maxFieldName, buf[:0])
		if errors.Is(err, errMessageTooLarge) {
			return err
		}
		buf = l
		switch {
		case len(l) == 0 && err == nil:
			dispatch()
		case bytes.HasPrefix(l, []byte("data:")):
			if err := ev.add(bytes.TrimPrefix(l[len("data:"):], []byte(" ")), max); err != nil {
				return err
			}
		}
		if err != nil {
			dispatch()
			if err == io.EOF {
				return nil
			}
			return err
		}
	}
}

// eventData gathers the data lines of one event. Each line is kept as a
// copy of its own and they are joined once, when the event ends: growing
// one buffer would hold the old and the new array at once, and double the
// peak memory of a large event.
type eventData struct {
	lines [][]byte
	size  int // bytes of data, the newlines between lines included
}

// add appends one data line, or returns errMessageTooLarge if the data
// would pass max bytes.
func (e *eventData) add(v []byte, max int) error {
	n := len(v)
	if len(e.lines) > 0 {
		n++
	}
	if e.size+n > max {
		return errMessageTooLarge
	}
	e.lines = append(e.lines, bytes.Clone(v))
	e.size += n
	return nil
}

// take returns the event's data, ok false if it had none, and starts the
// next event.
func (e *eventData) take() (data []byte, ok bool) {
	switch len(e.lines) {
	case 0:
		return nil, false
	case 1:
		data = e.lines[0]
	default:
		data = bytes.Join(e.lines, []byte("\n"))
	}
	clear(e.lines)
	e.lines, e.size = e.lines[:0], 0
	return data, true
}

// maxFieldName is room on an event's line for its field name ("data: ").
const maxFieldName = 64

// eventLine reads one line into line (reusing its array) without its line
// ending, or errMessageTooLarge as soon as the line passes max bytes.
func eventLine(br *bufio.Reader, max int, line []byte) ([]byte, error) {
	for {
		chunk, err := br.ReadSlice('\n')
		if len(line)+len(bytes.TrimRight(chunk, "\r\n")) > max {
			return nil, errMessageTooLarge
		}
		line = append(line, chunk...)
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		return bytes.TrimRight(line, "\r\n"), err
	}
}

func mediaType(v string) string {
	mt, _, _ := mime.ParseMediaType(v)
	return mt
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
