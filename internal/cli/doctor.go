package cli

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agentcore-proxy/agentcore-proxy/internal/config"
	"github.com/agentcore-proxy/agentcore-proxy/jwtcheck"
	"github.com/agentcore-proxy/agentcore-proxy/proxy"
	"github.com/agentcore-proxy/agentcore-proxy/tokencache"
)

const doctorUsage = `agentcore-proxy doctor: check every link from the configuration to tools/list.

Usage:
  agentcore-proxy doctor [route flags | --config FILE [--route NAME]] [--json]

Takes the same route flags as serve (or --config) and walks the chain for
each route, printing ✓ or ✗ with the fix: configuration → runtime ARN →
discovery → token → authorizer rules → the runtime's protected-resource
metadata → MCP initialize and tools/list through the proxy. The token is
never printed: a fingerprint identifies it. Exits 0 only when every step
passes.
`

// Step is one line of the doctor's checklist.
type Step struct {
	Name    string `json:"name"`
	OK      bool   `json:"ok"`
	Skipped bool   `json:"skipped,omitempty"`
	Detail  string `json:"detail"`
}

// RouteReport is the checklist of one route.
type RouteReport struct {
	Route string `json:"route"`
	OK    bool   `json:"ok"`
	Steps []Step `json:"steps"`
}

// errDoctor makes doctor exit 1 after printing its report.
var errDoctor = errors.New("doctor found problems (see above)")

func runDoctor(ctx context.Context, args []string, env Env) error {
	fs := flag.NewFlagSet("doctor", flag.ContinueOnError)
	var rfl routeFlags
	rfl.register(fs)
	routeName := fs.String("route", "", "with --config: check only this route (default: every route)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	timeout := fs.Duration("timeout", 2*time.Minute, "give up after this long")
	if err := parse(fs, args, env, doctorUsage); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	var reports []RouteReport
	_, routes, err := rfl.load(fs, "127.0.0.1:0", env)
	if err == nil && *routeName != "" {
		var r config.Resolved
		r, err = pickRoute(routes, *routeName)
		routes = []config.Resolved{r}
	}
	if err != nil {
		reports = append(reports, RouteReport{Route: cmp.Or(*routeName, "(configuration)"), Steps: []Step{{Name: "configuration", Detail: err.Error()}}})
	} else {
		for _, r := range routes {
			reports = append(reports, checkRoute(ctx, r, len(routes)))
		}
	}
	ok := true
	for _, rep := range reports {
		ok = ok && rep.OK
	}
	if *asJSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		enc.Encode(map[string]any{"ok": ok, "routes": reports})
	} else {
		printReports(env.Stdout, reports)
	}
	if !ok {
		return errDoctor
	}
	return nil
}

// printReports writes the checklists for a terminal.
func printReports(w io.Writer, reports []RouteReport) {
	for i, rep := range reports {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "route %s\n", rep.Route)
		for _, s := range rep.Steps {
			mark := "✓"
			switch {
			case s.Skipped:
				mark = "·"
			case !s.OK:
				mark = "✗"
			}
			lines := strings.Split(s.Detail, "\n")
			fmt.Fprintf(w, "  %s %s: %s\n", mark, s.Name, lines[0])
			for _, l := range lines[1:] {
				fmt.Fprintf(w, "      %s\n", l)
			}
		}
	}
}

// checklist walks one route's chain, skipping the rest after a failure.
type checklist struct {
	steps  []Step
	failed bool
}

// run runs one step unless an earlier one failed.
func (c *checklist) run(name string, step func() (string, error)) {
	if c.failed {
		c.steps = append(c.steps, Step{Name: name, Skipped: true, Detail: "skipped (an earlier step failed)"})
		return
	}
	detail, err := step()
	if err != nil {
		c.failed = true
		c.steps = append(c.steps, Step{Name: name, Detail: err.Error()})
		return
	}
	c.steps = append(c.steps, Step{Name: name, OK: true, Detail: detail})
}

// skip records a step that does not apply to this route.
func (c *checklist) skip(name, why string) {
	c.steps = append(c.steps, Step{Name: name, Skipped: true, OK: !c.failed, Detail: why})
}

func checkRoute(ctx context.Context, r config.Resolved, routes int) RouteReport {
	var c checklist
	c.run("configuration", func() (string, error) {
		return fmt.Sprintf("valid (%d route(s); this one at %s)", routes, r.Path), nil
	})
	if r.ARN != nil {
		c.run("runtime ARN", func() (string, error) {
			endpoint := fmt.Sprintf("endpoint %s is in the ARN's region", r.Upstream.Host)
			if !strings.HasPrefix(r.Upstream.Hostname(), "bedrock-agentcore") {
				endpoint = fmt.Sprintf("custom endpoint %s (region not checked)", r.Upstream.Host)
			}
			return fmt.Sprintf("partition %s, region %s, account %s, runtime %s, qualifier %s; %s",
				r.ARN.Partition, r.ARN.Region, r.ARN.Account, r.ARN.RuntimeID, r.Qualifier, endpoint), nil
		})
	} else {
		c.run("target", func() (string, error) { return "plain MCP URL " + r.Upstream.Redacted(), nil })
	}
	client := &http.Client{Timeout: discoveryTimeout, Transport: proxy.NewTransport(proxy.TransportOptions{})}
	defer client.CloseIdleConnections()
	// The token cache lives as long as the check: the token step's token is
	// the one the MCP step sends, so the IdP is asked once.
	life, stop := context.WithCancel(ctx)
	var tokens *tokencache.Cache
	defer func() {
		stop()
		if tokens != nil {
			<-tokens.Done()
		}
	}()

	if r.Auth == nil {
		for _, name := range []string{"discovery", "token", "authorizer rules"} {
			c.skip(name, "no auth on this route")
		}
	} else {
		var d *tokencache.Discovery
		var token string
		c.run("discovery", func() (string, error) {
			var err error
			d, err = discover(ctx, client, r.Auth, map[string]*tokencache.Discovery{})
			if err != nil {
				return "", err
			}
			return fmt.Sprintf("issuer %s, jwks_uri %s, token_endpoint %s", d.Issuer, d.JWKSURI, cmp.Or(d.TokenEndpoint, "(none)")), nil
		})
		c.run("token", func() (string, error) {
			cfg, err := cacheConfig(r, d, slog.New(slog.DiscardHandler))
			if err != nil {
				return "", err
			}
			if tokens, err = tokencache.New(life, cfg); err != nil {
				return "", err
			}
			if token, err = tokens.Token(ctx); err != nil {
				return "", err
			}
			detail := "fingerprint " + jwtcheck.Fingerprint(token)
			if _, claims, err := jwtcheck.Decode(token); err == nil {
				detail += ", " + claims.Summary()
			}
			return detail, nil
		})
		c.run("authorizer rules", func() (string, error) {
			checker, err := newChecker(life, r, d)
			if err == nil {
				_, err = checker.Check(token)
			}
			return "passes " + describeRules(r.Rules), err
		})
		if r.ARN != nil {
			c.run("protected-resource metadata", func() (string, error) { return checkMetadata(ctx, client, r, d) })
		}
	}
	if r.ARN == nil {
		c.skip("protected-resource metadata", "not an AgentCore runtime")
	}
	c.run("MCP initialize and tools/list", func() (string, error) { return checkMCP(ctx, r, tokens) })
	return c.report(r)
}

func (c *checklist) report(r config.Resolved) RouteReport {
	return RouteReport{Route: r.Name, OK: !c.failed, Steps: c.steps}
}

// resourceMetadata returns the resource_metadata parameter of a Bearer
// challenge (RFC 9728 §5.1), e.g. from
// WWW-Authenticate: Bearer resource_metadata="https://...". The scheme is
// case-insensitive; the value must be a quoted string.
func resourceMetadata(challenge string) (string, bool) {
	scheme, params, _ := strings.Cut(strings.TrimSpace(challenge), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	for params != "" {
		var name string
		name, params, _ = strings.Cut(strings.TrimLeft(params, " ,\t"), "=")
		quoted, ok := strings.CutPrefix(params, `"`)
		if !ok {
			// A token value: skip to the next comma.
			_, params, _ = strings.Cut(params, ",")
			continue
		}
		value, rest, ok := strings.Cut(quoted, `"`)
		if !ok {
			return "", false
		}
		if strings.EqualFold(strings.TrimSpace(name), "resource_metadata") && value != "" {
			return value, true
		}
		params = rest
	}
	return "", false
}

// checkMetadata makes an unauthenticated call, follows the
// WWW-Authenticate challenge to the runtime's RFC 9728 metadata, and checks
// that it names the issuer of --discovery-url.
func checkMetadata(ctx context.Context, client *http.Client, r config.Resolved, d *tokencache.Discovery) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.Upstream.String(), strings.NewReader(`{"jsonrpc":"2.0","id":0,"method":"ping"}`))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("User-Agent", UserAgent())
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("calling the runtime without a token: %w (check --endpoint-url and the network)", err)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	metaRaw, found := resourceMetadata(resp.Header.Get("WWW-Authenticate"))
	if resp.StatusCode != http.StatusUnauthorized || !found {
		if dg, ok := proxy.Diagnose(resp.StatusCode, resp.Header, body, upstreamContext(r)); ok {
			return "", fmt.Errorf("an unauthenticated call got %d without a Bearer challenge: %s", resp.StatusCode, dg.Message())
		}
		return "", fmt.Errorf("an unauthenticated call got %d without a Bearer challenge: the runtime may not use an OAuth authorizer", resp.StatusCode)
	}
	metaURL, err := proxy.CheckSecureURL(metaRaw)
	if err != nil {
		return "", fmt.Errorf("resource_metadata URL %q: %w", metaRaw, err)
	}
	mreq, _ := http.NewRequestWithContext(ctx, http.MethodGet, metaURL.String(), nil)
	mreq.Header.Set("User-Agent", UserAgent())
	mresp, err := client.Do(mreq)
	if err != nil {
		return "", fmt.Errorf("fetching %s: %w", metaURL.Redacted(), err)
	}
	defer mresp.Body.Close()
	var meta struct {
		Resource             string   `json:"resource"`
		AuthorizationServers []string `json:"authorization_servers"`
	}
	if mresp.StatusCode != http.StatusOK || json.NewDecoder(io.LimitReader(mresp.Body, 1<<20)).Decode(&meta) != nil {
		return "", fmt.Errorf("%s answered %d, not protected-resource metadata JSON", metaURL.Redacted(), mresp.StatusCode)
	}
	trim := func(s string) string { return strings.TrimSuffix(s, "/") }
	if !slices.ContainsFunc(meta.AuthorizationServers, func(s string) bool { return trim(s) == trim(d.Issuer) }) {
		return "", fmt.Errorf("the runtime trusts %v but --discovery-url's issuer is %s: use the runtime's discoveryUrl (the user pool its authorizer names)",
			meta.AuthorizationServers, d.Issuer)
	}
	return fmt.Sprintf("the runtime trusts %s, the issuer of --discovery-url", d.Issuer), nil
}

// checkMCP serves the route's real proxy handler on a loopback port and
// runs MCP initialize and tools/list through it with the Go SDK client.
func checkMCP(ctx context.Context, r config.Resolved, tokens *tokencache.Cache) (string, error) {
	opts := proxy.Options{Route: r.Name, Target: r.Upstream, UserAgent: UserAgent(), Upstream: upstreamContext(r)}
	if tokens != nil {
		opts.Tokens = tokens
	}
	p, err := proxy.New(opts)
	if err != nil {
		return "", err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()

	rec := &lastError{base: http.DefaultTransport}
	client := mcp.NewClient(&mcp.Implementation{Name: "agentcore-proxy-doctor", Version: version()}, nil)
	cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: "http://" + ln.Addr().String() + r.Path, HTTPClient: &http.Client{Transport: rec}}, nil)
	if err != nil {
		return "", rec.explain("initialize", err)
	}
	defer cs.Close()
	res, err := cs.ListTools(ctx, nil)
	if err != nil {
		return "", rec.explain("tools/list", err)
	}
	var names []string
	for _, t := range res.Tools {
		names = append(names, t.Name)
	}
	slices.Sort(names)
	info := cs.InitializeResult()
	server := "server"
	if info != nil && info.ServerInfo != nil {
		server = fmt.Sprintf("server %s %s, protocol %s", info.ServerInfo.Name, info.ServerInfo.Version, info.ProtocolVersion)
	}
	return fmt.Sprintf("%s; %d tool(s): %s", server, len(names), strings.Join(names, ", ")), nil
}

// lastError remembers the JSON-RPC error message of the last error answer,
// which carries the proxy's explanation.
type lastError struct {
	base http.RoundTripper
	msg  string
}

func (l *lastError) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := l.base.RoundTrip(req)
	if err != nil || resp.StatusCode < 400 || req.Method != http.MethodPost {
		return resp, err
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	var e struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error.Message != "" {
		l.msg = e.Error.Message
	}
	return resp, nil
}

func (l *lastError) explain(what string, err error) error {
	if l.msg != "" {
		return fmt.Errorf("%s failed: %s", what, l.msg)
	}
	return fmt.Errorf("%s failed: %w", what, err)
}
