// Package doctor walks one route's chain from configuration to tools/list
// and reports each step with its fix: configuration → runtime ARN →
// discovery → token → authorizer rules → the runtime's protected-resource
// metadata → MCP initialize and tools/list through the handler
// route.Build builds, the one serve and stdio run, called in process.
package doctor

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/agentcore-proxy/agentcore-proxy/agentcore"
	"github.com/agentcore-proxy/agentcore-proxy/discovery"
	"github.com/agentcore-proxy/agentcore-proxy/internal/config"
	"github.com/agentcore-proxy/agentcore-proxy/internal/inprocess"
	"github.com/agentcore-proxy/agentcore-proxy/internal/redact"
	"github.com/agentcore-proxy/agentcore-proxy/internal/route"
	"github.com/agentcore-proxy/agentcore-proxy/internal/runtimeconfig"
	"github.com/agentcore-proxy/agentcore-proxy/jwtcheck"
	"github.com/agentcore-proxy/agentcore-proxy/proxy"
	"github.com/agentcore-proxy/agentcore-proxy/tokencache"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Step is one line of the doctor's checklist.
type Step struct {
	Name    string `json:"name"`
	OK      bool   `json:"ok"`
	Skipped bool   `json:"skipped,omitempty"`
	// Warning marks a step that passed with a problem to fix, which does
	// not stop the route from working (a secret file others can read).
	Warning bool   `json:"warning,omitempty"`
	Detail  string `json:"detail"`
}

// RouteReport is the checklist of one route.
type RouteReport struct {
	Route string `json:"route"`
	OK    bool   `json:"ok"`
	Steps []Step `json:"steps"`
}

// Options shape a check.
type Options struct {
	// Version names the doctor in its MCP client info and User-Agent.
	Version string
	// Redactor receives the route's credentials and cleans what the
	// identity provider and the upstream say before a step quotes it; nil:
	// one of the check's own.
	Redactor *redact.Redactor
	// Route shapes the route's handler as serve's does (retries, body cap,
	// session recovery, stream bound: server.Options.RouteDeps with serve's
	// defaults). Its Auth and Upstream are the check's own; UserAgent
	// defaults to the doctor's.
	Route route.Deps
	// Transport bounds the upstream's dial, TLS and answer-header waits.
	Transport proxy.TransportOptions
	// AWSCredentials, if set, sign SigV4 routes instead of the default AWS
	// credential chain.
	AWSCredentials aws.CredentialsProvider
}

func (o Options) userAgent() string { return "agentcore-proxy/" + o.Version }

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

// warn records a problem that does not stop the chain.
func (c *checklist) warn(name, detail string) {
	c.steps = append(c.steps, Step{Name: name, OK: true, Warning: true, Detail: detail})
}

// skip records a step that does not apply to this route.
func (c *checklist) skip(name, why string) {
	c.steps = append(c.steps, Step{Name: name, Skipped: true, OK: !c.failed, Detail: why})
}

// Check walks route r's chain, one of routes routes, skipping the rest
// after a failure. The token is never shown: a fingerprint identifies it.
func Check(ctx context.Context, r config.Resolved, routes int, opts Options) RouteReport {
	var c checklist
	c.run("configuration", func() (string, error) {
		return fmt.Sprintf("valid (%d route(s); this one at %s)", routes, r.Path), nil
	})
	var exposed []string
	for _, f := range r.SecretFiles() {
		if e := f.Exposure(); e != "" {
			exposed = append(exposed, e)
		}
	}
	if len(exposed) > 0 {
		c.warn("file permissions", strings.Join(exposed, "\n"))
	}
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
	if opts.Redactor == nil {
		opts.Redactor = redact.New()
	}
	// The checks see the route serve would build: the same assembly, the
	// same token source (step-up inside), checker and handler. Only the
	// check of a fetched token moves out of the cache into the "authorizer
	// rules" step, so that a refused token can be shown and explained.
	auth := route.NewAuthSetup(route.AuthOptions{Redactor: opts.Redactor, Transport: opts.Transport,
		AWSCredentials: opts.AWSCredentials, CallerChecks: true})
	upstream := proxy.NewTransport(opts.Transport)
	deps := opts.Route
	deps.Auth, deps.Upstream, deps.Hooks = auth, upstream, nil
	deps.UserAgent = cmp.Or(deps.UserAgent, opts.userAgent())
	if deps.Redact == nil {
		deps.Redact = opts.Redactor.Redact
	}
	// The token cache lives as long as the check: the token step's token is
	// the one the MCP step sends, so the IdP is asked once.
	life, stop := context.WithCancel(ctx)
	defer func() {
		stop()
		auth.Wait()
		auth.CloseIdleConnections()
		upstream.CloseIdleConnections()
	}()
	var rt *route.Route
	build := func() (err error) {
		rt, err = route.Build(ctx, life, r, deps)
		return err
	}

	// The runtime's configuration is read before discovery, as serve reads
	// it; its rules are compared once there is a token.
	var runtime *runtimeconfig.Runtime
	compareLater := false
	if r.Auth != nil && r.Auth.AWS.Any() {
		c.run("client from AWS", func() (string, error) { return checkAWSSources(ctx, auth, r) })
	}
	if readsRuntime(r) {
		var rerr error
		runtime, rerr = auth.ReadRuntime(ctx, &r)
		compareLater = rerr == nil && runtime != nil && r.Auth != nil
		switch {
		case rerr == nil && runtime == nil:
			c.skip("runtime configuration", notRead(auth, r))
		case !compareLater:
			c.run("runtime configuration", func() (string, error) { return runtimeRead(r, runtime), rerr })
		}
	}
	if r.SigV4 != nil {
		c.run("AWS signing", func() (string, error) {
			if err := build(); err != nil {
				return "", err
			}
			return checkSigV4(ctx, auth, rt)
		})
	}
	if r.AWSJWT != nil {
		checkAWSJWT(ctx, life, &c, auth, r, opts)
	} else if r.Auth == nil {
		why := "no auth on this route"
		if r.SigV4 != nil {
			why = "requests are signed with AWS SigV4: no token"
		}
		for _, name := range []string{"discovery", "token", "authorizer rules"} {
			c.skip(name, why)
		}
	} else {
		var d *discovery.Discovery
		var token string
		c.run("discovery", func() (string, error) {
			var err error
			if d, err = auth.Discover(ctx, r); err != nil {
				return "", err
			}
			detail := fmt.Sprintf("issuer %s, jwks_uri %s, token_endpoint %s", d.Issuer, cmp.Or(d.JWKSURI, "(none: "+route.LocalCheckOpaque+")"), cmp.Or(d.TokenEndpoint, "(none)"))
			return detail + discoveryHops(auth.Found(r)), nil
		})
		c.run("token", func() (string, error) {
			if err := build(); err != nil {
				return "", err
			}
			var err error
			if token, err = rt.Tokens.Token(ctx); err != nil {
				return "", err // explained by the token source, in the route's words
			}
			return tokenDetail(token), nil
		})
		if compareLater {
			c.run("runtime configuration", func() (string, error) { return compareRuntime(runtime, token) })
		}
		c.run("authorizer rules", func() (string, error) { return checkRules(ctx, rt, r, token) })
		if r.ARN != nil {
			c.run("protected-resource metadata", func() (string, error) { return checkMetadata(ctx, auth.Client(), r, d, opts) })
		}
	}
	if r.ARN == nil {
		c.skip("protected-resource metadata", "not an AgentCore runtime")
	} else if r.SigV4 != nil {
		c.skip("protected-resource metadata", "a SigV4 runtime has no OAuth metadata")
	}
	c.run("MCP initialize and tools/list", func() (string, error) {
		if rt == nil {
			if err := build(); err != nil {
				return "", err
			}
		}
		return checkMCP(ctx, rt, opts)
	})
	return c.report(r, opts.Redactor)
}

// tokenDetail shows a token by its fingerprint and claims, never itself.
func tokenDetail(token string) string {
	detail := "fingerprint " + redact.Fingerprint(token)
	if _, claims, err := jwtcheck.Decode(token); err == nil {
		detail += ", " + claims.Summary()
	}
	return detail
}

// checkRules checks token against route r's authorizer rules with the
// route's own checker, once its key set has loaded.
func checkRules(ctx context.Context, rt *route.Route, r config.Resolved, token string) (string, error) {
	if token != "" && !tokencache.IsJWT(token) {
		return route.LocalCheckOpaque + " (the token is not a JWT)", nil
	}
	checker, err := rt.Auth.ReadyChecker(ctx, r.Names())
	if err == nil && checker == nil {
		return route.LocalCheckOpaque + " (no jwks_uri)", nil
	}
	if err == nil {
		if _, err = checker.Check(token); err != nil {
			err = route.ExplainRouteTokenFailure(err, r)
		}
	}
	return "passes " + r.Rules.String(), err
}

// discoveryHops lists where discovery looked, one hop a line.
func discoveryHops(f *route.Found) string {
	// A discovery URL fetched as given is one hop the line above says.
	if f == nil || f.Source == route.SourceTokenURL || (f.Source == route.SourceDiscoveryURL && len(f.Hops) <= 1) {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\nfrom %s (%s)", f.From, f.Source)
	if f.Resource != "" {
		fmt.Fprintf(&b, ", resource %s", f.Resource)
	}
	for _, h := range f.HopLines() {
		b.WriteString("\n  " + h)
	}
	return b.String()
}

func (c *checklist) report(r config.Resolved, red *redact.Redactor) RouteReport {
	for i := range c.steps {
		c.steps[i].Detail = red.Redact(c.steps[i].Detail)
	}
	return RouteReport{Route: r.Name, OK: !c.failed, Steps: c.steps}
}

// resourceMetadata returns the resource_metadata parameter of the Bearer
// challenge (RFC 9728 §5.1) among WWW-Authenticate values, e.g. from
// WWW-Authenticate: Bearer resource_metadata="https://...".
func resourceMetadata(values []string) (string, bool) {
	ch, ok := discovery.ParseBearerChallenge(values)
	if !ok || ch.ResourceMetadata == "" {
		return "", false
	}
	return ch.ResourceMetadata, true
}

// checkMetadata makes an unauthenticated call, follows the
// WWW-Authenticate challenge to the runtime's RFC 9728 metadata, and checks
// that it names the issuer of the route's discovery URL.
func checkMetadata(ctx context.Context, client *http.Client, r config.Resolved, d *discovery.Discovery, opts Options) (string, error) {
	discoveryURL := route.DiscoverySetting(r)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.Upstream.String(), strings.NewReader(`{"jsonrpc":"2.0","id":0,"method":"ping"}`))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("User-Agent", opts.userAgent())
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("calling the runtime without a token: %w (check %s and the network)", err, agentcore.Render("{endpoint_url}", r.Names()))
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	metaRaw, found := resourceMetadata(resp.Header.Values("WWW-Authenticate"))
	if resp.StatusCode != http.StatusUnauthorized || !found {
		uc := route.UpstreamContext(r)
		uc.Redact = opts.Redactor.Redact
		if dg, ok := proxy.Diagnose(resp.StatusCode, resp.Header, body, uc); ok {
			return "", fmt.Errorf("an unauthenticated call got %d without a Bearer challenge: %s", resp.StatusCode, dg.Message())
		}
		return "", fmt.Errorf("an unauthenticated call got %d without a Bearer challenge: the runtime may not use an OAuth authorizer", resp.StatusCode)
	}
	metaURL, err := proxy.CheckSecureURL(metaRaw)
	if err != nil {
		return "", fmt.Errorf("resource_metadata URL %q: %w", metaRaw, err)
	}
	mreq, _ := http.NewRequestWithContext(ctx, http.MethodGet, metaURL.String(), nil)
	mreq.Header.Set("User-Agent", opts.userAgent())
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
		return "", &trustMismatch{servers: meta.AuthorizationServers, msg: fmt.Sprintf("the runtime trusts %v but %s's issuer is %s: use the runtime's discoveryUrl (the user pool its authorizer names)",
			meta.AuthorizationServers, discoveryURL, d.Issuer)}
	}
	return fmt.Sprintf("the runtime trusts %s, the issuer of %s", d.Issuer, discoveryURL), nil
}

// trustMismatch says the runtime's protected-resource metadata names other
// authorization servers than the route's issuer.
type trustMismatch struct {
	servers []string
	msg     string
}

func (e *trustMismatch) Error() string { return e.msg }

// mcpEndpoint is the URL doctor's MCP client posts to. No request leaves
// the process on it: the transport hands each one to the route's handler.
const mcpEndpoint = "http://agentcore-proxy.doctor"

// checkMCP runs MCP initialize and tools/list with the Go SDK client
// through the route's handler, the one serve mounts, called in process: a
// listener, even on loopback, would lend the route's token to any local
// process for as long as the check runs.
func checkMCP(ctx context.Context, rt *route.Route, opts Options) (string, error) {
	r := rt.Resolved
	front := &inprocess.Transport{Handler: rt.Handler, RemoteAddr: "doctor"}
	defer front.Close()
	rec := &lastError{base: front}
	client := mcp.NewClient(&mcp.Implementation{Name: "agentcore-proxy-doctor", Version: opts.Version}, nil)
	cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: mcpEndpoint + r.Path, HTTPClient: &http.Client{Transport: rec}}, nil)
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
