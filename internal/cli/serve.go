package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/agentcore-proxy/agentcore-proxy/internal/config"
	"github.com/agentcore-proxy/agentcore-proxy/internal/redact"
	"github.com/agentcore-proxy/agentcore-proxy/internal/route"
	"github.com/agentcore-proxy/agentcore-proxy/internal/server"
	"github.com/agentcore-proxy/agentcore-proxy/proxy"
)

const serveUsage = `agentcore-proxy serve: proxy local MCP clients to an MCP server on AgentCore Runtime.

Usage:
  agentcore-proxy serve --runtime-arn ARN --discovery-url URL --client-id ID --client-secret-file FILE [--scope S]...
  agentcore-proxy serve --upstream-url https://mcp.example.com/mcp --client-id ID   (secret in AGENTCORE_PROXY_CLIENT_SECRET;
                        the authorization server is discovered from the upstream's 401)
  agentcore-proxy serve --upstream-url http://127.0.0.1:8000/mcp
  agentcore-proxy serve --config routes.yaml

Point any MCP client at http://LISTEN/mcp (or each YAML route's path). The
proxy builds the invocation URL from the ARN, attaches a cached M2M access
token (client_credentials grant), refreshes it ahead of expiry, and streams
replies as they come. The client secret comes from --client-secret-file or
AGENTCORE_PROXY_CLIENT_SECRET, never from a flag (command lines show in ps).
`

// commonFlags are shared by serve and demo.
type commonFlags struct {
	listen        string
	metricsListen string
	pprof         bool
	logFormat     string
	logLevel      string
	drainTimeout  time.Duration
	toolNames     bool
	maxToolNames  int
	guard         guardFlags

	readHeaderTimeout, idleTimeout           time.Duration
	bodyReadTimeout                          time.Duration
	maxHeaderBytes                           int
	maxBodyBytes                             int64
	maxStreamDuration                        time.Duration
	dialTimeout, tlsTimeout, responseTimeout time.Duration
	tokenFetchTimeout                        time.Duration
	maxRetries                               int
	retryToolCalls                           bool
	sessionRecovery                          bool

	// awsCredentials, if set, sign SigV4 routes (demo --auth sigv4).
	awsCredentials aws.CredentialsProvider
	// awsEndpoint, if set, is where secretless routes call STS (demo --auth
	// aws-jwt).
	awsEndpoint string
	// red is the process's Redactor, set by logger: the server registers
	// its credentials with it, and the logs are cleaned with it.
	red *redact.Redactor
}

func (c *commonFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.listen, "listen", "127.0.0.1:8080", "`host:port` to listen on (port 0 picks a free one)")
	fs.StringVar(&c.logFormat, "log-format", "auto", "log format: `text`, json, or auto (text on a terminal, JSON otherwise)")
	fs.StringVar(&c.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.DurationVar(&c.drainTimeout, "drain-timeout", 15*time.Second, "on shutdown, how long open requests and streams may finish")
	fs.StringVar(&c.metricsListen, "metrics-listen", "", "serve /metrics, /healthz and /readyz on this `host:port` (a pod's metrics and probe port);\nit stays up while --listen drains, so probes see /readyz turn 503 at once")
	fs.BoolVar(&c.pprof, "pprof", false, "serve Go's profiler at /debug/pprof/ on --metrics-listen (only there), to profile a live proxy")
	fs.BoolVar(&c.toolNames, "metrics-tool-names", false, "count tools/call by tool name in agentcore_proxy_tool_calls_total (opt-in: names are chosen by the server)")
	fs.IntVar(&c.maxToolNames, "metrics-max-tool-names", 100, "with --metrics-tool-names: distinct names per route before the rest count as other")

	fs.Var(&c.guard.allowedHosts, "allowed-host", "`host` name clients may use besides loopback names (Host header check against DNS rebinding), repeatable")
	fs.Var(&c.guard.allowedOrigins, "allowed-origin", "browser `origin` (scheme://host[:port]) allowed besides pages on this machine, repeatable")
	fs.StringVar(&c.guard.inboundTokenFile, "inbound-token-file", "", "`file` holding a token clients must send in X-Agentcore-Proxy-Token;\nrequired to listen off loopback")
	fs.BoolVar(&c.guard.insecureNoInboundAuth, "insecure-no-inbound-auth", false, "allow listening off loopback without an inbound credential (logs a warning)")

	fs.DurationVar(&c.readHeaderTimeout, "read-header-timeout", 10*time.Second, "how long a client may take to send request headers")
	fs.DurationVar(&c.bodyReadTimeout, "body-read-timeout", server.DefaultBodyReadTimeout, "how long a client may take to send a request body, from the end of its headers;\na later body gets 408 and the connection is closed (YAML: body_read_timeout)")
	fs.DurationVar(&c.idleTimeout, "idle-timeout", 2*time.Minute, "how long an idle keep-alive connection stays open")
	fs.IntVar(&c.maxHeaderBytes, "max-header-bytes", 1<<20, "largest request header block accepted, in `bytes`")
	fs.Int64Var(&c.maxBodyBytes, "max-body-bytes", 100<<20, "largest request body accepted, in `bytes` (AgentCore accepts at most 100 MB); larger gets 413")
	fs.DurationVar(&c.maxStreamDuration, "max-stream-duration", time.Hour, "longest a request or stream may last (AgentCore ends streams at 60 minutes)")
	fs.DurationVar(&c.dialTimeout, "upstream-dial-timeout", 10*time.Second, "how long connecting to the upstream may take")
	fs.DurationVar(&c.tlsTimeout, "upstream-tls-timeout", 10*time.Second, "how long the TLS handshake with the upstream may take")
	fs.DurationVar(&c.responseTimeout, "upstream-response-header-timeout", 0, "how long to wait for the upstream's answer headers once the request is sent;\n0: no limit (a synchronous AgentCore call may take 15 minutes); a timeout gets 504")
	fs.DurationVar(&c.tokenFetchTimeout, "token-fetch-timeout", 10*time.Second, "how long one token or key-set request may take")
	fs.IntVar(&c.maxRetries, "max-retries", 2, "how often a 409 (session busy) or 429 (throttled) answer is retried for initialize, ping and */list; 0: never")
	fs.BoolVar(&c.retryToolCalls, "retry-tool-calls", false, "retry tools/call on 409 and 429 too (only if your tools are safe to repeat)")
	fs.BoolVar(&c.sessionRecovery, "session-recovery", true, "when the upstream answers 404 to a session it lost (AgentCore ends idle microVMs),\ninitialize again, resend the request once and keep the client's session id; false: pass the 404 on")
}

// serveDefaults returns serve's and demo's flags at their defaults.
func serveDefaults() commonFlags {
	var c commonFlags
	c.register(flag.NewFlagSet("serve", flag.ContinueOnError))
	return c
}

// check reports every bad value of the limit flags.
func (c *commonFlags) check() error {
	var errs []error
	for _, d := range []struct {
		name string
		v    time.Duration
		zero bool // 0 allowed
	}{
		{"--read-header-timeout", c.readHeaderTimeout, false}, {"--idle-timeout", c.idleTimeout, false},
		{"--body-read-timeout", c.bodyReadTimeout, false},
		{"--max-stream-duration", c.maxStreamDuration, false}, {"--upstream-dial-timeout", c.dialTimeout, false},
		{"--upstream-tls-timeout", c.tlsTimeout, false}, {"--upstream-response-header-timeout", c.responseTimeout, true},
		{"--token-fetch-timeout", c.tokenFetchTimeout, false}, {"--drain-timeout", c.drainTimeout, true},
	} {
		if d.v < 0 || d.v == 0 && !d.zero {
			errs = append(errs, fmt.Errorf("%s %s: want a positive duration such as 30s", d.name, d.v))
		}
	}
	if c.maxHeaderBytes < 4096 {
		errs = append(errs, fmt.Errorf("--max-header-bytes %d: want at least 4096", c.maxHeaderBytes))
	}
	if c.maxBodyBytes < 1024 {
		errs = append(errs, fmt.Errorf("--max-body-bytes %d: want at least 1024", c.maxBodyBytes))
	}
	switch {
	case c.pprof && c.metricsListen == "":
		errs = append(errs, errors.New("--pprof needs --metrics-listen: the profiler is served only on the metrics port, never where MCP clients connect"))
	case c.pprof && !isLoopbackListen(c.metricsListen):
		errs = append(errs, fmt.Errorf("--pprof with --metrics-listen %q, which is not a loopback address: the profiler shows the internals of a process that holds the access token and the client secret (goroutine stacks, heap and CPU profiles, execution traces) to whoever reaches that port, and lets them load its CPU; "+
			"serve metrics on 127.0.0.1:PORT and reach the profiler with kubectl port-forward (or ssh -L), or drop --pprof", c.metricsListen))
	}
	if c.maxRetries < 0 || c.maxRetries > 10 {
		errs = append(errs, fmt.Errorf("--max-retries %d: want 0 to 10", c.maxRetries))
	}
	return errors.Join(errs...)
}

// serverOptions returns the options the flags ask for.
func (c *commonFlags) serverOptions(logger *slog.Logger) server.Options {
	o := server.Options{
		Version: version(),
		Logger:  logger,
		Transport: proxy.TransportOptions{
			DialTimeout: c.dialTimeout, TLSHandshakeTimeout: c.tlsTimeout, ResponseHeaderTimeout: c.responseTimeout,
		},
		TokenFetchTimeout: c.tokenFetchTimeout,
		MaxRetries:        c.maxRetries,
		RetryToolCalls:    c.retryToolCalls,
		MaxBodyBytes:      c.maxBodyBytes,
		MaxStreamDuration: c.maxStreamDuration,

		DisableSessionRecovery: !c.sessionRecovery,
		AWSCredentials:         c.awsCredentials,
		AWSEndpoint:            c.awsEndpoint,
		Redactor:               c.red,
	}
	if o.MaxRetries == 0 {
		o.MaxRetries = -1 // proxy.Options: negative means never
	}
	if c.toolNames {
		o.MaxToolNames = max(c.maxToolNames, 1)
	}
	return o
}

// listenOptions returns where and how to serve, with addr overriding --listen.
func (c *commonFlags) listenOptions(addr string, g *server.Guard) server.ListenOptions {
	return server.ListenOptions{Addr: addr, MetricsAddr: c.metricsListen, Drain: c.drainTimeout, Guard: g, Pprof: c.pprof,
		MetricsGuard:      c.guard.metricsGuard(),
		ReadHeaderTimeout: c.readHeaderTimeout, IdleTimeout: c.idleTimeout, MaxHeaderBytes: c.maxHeaderBytes,
		BodyReadTimeout: c.bodyReadTimeout}
}

// serve checks the limit flags, builds the inbound guard for listen, and
// runs a server for routes until ctx is done; banner prints the addresses.
func (c *commonFlags) serve(ctx context.Context, listen string, routes []config.Resolved, logger *slog.Logger, banner func(addr, metricsAddr string)) error {
	if err := c.check(); err != nil {
		return err
	}
	g, warnings, err := c.guard.newGuard(listen)
	if err != nil {
		return err
	}
	for _, w := range append(warnings, exposedSecretFiles(routes)...) {
		logger.Warn(w)
	}
	srv, err := server.New(ctx, routes, c.serverOptions(logger))
	if err != nil {
		return err
	}
	err = srv.Run(ctx, c.listenOptions(listen, g), banner)
	if le := (*server.ListenError)(nil); errors.As(err, &le) {
		flag := "--listen"
		if le.Metrics {
			flag = "--metrics-listen"
		}
		return fmt.Errorf("%s %q: %w", flag, le.Addr, le.Err)
	}
	return err
}

// exposedSecretFiles returns a warning for each secret or key file of
// routes that users besides its owner may access. Not an error: a
// Kubernetes secret volume is 0644 unless its defaultMode says otherwise.
func exposedSecretFiles(routes []config.Resolved) []string {
	var warnings []string
	for _, r := range routes {
		for _, f := range r.SecretFiles() {
			if e := f.Exposure(); e != "" {
				warnings = append(warnings, e)
			}
		}
	}
	return warnings
}

// logger builds the logger the flags ask for, or an error naming the flag.
// Every record is cleaned of the credentials registered with env's Redactor.
func (c *commonFlags) logger(env Env) (*slog.Logger, error) {
	h, err := c.handler(env)
	if err != nil {
		return nil, err
	}
	c.red = env.red
	return slog.New(redact.NewHandler(h, env.red)), nil
}

func (c *commonFlags) handler(env Env) (slog.Handler, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", c.logLevel)
	}
	opts := &slog.HandlerOptions{Level: level}
	format := c.logFormat
	if format == "auto" {
		format = "json"
		if f, ok := env.Stderr.(*os.File); ok {
			if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
				format = "text"
			}
		}
	}
	switch format {
	case "text":
		return slog.NewTextHandler(env.Stderr, opts), nil
	case "json":
		return slog.NewJSONHandler(env.Stderr, opts), nil
	default:
		return nil, fmt.Errorf("--log-format %q: want text, json or auto", c.logFormat)
	}
}

// routeFlags are the flags that describe routes: --config, or one route.
type routeFlags struct {
	configFile                                             string
	rf                                                     config.RouteFlags
	scopes, allowedClients, allowedAudience, allowedScopes listFlag
	tokenParams                                            listFlag
	resource                                               optionalFlag
	stepUp                                                 boolFlag
}

func (f *routeFlags) register(fs *flag.FlagSet) {
	rf := &f.rf
	fs.StringVar(&f.configFile, "config", "", "YAML `file` declaring several routes (instead of the route flags below)")
	fs.StringVar(&rf.RuntimeARN, "runtime-arn", "", "AgentCore runtime `ARN`, e.g. arn:aws:bedrock-agentcore:us-west-2:123456789012:runtime/my_mcp_server-xyz123")
	fs.StringVar(&rf.Qualifier, "qualifier", "", "runtime endpoint `name` (default DEFAULT)")
	fs.StringVar(&rf.EndpointURL, "endpoint-url", "", "AgentCore endpoint `URL` (default https://bedrock-agentcore.REGION.amazonaws.com from the ARN;\nAWS_ENDPOINT_URL_BEDROCK_AGENTCORE is honoured too)")
	fs.StringVar(&rf.UpstreamURL, "upstream-url", "", "plain MCP `URL` instead of an ARN, e.g. http://127.0.0.1:8000/mcp")
	fs.StringVar(&rf.DiscoveryURL, "discovery-url", "", "the authorization server: an OIDC discovery `URL`, an RFC 8414 metadata URL or an issuer, e.g.\nhttps://cognito-idp.REGION.amazonaws.com/POOL_ID/.well-known/openid-configuration;\nnone: discovered from the upstream's 401 (RFC 9728 protected resource metadata)")
	fs.StringVar(&rf.Issuer, "issuer", "", "`issuer` of the authorization server the client credentials belong to: discovery from the upstream\nsends them to no other (default: only a server on the upstream's host, or any named by AgentCore for --runtime-arn);\nwith --discovery-url, its issuer must be this")
	fs.StringVar(&rf.TokenURL, "token-url", "", "OAuth2 token endpoint `URL`, when discovery has none (it overrides discovery's token_endpoint)")
	fs.StringVar(&rf.ClientID, "client-id", "", "M2M app client `id`")
	fs.StringVar(&rf.ClientSecretFile, "client-secret-file", "", "`file` holding the app client's secret (or set AGENTCORE_PROXY_CLIENT_SECRET)")
	fs.Var(&f.scopes, "scope", "OAuth `scope` to request, e.g. default-m2m-resource-server/read (repeatable; none: all the client's scopes)")
	fs.StringVar(&rf.TokenAuthStyle, "token-auth-style", "", "client authentication: basic (client_secret_basic), post (client_secret_post) or private_key_jwt;\ndefault: private_key_jwt with --client-key-file, else basic unless the metadata lists only post")
	fs.StringVar(&rf.ClientKeyFile, "client-key-file", "", "PEM `file` of the private key that signs private_key_jwt client assertions (PKCS#8, SEC 1 or PKCS#1)")
	fs.StringVar(&rf.ClientKeyAlg, "client-key-alg", "", "JWS `algorithm` of the client assertions (default ES256 for P-256, RS256 for RSA)")
	fs.StringVar(&rf.ClientKeyID, "client-key-id", "", "`kid` put in the client assertions' header")
	fs.StringVar(&rf.ClientAssertionAud, "client-assertion-aud", "", "aud of the client assertions: `token_endpoint` or a URL (default: the issuer; Entra ID and Okta want token_endpoint)")
	fs.Var(&f.resource, "resource", "RFC 8707 resource `URI` sent with every token request (default: the resource of the discovered\nprotected resource metadata; \"\" sends none)")
	fs.StringVar(&rf.Audience, "audience", "", "`audience` parameter sent with every token request (Auth0, Okta custom authorization servers);\nwith --auth aws-jwt: the STS token's aud, one of the runtime authorizer's allowedAudience (default: the runtime's\nfirst allowedAudience, read with --runtime-config; else the first --allowed-audience)")
	fs.Var(&f.tokenParams, "token-param", "extra token request parameter `key=value` (repeatable)")
	f.stepUp.def = true
	fs.Var(&f.stepUp, "step-up", "on a 403 insufficient_scope, request a token with the scopes asked for and resend once\n(per route; at most 8 scope sets of at most 1024 bytes); false: pass the 403 on")
	registerAWSFlags(fs, rf)
	fs.StringVar(&rf.RuntimeConfig, "runtime-config", config.RuntimeConfigAuto, "read the runtime's configuration (GetAgentRuntime) at start, for --runtime-arn: `mode` auto (when AWS\ncredentials allow; else go on as configured), off, or required (fail the start when it cannot be read);\nit gives the discovery URL and the --allowed-* rules not given, and SigV4 for a runtime without a JWT authorizer\n(YAML: runtime_config)")
	fs.Var(&f.allowedClients, "allowed-client", "`client id` the runtime's authorizer allows (allowedClients), repeatable;\ndefault: --client-id when no --allowed-* rule is given")
	fs.Var(&f.allowedAudience, "allowed-audience", "`audience` the runtime's authorizer allows (allowedAudience), repeatable")
	fs.Var(&f.allowedScopes, "allowed-scope", "`scope` the runtime's authorizer allows (allowedScopes), repeatable")
}

// load returns the validated routes, with their secrets read.
func (f *routeFlags) load(fs *flag.FlagSet, listen string, env Env) (*config.Config, []config.Resolved, error) {
	f.rf.Scopes = f.scopes
	f.rf.AllowedClients, f.rf.AllowedAudience, f.rf.AllowedScopes = f.allowedClients, f.allowedAudience, f.allowedScopes
	f.rf.SecretInEnv = env.Getenv(config.EnvClientSecret) != ""
	f.rf.TokenParams = f.tokenParams
	if f.resource.set {
		f.rf.Resource = &f.resource.value
	}
	f.rf.StepUp = f.stepUp.value
	cfg, err := loadConfig(f.configFile, listen, fs, f.rf)
	if err != nil {
		return nil, nil, err
	}
	if cfg.RuntimeConfig == "" || flagGiven(fs, "runtime-config") {
		cfg.RuntimeConfig = f.rf.RuntimeConfig // the flag or its variable wins, as for listen:
	}
	routes, err := cfg.Validate(env.Getenv)
	if err != nil {
		return nil, nil, err
	}
	if err := config.ReadSecrets(routes, env.Getenv); err != nil {
		return nil, nil, err
	}
	return cfg, routes, nil
}

func runServe(ctx context.Context, args []string, env Env) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var common commonFlags
	common.register(fs)
	var rfl routeFlags
	rfl.register(fs)
	if err := parse(fs, args, env, serveUsage); err != nil {
		return err
	}
	cfg, routes, err := rfl.load(fs, common.listen, env)
	if err != nil {
		return err
	}
	if cfg.BodyReadTimeout > 0 && !flagGiven(fs, "body-read-timeout") {
		common.bodyReadTimeout = cfg.BodyReadTimeout // the flag or its variable wins, as for listen:
	}
	tuneGC(env.Getenv)
	logger, err := common.logger(env)
	if err != nil {
		return err
	}
	return common.serve(ctx, cfg.Listen, routes, logger, func(addr, metricsAddr string) {
		base := "http://" + addr
		if network, path := server.ListenNetwork(addr); network == "unix" {
			base = "unix:" + path + " (http)"
		}
		fmt.Fprintf(env.Stdout, "agentcore-proxy %s listening on %s\n", version(), base)
		for _, r := range routes {
			fmt.Fprintf(env.Stdout, "  %s%s -> %s (route %s)\n", base, r.Path, route.Describe(r), r.Name)
		}
		if metricsAddr != "" {
			fmt.Fprintf(env.Stdout, "  metrics and probes on http://%s (/metrics, /healthz, /readyz)\n", metricsAddr)
		}
	})
}

// loadConfig returns the configuration from --config or from the route
// flags, refusing a mix of both.
func loadConfig(file, listen string, fs *flag.FlagSet, rf config.RouteFlags) (*config.Config, error) {
	if file == "" {
		return config.FromFlags(listen, rf), nil
	}
	if !rf.Empty() {
		return nil, errors.New("--config and route flags (--runtime-arn, --upstream-url, --client-id, ...) are both given: put every route in the YAML file, or drop --config")
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("--config %q: %w", file, unwrap(err))
	}
	cfg, err := config.Parse(file, data)
	if err != nil {
		return nil, err
	}
	if cfg.Listen == "" || flagGiven(fs, "listen") {
		cfg.Listen = listen
	}
	return cfg, nil
}

func flagGiven(fs *flag.FlagSet, name string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}

func unwrap(err error) error {
	if u := errors.Unwrap(err); u != nil {
		return u
	}
	return err
}
