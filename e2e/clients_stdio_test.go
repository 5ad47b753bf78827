//go:build unix

package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agentcore-proxy/agentcore-proxy/internal/emulator"
)

// Both MCP protocol generations the proxy carries: with sessions and
// initialize, and without.
var protocolVersions = []string{"2025-11-25", "2026-07-28"}

// stdioCommand returns `agentcore-proxy stdio` (the real binary) pointed at
// emu with the secret in its environment, as a client would launch it; its
// stderr goes to the returned buffer, scanned for secrets at cleanup.
func stdioCommand(t *testing.T, emu *emulator.Emulator, extra ...string) (*exec.Cmd, *syncBuffer) {
	t.Helper()
	args := append([]string{"stdio", "--log-level", "debug",
		"--runtime-arn", emu.RuntimeARN(),
		"--endpoint-url", emu.EndpointURL(),
		"--discovery-url", emu.DiscoveryURL(),
		"--client-id", testClientID,
	}, extra...)
	cmd := exec.Command(binary(t), args...)
	cmd.Env = append(os.Environ(), "AGENTCORE_PROXY_CLIENT_SECRET="+testClientSecret)
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	t.Cleanup(func() { secretScan(t, stderr.String()) })
	return cmd, stderr
}

// connectStdio launches the binary with the Go SDK's CommandTransport.
func connectStdio(t *testing.T, cmd *exec.Cmd, version string, opts *mcp.ClientOptions) *mcp.ClientSession {
	t.Helper()
	c := mcp.NewClient(&mcp.Implementation{Name: "e2e-stdio", Version: "1"}, opts)
	cs, err := c.Connect(t.Context(), &mcp.CommandTransport{Command: cmd}, &mcp.ClientSessionOptions{ProtocolVersion: version})
	if err != nil {
		t.Fatalf("Connect(%s) through agentcore-proxy stdio: %v", version, err)
	}
	if got := cs.InitializeResult().ProtocolVersion; got != version {
		t.Fatalf("negotiated protocol %q, want %q", got, version)
	}
	return cs
}

func toolText(res *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

// exerciseTools lists the tools, calls each, streams progress and makes 20
// concurrent calls on cs; progress receives the client's progress
// notifications.
func exerciseTools(t *testing.T, cs *mcp.ClientSession, progress <-chan float64) {
	t.Helper()
	ctx := t.Context()
	tools, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatalf("ListTools: %v", err)
	}
	var names []string
	for _, tool := range tools.Tools {
		names = append(names, tool.Name)
	}
	if got, want := strings.Join(names, ","), "add_numbers,greet_user,multiply_numbers,stream_progress"; got != want {
		t.Errorf("ListTools() = %s, want %s", got, want)
	}
	for _, c := range []struct {
		name string
		args map[string]any
		want string
	}{
		{name: "add_numbers", args: map[string]any{"a": 2, "b": 3}, want: "5"},
		{name: "multiply_numbers", args: map[string]any{"a": 4, "b": 2.5}, want: "10"},
		{name: "greet_user", args: map[string]any{"name": "Ada"}, want: "Hello, Ada! Nice to meet you."},
		{name: "stream_progress", args: map[string]any{"steps": 2, "interval_ms": 1}, want: "streamed 2 steps"},
	} {
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: c.name, Arguments: c.args})
		if err != nil || res.IsError || toolText(res) != c.want {
			t.Errorf("CallTool(%s) = %v, %v, want %q", c.name, res, err, c.want)
		}
	}

	params := &mcp.CallToolParams{Name: "stream_progress", Arguments: map[string]any{"steps": 5, "interval_ms": 10}}
	params.SetProgressToken("e2e-progress")
	res, err := cs.CallTool(ctx, params)
	if err != nil || toolText(res) != "streamed 5 steps" {
		t.Errorf("CallTool(stream_progress with a progress token) = %v, %v", res, err)
	}
	// Notification handlers run on goroutines of their own: they may end
	// after CallTool returns.
	for i := range 5 {
		select {
		case <-progress:
		case <-time.After(10 * time.Second):
			t.Fatalf("got %d progress notifications, want 5", i)
		}
	}

	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 {
		wg.Go(func() {
			res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "add_numbers", Arguments: map[string]any{"a": i, "b": 1000}})
			switch {
			case err != nil:
				errs <- err
			case toolText(res) != fmt.Sprint(i+1000):
				errs <- fmt.Errorf("add_numbers(%d, 1000) = %q", i, toolText(res))
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent call: %v", err)
	}
}

func progressClient() (*mcp.ClientOptions, chan float64) {
	progress := make(chan float64, 100)
	return &mcp.ClientOptions{
		ProgressNotificationHandler: func(_ context.Context, req *mcp.ProgressNotificationClientRequest) {
			progress <- req.Params.Progress
		},
	}, progress
}

// TestStdioGoSDKCommandTransport launches `agentcore-proxy stdio` with the
// Go SDK's CommandTransport, as Claude Desktop launches a server, on both
// protocol generations; closing the session closes stdin and the proxy
// exits 0.
func TestStdioGoSDKCommandTransport(t *testing.T) {
	for _, version := range protocolVersions {
		t.Run(version, func(t *testing.T) {
			emu := startEmulator(t, emulator.Config{})
			cmd, stderr := stdioCommand(t, emu)
			opts, progress := progressClient()
			cs := connectStdio(t, cmd, version, opts)
			exerciseTools(t, cs, progress)
			if err := cs.Close(); err != nil {
				t.Errorf("Close (stdin closed, process awaited): %v\nstderr:\n%s", err, stderr)
			}
			if code := cmd.ProcessState.ExitCode(); code != 0 {
				t.Errorf("agentcore-proxy stdio exited %d after stdin closed, want 0\nstderr:\n%s", code, stderr)
			}
			var named, sessions int
			for _, inv := range emu.Invocations() {
				if inv.Header.Get("Mcp-Method") == "tools/call" && inv.Header.Get("Mcp-Name") == "greet_user" {
					named++
				}
				if inv.Header.Get("Mcp-Session-Id") != "" {
					sessions++
				}
			}
			if version >= "2026-07-28" && named != 1 {
				t.Errorf("AgentCore saw %d greet_user calls with Mcp-Method and Mcp-Name, want 1", named)
			}
			if version < "2026-07-28" && (named != 0 || sessions == 0) {
				t.Errorf("AgentCore saw %d calls with Mcp-Method/Mcp-Name and %d with a session, want 0 and some", named, sessions)
			}
		})
	}
}

// TestServeGoSDKBothProtocols is the same client through serve.
func TestServeGoSDKBothProtocols(t *testing.T) {
	for _, version := range protocolVersions {
		t.Run(version, func(t *testing.T) {
			emu := startEmulator(t, emulator.Config{})
			p := startProxy(t, map[string]string{"AGENTCORE_PROXY_CLIENT_SECRET": testClientSecret}, proxyFlags(emu)...)
			opts, progress := progressClient()
			cs := connectHTTP(t, p.MCPURL(), version, opts)
			exerciseTools(t, cs, progress)
			if err := cs.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
	}
}

// rawStdio is the binary driven line by line, for what SDK clients never
// send.
type rawStdio struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan []byte // stdout, one line each; closed at EOF
	stderr *syncBuffer
}

func startRawStdio(t *testing.T, emu *emulator.Emulator, extra ...string) *rawStdio {
	t.Helper()
	cmd, stderr := stdioCommand(t, emu, extra...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start agentcore-proxy stdio: %v", err)
	}
	r := &rawStdio{t: t, cmd: cmd, stdin: stdin, lines: make(chan []byte, 100), stderr: stderr}
	go func() {
		defer close(r.lines)
		br := bufio.NewReaderSize(stdout, 1<<20)
		for {
			line, err := br.ReadBytes('\n')
			if len(line) > 0 {
				r.lines <- line
			}
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		stdin.Close()
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return r
}

func (r *rawStdio) send(line string) {
	r.t.Helper()
	if _, err := io.WriteString(r.stdin, line+"\n"); err != nil {
		r.t.Fatalf("write stdin: %v", err)
	}
}

// next returns the next stdout line, decoded; anything but one JSON object
// per line fails the test.
func (r *rawStdio) next() map[string]any {
	r.t.Helper()
	select {
	case line, ok := <-r.lines:
		if !ok {
			r.t.Fatalf("stdout ended\nstderr:\n%s", r.stderr)
		}
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			r.t.Fatalf("stdout line %.200q is not one JSON object: %v", line, err)
		}
		return m
	case <-time.After(30 * time.Second):
		r.t.Fatalf("no line on stdout within 30s\nstderr:\n%s", r.stderr)
	}
	return nil
}

// wait waits for the process to exit and returns its exit code.
func (r *rawStdio) wait(within time.Duration) int {
	r.t.Helper()
	done := make(chan error, 1)
	go func() { done <- r.cmd.Wait() }()
	select {
	case <-done:
		return r.cmd.ProcessState.ExitCode()
	case <-time.After(within):
		r.t.Fatalf("agentcore-proxy stdio still runs %s later\nstderr:\n%s", within, r.stderr)
	}
	return -1
}

const rawInitialize = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`

func (r *rawStdio) initialize() {
	r.t.Helper()
	r.send(rawInitialize)
	if got := r.next(); got["id"] != float64(1) || got["result"] == nil {
		r.t.Fatalf("initialize = %v, want a result", got)
	}
	r.send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
}

// TestStdioBinaryGarbageAndLargeLine: garbage gets a parse error on stdout
// and the process keeps serving; a 10 MB line gets its 10 MB answer.
func TestStdioBinaryGarbageAndLargeLine(t *testing.T) {
	long(t, "pushes a 10 MB line through the built binary and back")
	emu := startEmulator(t, emulator.Config{})
	r := startRawStdio(t, emu)
	r.initialize()
	for _, garbage := range []string{"this is not json", `{"jsonrpc":"2.0","id":`} {
		r.send(garbage)
		got := r.next()
		e, _ := got["error"].(map[string]any)
		if got["id"] != nil || e == nil || e["code"] != float64(-32700) {
			t.Errorf("answer to %q = %v, want a parse error (-32700) with id null", garbage, got)
		}
	}
	r.send(`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"add_numbers","arguments":{"a":1,"b":2}}}`)
	if got := fmt.Sprint(r.next()); !strings.Contains(got, "text:3") {
		t.Errorf("add_numbers after garbage = %s, want 3", got)
	}
	name := strings.Repeat("x", 10<<20)
	r.send(`{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"greet_user","arguments":{"name":"` + name + `"}}}`)
	got := r.next()
	res, _ := got["result"].(map[string]any)
	content, _ := res["content"].([]any)
	if want := "Hello, " + name + "! Nice to meet you."; len(content) != 1 || content[0].(map[string]any)["text"] != want {
		t.Errorf("answer to a 10 MB line: %.200v…, want the 10 MB greeting", got)
	}
	r.stdin.Close()
	if code := r.wait(30 * time.Second); code != 0 {
		t.Errorf("exit code %d after stdin closed, want 0", code)
	}
}

// TestStdioBinaryStdinClosedMidCall closes stdin while a call streams: the
// call finishes within the drain, its answer reaches stdout, and the
// process exits 0.
func TestStdioBinaryStdinClosedMidCall(t *testing.T) {
	emu := startEmulator(t, emulator.Config{})
	r := startRawStdio(t, emu, "--drain-timeout", "30s")
	r.initialize()
	r.send(`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"stream_progress","arguments":{"steps":4,"interval_ms":100},"_meta":{"progressToken":"t"}}}`)
	if got := r.next(); got["method"] != "notifications/progress" {
		t.Fatalf("first line after the call = %v, want a progress notification", got)
	}
	r.stdin.Close() // mid-call: three steps remain
	var progress int
	for {
		got := r.next()
		if got["method"] == "notifications/progress" {
			progress++
			continue
		}
		if got["id"] != float64(2) || !strings.Contains(fmt.Sprint(got["result"]), "streamed 4 steps") {
			t.Errorf("answer after stdin closed = %v, want the call's result", got)
		}
		break
	}
	if progress != 3 {
		t.Errorf("got %d progress notifications after stdin closed, want 3", progress)
	}
	if code := r.wait(30 * time.Second); code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
}

// TestStdioBinaryDrainCancels closes stdin during a call longer than the
// drain: the call is cancelled and the process exits 0 soon after the
// drain.
func TestStdioBinaryDrainCancels(t *testing.T) {
	emu := startEmulator(t, emulator.Config{})
	r := startRawStdio(t, emu, "--drain-timeout", "200ms")
	r.initialize()
	r.send(`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"stream_progress","arguments":{"steps":100,"interval_ms":1000}}}`)
	// The call reached the server once AgentCore has seen it.
	deadline := time.Now().Add(20 * time.Second)
	for emu.Stats().Invocations < 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // polling, not synchronization
	}
	r.stdin.Close()
	if code := r.wait(20 * time.Second); code != 0 {
		t.Errorf("exit code %d after the drain, want 0", code)
	}
}

// TestStdioBinarySIGTERM: SIGTERM ends the process with status 0.
func TestStdioBinarySIGTERM(t *testing.T) {
	emu := startEmulator(t, emulator.Config{})
	r := startRawStdio(t, emu)
	r.initialize()
	if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := r.wait(20 * time.Second); code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0\nstderr:\n%s", code, r.stderr)
	}
}

// TestStdioBinaryDiagnosis: an upstream failure reaches the client as a
// JSON-RPC error carrying the proxy's explanation.
func TestStdioBinaryDiagnosis(t *testing.T) {
	emu := startEmulator(t, emulator.Config{})
	r := startRawStdio(t, emu, "--max-retries", "0")
	r.initialize()
	emu.InjectFault(emulator.Fault{Status: 429, ErrorType: "ThrottlingException", Message: "Rate exceeded"}, 10)
	r.send(`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"add_numbers","arguments":{"a":1,"b":2}}}`)
	got := r.next()
	e, _ := got["error"].(map[string]any)
	msg, _ := e["message"].(string)
	if got["id"] != float64(2) || !strings.Contains(msg, "AgentCore answered 429") || !strings.Contains(msg, "Rate exceeded") {
		t.Errorf("answer during throttling = %v, want a JSON-RPC error with the proxy's explanation", got)
	}
}

var metricsAddrRe = regexp.MustCompile(`msg="metrics listening" addr=(\S+)`)

// metricsAddr waits for the stdio process to log its metrics address.
func metricsAddr(t *testing.T, stderr *syncBuffer) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if m := metricsAddrRe.FindStringSubmatch(stderr.String()); m != nil {
			return m[1]
		}
		time.Sleep(10 * time.Millisecond) // polling the log, not synchronization
	}
	t.Fatalf("no metrics address logged within 30s\nstderr:\n%s", stderr)
	return ""
}

// getOK GETs url and returns the body; anything but 200 fails the test.
func getOK(t *testing.T, url string) string {
	t.Helper()
	code, body := httpGet(t, url)
	if code != http.StatusOK {
		t.Fatalf("GET %s = %d %s", url, code, body)
	}
	return body
}

// lostSessionCalls makes a call, ends every upstream session, and makes
// three more: all must succeed with one new initialize upstream. It returns
// the latency of a normal call and of the first after the loss.
func lostSessionCalls(t *testing.T, emu *emulator.Emulator, cs *mcp.ClientSession) (normal, recovered time.Duration) {
	t.Helper()
	add := func() (time.Duration, error) {
		start := time.Now()
		res, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: "add_numbers", Arguments: map[string]any{"a": 1, "b": 2}})
		if err == nil && toolText(res) != "3" {
			err = fmt.Errorf("add_numbers = %q", toolText(res))
		}
		return time.Since(start), err
	}
	if _, err := add(); err != nil {
		t.Fatal(err)
	}
	normal, err := add()
	if err != nil {
		t.Fatal(err)
	}
	before := emu.Stats().Initializes
	emu.EndSessions()
	for i := range 3 {
		d, err := add()
		if err != nil {
			t.Fatalf("call %d after the upstream lost the session: %v", i, err)
		}
		if i == 0 {
			recovered = d
		}
	}
	if n := emu.Stats().Initializes - before; n != 1 {
		t.Errorf("the emulator saw %d new initializes, want 1", n)
	}
	return normal, recovered
}

const recoveredSeries = `agentcore_proxy_session_recoveries_total{result="recovered",route="default"} 1`

// TestSessionLossThroughServe: a 2025-11-25 Go SDK client keeps calling
// tools through serve after AgentCore lost its session, with its session id
// unchanged; the metric and the status page count the recovery.
func TestSessionLossThroughServe(t *testing.T) {
	emu := startEmulator(t, emulator.Config{})
	p := startProxy(t, map[string]string{"AGENTCORE_PROXY_CLIENT_SECRET": testClientSecret}, proxyFlags(emu)...)
	cs := connectHTTP(t, p.MCPURL(), "2025-11-25", nil)
	sid := cs.ID()
	normal, recovered := lostSessionCalls(t, emu, cs)
	t.Logf("tools/call latency: normal %s, first after a lost session %s", normal, recovered)
	if cs.ID() != sid || sid == "" {
		t.Errorf("session id %q, want it unchanged (%q)", cs.ID(), sid)
	}
	if m := getOK(t, p.BaseURL+"/metrics"); !strings.Contains(m, recoveredSeries) {
		t.Errorf("/metrics lacks %s", recoveredSeries)
	}
	var st struct {
		Routes []struct {
			Recoveries map[string]int64 `json:"session_recoveries"`
		}
	}
	if err := json.Unmarshal([]byte(getOK(t, p.BaseURL+"/status")), &st); err != nil || len(st.Routes) != 1 ||
		st.Routes[0].Recoveries["recovered"] != 1 || st.Routes[0].Recoveries["failed"] != 0 {
		t.Errorf("/status routes = %+v (%v), want one recovered session", st.Routes, err)
	}
	if !strings.Contains(p.Logs(), "upstream MCP session lost") {
		t.Errorf("no log line for the recovery")
	}
	cs.Close()
}

// TestSessionLossThroughStdio is the same through the stdio binary, with
// --metrics-listen serving the metric and the status page.
func TestSessionLossThroughStdio(t *testing.T) {
	emu := startEmulator(t, emulator.Config{})
	cmd, stderr := stdioCommand(t, emu, "--metrics-listen", "127.0.0.1:0")
	cs := connectStdio(t, cmd, "2025-11-25", nil)
	addr := metricsAddr(t, stderr)
	normal, recovered := lostSessionCalls(t, emu, cs)
	t.Logf("tools/call latency through stdio: normal %s, first after a lost session %s", normal, recovered)
	if m := getOK(t, "http://"+addr+"/metrics"); !strings.Contains(m, recoveredSeries) {
		t.Errorf("/metrics lacks %s", recoveredSeries)
	}
	if s := getOK(t, "http://"+addr+"/"); !strings.Contains(s, "recovery on · 1 recovered, 0 failed") {
		t.Errorf("status page lacks the recovery line:\n%s", s)
	}
	getOK(t, "http://"+addr+"/readyz")
	if err := cs.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if code := cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
}

// TestSessionRecoveryOff: with --session-recovery=false the client sees the
// lost session.
func TestSessionRecoveryOff(t *testing.T) {
	emu := startEmulator(t, emulator.Config{})
	cmd, _ := stdioCommand(t, emu, "--session-recovery=false")
	cs := connectStdio(t, cmd, "2025-11-25", nil)
	if _, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: "add_numbers", Arguments: map[string]any{"a": 1, "b": 2}}); err != nil {
		t.Fatal(err)
	}
	emu.EndSessions()
	_, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: "add_numbers", Arguments: map[string]any{"a": 1, "b": 2}})
	if err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("CallTool after the loss with recovery off: err = %v, want the explained 404", err)
	}
	cs.Close()
}

// TestStdioTypeScriptSDK launches the binary with the TypeScript SDK's
// StdioClientTransport: tools, progress, 20 concurrent calls; then, against
// a stateful server, an elicitation answered by the client.
func TestStdioTypeScriptSDK(t *testing.T) {
	needs(t, "Node and the npm MCP clients")
	// The driver hands the secret to the proxy through the environment.
	t.Setenv("AGENTCORE_PROXY_CLIENT_SECRET", testClientSecret)
	drive := func(emu *emulator.Emulator) npmClientReport {
		return runNPMClient(t, "ts-sdk-stdio-client.mjs", binary(t), "stdio",
			"--runtime-arn", emu.RuntimeARN(), "--endpoint-url", emu.EndpointURL(),
			"--discovery-url", emu.DiscoveryURL(), "--client-id", testClientID)
	}

	emu := startEmulator(t, emulator.Config{})
	r := drive(emu)
	checkSeedTools(t, "TS SDK over stdio", r)
	if r.Progress != 3 || r.Stream != "streamed 3 steps" {
		t.Errorf("TS SDK over stdio stream_progress(steps=3) = %q with %d progress notifications, want %q with 3", r.Stream, r.Progress, "streamed 3 steps")
	}
	if r.Concurrent != 20 {
		t.Errorf("TS SDK over stdio: %d of 20 concurrent calls answered right", r.Concurrent)
	}
	if got := emu.Stats().TokenRequests; got != 1 {
		t.Errorf("token requests = %d, want 1", got)
	}

	// A stateful server may send a progress notification on the session's
	// GET stream, after the answer: only the elicitation is checked here.
	r = drive(startEmulator(t, emulator.Config{Stateful: true}))
	if r.Elicit != "deploy: accept confirm=true" || r.Elicited != 1 {
		t.Errorf("TS SDK over stdio confirm_action = %q after %d elicitations, want %q after 1", r.Elicit, r.Elicited, "deploy: accept confirm=true")
	}
}

// elicitingClient answers every elicitation with confirm=true and counts
// them.
func elicitingClient(n *atomic.Int32) *mcp.ClientOptions {
	return &mcp.ClientOptions{
		ElicitationHandler: func(_ context.Context, req *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
			n.Add(1)
			return &mcp.ElicitResult{Action: "accept", Content: map[string]any{"confirm": true}}, nil
		},
	}
}

// TestElicitationBothFronts: a stateful MCP server behind AgentCore asks
// the client to confirm during a tool call (elicitation/create on the
// call's stream); the client's answer is POSTed back through the proxy,
// through serve and through stdio, and the call completes with it.
func TestElicitationBothFronts(t *testing.T) {
	fronts := []struct {
		name    string
		connect func(t *testing.T, emu *emulator.Emulator, opts *mcp.ClientOptions) *mcp.ClientSession
	}{
		{name: "serve", connect: func(t *testing.T, emu *emulator.Emulator, opts *mcp.ClientOptions) *mcp.ClientSession {
			p := startProxy(t, map[string]string{"AGENTCORE_PROXY_CLIENT_SECRET": testClientSecret}, proxyFlags(emu)...)
			return connectHTTP(t, p.MCPURL(), "2025-11-25", opts)
		}},
		{name: "stdio", connect: func(t *testing.T, emu *emulator.Emulator, opts *mcp.ClientOptions) *mcp.ClientSession {
			cmd, _ := stdioCommand(t, emu)
			return connectStdio(t, cmd, "2025-11-25", opts)
		}},
	}
	for _, f := range fronts {
		t.Run(f.name, func(t *testing.T) {
			emu := startEmulator(t, emulator.Config{Stateful: true})
			var asked atomic.Int32
			cs := f.connect(t, emu, elicitingClient(&asked))
			res, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: "confirm_action", Arguments: map[string]any{"action": "deploy"}})
			if err != nil || toolText(res) != "deploy: accept confirm=true" {
				t.Errorf("CallTool(confirm_action) = %v, %v, want the client's answer", res, err)
			}
			if n := asked.Load(); n != 1 {
				t.Errorf("the client was asked %d times, want 1", n)
			}
			cs.Close()
		})
	}
}

// TestStdioConfigRoute: --config FILE --route NAME serves that route of a
// YAML file with several, its secret from the variable the file names.
func TestStdioConfigRoute(t *testing.T) {
	emu := startEmulator(t, emulator.Config{})
	yaml := fmt.Sprintf(`routes:
  - name: other
    path: /other/mcp
    target:
      upstream_url: http://127.0.0.1:1/mcp
  - name: calculator
    path: /calculator/mcp
    target:
      runtime_arn: %s
      endpoint_url: %s
    auth:
      discovery_url: %s
      client_id: %s
      client_secret_env: CALCULATOR_SECRET
`, emu.RuntimeARN(), emu.EndpointURL(), emu.DiscoveryURL(), testClientID)
	file := t.TempDir() + "/routes.yaml"
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary(t), "stdio", "--config", file, "--route", "calculator")
	cmd.Env = append(os.Environ(), "CALCULATOR_SECRET="+testClientSecret)
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	cs := connectStdio(t, cmd, "2025-11-25", nil)
	res, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: "add_numbers", Arguments: map[string]any{"a": 20, "b": 22}})
	if err != nil || toolText(res) != "42" {
		t.Errorf("add_numbers(20, 22) through --route calculator = %v, %v\nstderr:\n%s", res, err, stderr)
	}
	if err := cs.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if !strings.Contains(stderr.String(), "route=calculator") {
		t.Errorf("stderr does not name the route:\n%s", stderr)
	}
	secretScan(t, stderr.String())
}
