package emulator

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// ServerName and ServerVersion identify the MCP server behind the emulated runtime.
const (
	ServerName    = "agentcore-emulator"
	ServerVersion = "1.0.0"
)

// Limits and defaults of the stream_progress tool.
const (
	defaultProgressSteps    = 5
	defaultProgressInterval = 100 * time.Millisecond
	maxProgressSteps        = 1000
	maxProgressInterval     = 10 * time.Second
	maxInvocationBody       = 100 << 20
)

type pairInput struct {
	A float64 `json:"a" jsonschema:"the first number"`
	B float64 `json:"b" jsonschema:"the second number"`
}

type numberOutput struct {
	Result float64 `json:"result" jsonschema:"the result of the operation"`
}

type greetInput struct {
	Name string `json:"name" jsonschema:"the name of the person to greet"`
}

type progressInput struct {
	Steps      *int `json:"steps,omitempty" jsonschema:"number of progress notifications to send (default 5, at most 1000)"`
	IntervalMS *int `json:"interval_ms,omitempty" jsonschema:"milliseconds to wait before each notification (default 100, at most 10000)"`
}

// newMCPHandler builds the MCP server that AgentCore would run in the runtime's container: streamable
// HTTP, stateless, as AgentCore's MCP contract expects by default; stateful adds sessions the server
// keeps and the confirm_action tool, which needs them to send its elicitation. closeSessions ends the
// sessions a stateful server still keeps, for shutdown.
func newMCPHandler(log *slog.Logger, stateful bool) (_ http.Handler, closeSessions func()) {
	// The SDK logs every stateless session's connect and disconnect at info:
	// noise in the demo's terminal. Keep its warnings and errors.
	log = slog.New(minLevel{log.Handler(), slog.LevelWarn})
	srv := mcp.NewServer(&mcp.Implementation{Name: ServerName, Version: ServerVersion}, &mcp.ServerOptions{Logger: log})
	mcp.AddTool(srv, &mcp.Tool{Name: "add_numbers", Description: "Add two numbers together."}, arithmetic(func(a, b float64) float64 { return a + b }))
	mcp.AddTool(srv, &mcp.Tool{Name: "multiply_numbers", Description: "Multiply two numbers together."}, arithmetic(func(a, b float64) float64 { return a * b }))
	mcp.AddTool(srv, &mcp.Tool{Name: "greet_user", Description: "Greet a user by name."}, greet)
	mcp.AddTool(srv, &mcp.Tool{
		Name:        "stream_progress",
		Description: "Send progress notifications at an interval, each carrying its emit time (RFC 3339), then finish.",
	}, streamProgress)
	if stateful {
		mcp.AddTool(srv, &mcp.Tool{
			Name:        "confirm_action",
			Description: "Ask the user (by elicitation) to confirm an action, and report the answer.",
		}, confirmAction)
	}
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv },
		&mcp.StreamableHTTPOptions{
			Stateless: !stateful,
			Logger:    log,
			// AgentCore accepts bodies up to 100 MB; the SDK's default limit is 4 MiB.
			MaxRequestBodyBytes: maxInvocationBody,
			// Ends tool handlers when their HTTP request ends, for protocol 2026-07-28 and later.
			PropagateRequestCancellation: true,
		})
	closeSessions = func() {
		for ss := range srv.Sessions() {
			ss.Close()
		}
	}
	if stateful {
		// A stateful session's handlers see the values of the request that
		// made the session (initialize, long answered), not of their own: no
		// HTTP cancel hook; a client cancels with notifications/cancelled.
		return h, closeSessions
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), httpRequestContextKey{}, r.Context())))
	}), closeSessions
}

// httpRequestContextKey carries the HTTP request's context to tool handlers. The SDK hides its
// cancellation from them for protocol versions before 2026-07-28 (the stateless session's handlers
// only end on a JSON-RPC cancel, which cannot reach a stateless server), yet keeps its values.
type httpRequestContextKey struct{}

// withHTTPRequestCancel returns a context that is also cancelled when the HTTP request carrying the
// tool call ends: the client went away or the emulator is shutting down.
func withHTTPRequestCancel(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	rc, ok := ctx.Value(httpRequestContextKey{}).(context.Context)
	if !ok {
		return ctx, cancel
	}
	stop := context.AfterFunc(rc, cancel)
	return ctx, func() { stop(); cancel() }
}

func arithmetic(op func(a, b float64) float64) mcp.ToolHandlerFor[pairInput, numberOutput] {
	return func(_ context.Context, _ *mcp.CallToolRequest, in pairInput) (*mcp.CallToolResult, numberOutput, error) {
		x := op(in.A, in.B)
		return textResult(strconv.FormatFloat(x, 'f', -1, 64)), numberOutput{Result: x}, nil
	}
}

func greet(_ context.Context, _ *mcp.CallToolRequest, in greetInput) (*mcp.CallToolResult, any, error) {
	return textResult("Hello, " + in.Name + "! Nice to meet you."), nil, nil
}

// streamProgress sends one progress notification per step on the request's own SSE stream, which a
// stateless server can still do for notifications made with the request's context.
func streamProgress(ctx context.Context, req *mcp.CallToolRequest, in progressInput) (*mcp.CallToolResult, any, error) {
	steps := defaultProgressSteps
	if in.Steps != nil {
		steps = min(max(*in.Steps, 0), maxProgressSteps)
	}
	interval := defaultProgressInterval
	if in.IntervalMS != nil {
		interval = min(max(time.Duration(*in.IntervalMS)*time.Millisecond, 0), maxProgressInterval)
	}
	ctx, cancel := withHTTPRequestCancel(ctx)
	defer cancel()
	token := req.Params.GetProgressToken()
	timer := time.NewTimer(interval)
	defer timer.Stop()
	for i := 1; i <= steps; i++ {
		if i > 1 {
			timer.Reset(interval)
		}
		select {
		case <-ctx.Done():
			return nil, nil, fmt.Errorf("stream_progress: cancelled after %d of %d steps: %w", i-1, steps, ctx.Err())
		case <-timer.C:
		}
		if token == nil {
			continue
		}
		err := req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{
			ProgressToken: token,
			Progress:      float64(i),
			Total:         float64(steps),
			Message:       time.Now().UTC().Format(time.RFC3339Nano),
		})
		if err != nil {
			return nil, nil, fmt.Errorf("stream_progress: notify step %d: %w", i, err)
		}
	}
	return textResult(fmt.Sprintf("streamed %d steps", steps)), nil, nil
}

type confirmInput struct {
	Action string `json:"action" jsonschema:"the action to confirm"`
}

// confirmAction sends elicitation/create to the client, a request only a stateful session can carry,
// and reports the client's answer: "ACTION: accept confirm=true".
func confirmAction(ctx context.Context, req *mcp.CallToolRequest, in confirmInput) (*mcp.CallToolResult, any, error) {
	res, err := req.Session.Elicit(ctx, &mcp.ElicitParams{
		Message: "Confirm " + in.Action + "?",
		RequestedSchema: map[string]any{"type": "object",
			"properties": map[string]any{"confirm": map[string]any{"type": "boolean"}}, "required": []string{"confirm"}},
	})
	if err != nil {
		return nil, nil, fmt.Errorf("confirm_action: elicitation: %w", err)
	}
	return textResult(fmt.Sprintf("%s: %s confirm=%v", in.Action, res.Action, res.Content["confirm"])), nil, nil
}

func textResult(s string) *mcp.CallToolResult {
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: s}}}
}

// minLevel passes on only records at or above level.
type minLevel struct {
	slog.Handler
	level slog.Level
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.level && h.Handler.Enabled(ctx, l)
}

func (h minLevel) WithAttrs(as []slog.Attr) slog.Handler {
	return minLevel{h.Handler.WithAttrs(as), h.level}
}

func (h minLevel) WithGroup(name string) slog.Handler {
	return minLevel{h.Handler.WithGroup(name), h.level}
}
