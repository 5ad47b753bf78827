// Package emulator runs an in-process stand-in for Amazon Cognito (machine-to-machine token issuing) and
// Amazon Bedrock AgentCore Runtime (an invocation endpoint guarded by a customJWTAuthorizer) in front of a
// real MCP server built on the official Go SDK.
//
// Both hosts listen on 127.0.0.1 with kernel-chosen ports and speak plain HTTP. The behaviour they copy,
// statuses, bodies and headers included, is described in the project's AgentCore facts; where no source
// settles what AWS does, the choice is marked in a comment. The emulator backs the `agentcore-proxy demo`
// command and the end-to-end tests of the reverse proxy.
package emulator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/agentcore-proxy/agentcore-proxy/internal/drain"
)

// Config describes the emulated Cognito user pool and AgentCore runtime. The zero value is usable:
// every empty field takes the default named in its comment.
type Config struct {
	Region        string        // default "us-west-2"
	PoolID        string        // default Region+"_EMUL8TOR1"
	AccountID     string        // default "123456789012"
	RuntimeID     string        // default "demo_mcp_server-EMUL8R0001"
	Qualifiers    []string      // endpoint names accepted; default ["DEFAULT"]
	Clients       []Client      // M2M app clients; default one: demo-client-id / demo-client-secret
	TokenLifetime time.Duration // access-token lifetime; default 1h
	Authorizer    Authorizer    // if all lists are empty: AllowedClients = the IDs of Clients
	Logger        *slog.Logger  // nil: discard
	// AuthServerMetadata serves RFC 8414 metadata at /.well-known/oauth-authorization-server/POOL,
	// as generic OAuth servers do; Cognito itself answers 400 there (the default).
	AuthServerMetadata bool
	// TrustedIssuer, if set, points the runtime's authorizer (and its protected resource metadata)
	// at another provider instead of the emulated pool, as a runtime's discoveryUrl can.
	TrustedIssuer *TrustedIssuer
	// AWSCredentials are the access keys a SigV4 runtime (SetSigV4) accepts; default DefaultAWSCredential.
	AWSCredentials []AWSCredential
	// Stateful runs the MCP server in stateful streamable HTTP (the mode AgentCore supports since
	// March 2026 for elicitation, sampling and server notifications): the server mints the
	// Mcp-Session-Id on initialize and AgentCore passes it on, and the server also offers
	// confirm_action, a tool that asks the client to confirm by elicitation.
	Stateful bool
}

// Client is a Cognito app client allowed the client_credentials grant.
type Client struct {
	// ID is the app client id, which Cognito copies into the token's sub and client_id claims.
	ID string
	// Secret is the app client secret.
	Secret string
	// Scopes are the custom scopes ("{resourceServer}/{scope}") the client may request. A client with
	// no scopes behaves like an app client without the client_credentials flow: unauthorized_client.
	Scopes []string
}

// Authorizer mirrors AgentCore's customJWTAuthorizer. An empty list means the rule is not set; all set
// rules must hold. The issuer, signature and expiry are always checked.
type Authorizer struct {
	// AllowedClients lists the accepted values of the token's client_id claim.
	AllowedClients []string
	// AllowedAudience lists accepted audiences; one value of the aud claim must be among them.
	AllowedAudience []string
	// AllowedScopes lists accepted scopes; at least one scope in the scope claim must be among them.
	AllowedScopes []string
}

// Stats counts what the emulator has seen since Start.
type Stats struct {
	TokenRequests int            // every POST to the token endpoint
	TokensIssued  int            // successful ones
	Invocations   int            // requests that passed the authorizer and reached the MCP server
	Initializes   int            // those of them that were JSON-RPC initialize requests
	Rejections    map[string]int // by reason code
}

// Invocation records one request that reached the AgentCore host.
type Invocation struct {
	Method      string      // HTTP method
	RawPath     string      // r.URL.EscapedPath() as received, e.g. "/runtimes/arn%3Aaws%3A...%2F.../invocations"
	RawQuery    string      // e.g. "qualifier=DEFAULT"
	Header      http.Header // clone, with Authorization replaced by "Bearer <fingerprint>", never the token
	ReceivedAt  time.Time   // when the request arrived
	TokenExpiry time.Time   // exp of the presented token (zero if none or unparseable)
	Rejection   string      // reason code, "" if authorized
	KeyID       string      // kid in the presented token's header ("" if none)
}

// Reason codes used as Stats.Rejections keys and in Invocation.Rejection.
const (
	ReasonMissingToken      = "missing_token"
	ReasonUnparseableToken  = "unparseable_token"
	ReasonBadSignature      = "bad_signature"
	ReasonExpiredToken      = "expired_token"
	ReasonIssMismatch       = "iss_mismatch"
	ReasonClientIDMismatch  = "client_id_mismatch"
	ReasonAudMismatch       = "aud_mismatch"
	ReasonScopeMismatch     = "scope_mismatch"
	ReasonUnknownRuntime    = "unknown_runtime"
	ReasonUnknownQualifier  = "unknown_qualifier"
	ReasonMissingAuthPath   = "missing_auth_path"
	ReasonSessionIDTooShort = "session_id_too_short"
)

const (
	defaultQualifier        = "DEFAULT"
	shutdownGrace           = 5 * time.Second
	serverReadHeaderTimeout = 10 * time.Second
)

// Emulator is a running pair of emulated hosts. Its methods are safe for concurrent use.
type Emulator struct {
	cfg  Config
	log  *slog.Logger
	keys *keySet
	mcp  http.Handler
	// stateful: the MCP server mints session ids (Config.Stateful).
	stateful bool
	// closeMCP ends the MCP sessions a stateful server keeps.
	closeMCP func()
	cogURL   string // http://127.0.0.1:PORT of the Cognito host
	acURL    string // http://127.0.0.1:PORT of the AgentCore host

	cogSrv, acSrv *http.Server
	cancelReqs    context.CancelFunc // cancels every request context when shutdown starts
	done          chan struct{}      // closed when shutdown starts
	closeOnce     sync.Once
	closeErr      error
	wg            sync.WaitGroup

	mu          sync.Mutex // guards the fields below
	authz       Authorizer
	lifetime    time.Duration
	stats       Stats
	invocations []Invocation
	faults      faults

	awsCreds *credentialStore // the access keys of SigV4 mode
}

// Start listens on two loopback ports, one per emulated host, and serves until Close is called or ctx
// is done.
func Start(ctx context.Context, cfg Config) (*Emulator, error) {
	cfg = withDefaults(cfg)
	keys, err := newKeySet()
	if err != nil {
		return nil, fmt.Errorf("emulator: generate signing keys: %w", err)
	}
	e := &Emulator{
		cfg:      cfg,
		log:      cfg.Logger,
		keys:     keys,
		stateful: cfg.Stateful,
		done:     make(chan struct{}),
		authz:    cloneAuthorizer(cfg.Authorizer),
		lifetime: cfg.TokenLifetime,
		stats:    Stats{Rejections: map[string]int{}},
		awsCreds: newCredentialStore(cfg.AWSCredentials),
	}
	e.mcp, e.closeMCP = newMCPHandler(cfg.Logger, cfg.Stateful)
	var lc net.ListenConfig
	cogLn, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("emulator: listen for the Cognito host: %w", err)
	}
	acLn, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, errors.Join(fmt.Errorf("emulator: listen for the AgentCore host: %w", err), cogLn.Close())
	}
	e.cogURL = "http://" + cogLn.Addr().String()
	e.acURL = "http://" + acLn.Addr().String()

	// Request contexts derive from reqCtx so that shutdown can end open SSE streams, which
	// http.Server.Shutdown would otherwise wait for.
	reqCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	e.cancelReqs = cancel
	base := func(net.Listener) context.Context { return reqCtx }
	errLog := slog.NewLogLogger(e.log.Handler(), slog.LevelWarn)
	e.cogSrv = &http.Server{Handler: e.cognitoHandler(), BaseContext: base, ReadHeaderTimeout: serverReadHeaderTimeout, ErrorLog: errLog}
	e.acSrv = &http.Server{Handler: e.agentCoreHandler(), BaseContext: base, ReadHeaderTimeout: serverReadHeaderTimeout, ErrorLog: errLog}
	// A spare connection that never sent a request would hold Close up for
	// as long as shutdownGrace.
	drain.CloseUnusedOnShutdown(e.cogSrv)
	drain.CloseUnusedOnShutdown(e.acSrv)

	e.wg.Add(3)
	go e.serve(e.cogSrv, cogLn, "cognito")
	go e.serve(e.acSrv, acLn, "agentcore")
	go func() {
		defer e.wg.Done()
		select {
		case <-ctx.Done():
			e.closeOnce.Do(e.shutdown)
		case <-e.done:
		}
	}()
	e.log.Info("emulator started", "cognito", e.cogURL, "agentcore", e.acURL, "runtime_arn", e.RuntimeARN())
	return e, nil
}

func (e *Emulator) serve(srv *http.Server, ln net.Listener, name string) {
	defer e.wg.Done()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		e.log.Error("emulator host stopped", "host", name, "err", err)
	}
}

// Close shuts both hosts down, ending open streams, and waits for their goroutines. It is safe to call
// more than once; later calls return the first call's result.
func (e *Emulator) Close() error {
	e.closeOnce.Do(e.shutdown)
	e.wg.Wait()
	return e.closeErr
}

func (e *Emulator) shutdown() {
	close(e.done)
	e.cancelReqs()
	ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	var errs []error
	for name, srv := range map[string]*http.Server{"Cognito": e.cogSrv, "AgentCore": e.acSrv} {
		if err := srv.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("emulator: shut down the %s host: %w", name, err), srv.Close())
		}
	}
	e.closeMCP()
	e.closeErr = errors.Join(errs...)
}

// DiscoveryURL returns the OpenID Connect discovery URL of the emulated user pool.
func (e *Emulator) DiscoveryURL() string { return e.Issuer() + "/.well-known/openid-configuration" }

// Issuer returns the iss claim of the tokens the emulated user pool issues.
func (e *Emulator) Issuer() string { return e.cogURL + "/" + e.cfg.PoolID }

// TokenURL returns the OAuth 2.0 token endpoint of the emulated user pool.
func (e *Emulator) TokenURL() string { return e.cogURL + "/oauth2/token" }

// EndpointURL returns the base URL of the emulated AgentCore host, without a trailing slash.
func (e *Emulator) EndpointURL() string { return e.acURL }

// RuntimeARN returns the ARN of the emulated agent runtime.
func (e *Emulator) RuntimeARN() string {
	return "arn:aws:bedrock-agentcore:" + e.cfg.Region + ":" + e.cfg.AccountID + ":runtime/" + e.cfg.RuntimeID
}

// InvocationURL returns the invocation URL for the runtime and the given qualifier ("" for none), with
// the ARN escaped as one path segment the way AWS SDKs send it.
func (e *Emulator) InvocationURL(qualifier string) string {
	u := e.acURL + "/runtimes/" + EscapeSegment(e.RuntimeARN()) + "/invocations"
	if qualifier != "" {
		u += "?qualifier=" + EscapeSegment(qualifier)
	}
	return u
}

// SetAuthorizer replaces the authorizer rules. Unlike Config.Authorizer, all-empty lists are taken as
// they are: only the issuer, signature and expiry are then checked.
func (e *Emulator) SetAuthorizer(a Authorizer) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.authz = cloneAuthorizer(a)
}

// SetTokenLifetime changes the lifetime of tokens issued from now on. It is rounded down to whole
// seconds, with a minimum of one second.
func (e *Emulator) SetTokenLifetime(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.lifetime = d
}

// Stats returns a snapshot of the counters.
func (e *Emulator) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.stats
	s.Rejections = maps.Clone(e.stats.Rejections)
	return s
}

// Invocations returns a copy of every request that reached the AgentCore host, in arrival order.
func (e *Emulator) Invocations() []Invocation {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]Invocation, len(e.invocations))
	for i, inv := range e.invocations {
		inv.Header = inv.Header.Clone()
		out[i] = inv
	}
	return out
}

func (e *Emulator) authorizer() Authorizer {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.authz
}

func (e *Emulator) tokenLifetime() time.Duration {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.lifetime
}

func withDefaults(cfg Config) Config {
	if cfg.Region == "" {
		cfg.Region = "us-west-2"
	}
	if cfg.PoolID == "" {
		cfg.PoolID = cfg.Region + "_EMUL8TOR1"
	}
	if cfg.AccountID == "" {
		cfg.AccountID = "123456789012"
	}
	if cfg.RuntimeID == "" {
		cfg.RuntimeID = "demo_mcp_server-EMUL8R0001"
	}
	cfg.Qualifiers = slices.Clone(cfg.Qualifiers)
	if len(cfg.Qualifiers) == 0 {
		cfg.Qualifiers = []string{defaultQualifier}
	}
	if len(cfg.Clients) == 0 {
		cfg.Clients = []Client{{ID: "demo-client-id", Secret: "demo-client-secret", Scopes: []string{"default-m2m-resource-server/read"}}}
	}
	if cfg.TokenLifetime <= 0 {
		cfg.TokenLifetime = time.Hour
	}
	a := cfg.Authorizer
	if len(a.AllowedClients) == 0 && len(a.AllowedAudience) == 0 && len(a.AllowedScopes) == 0 {
		for _, c := range cfg.Clients {
			cfg.Authorizer.AllowedClients = append(cfg.Authorizer.AllowedClients, c.ID)
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return cfg
}

func cloneAuthorizer(a Authorizer) Authorizer {
	return Authorizer{
		AllowedClients:  slices.Clone(a.AllowedClients),
		AllowedAudience: slices.Clone(a.AllowedAudience),
		AllowedScopes:   slices.Clone(a.AllowedScopes),
	}
}

// EscapeSegment escapes s as one URL path segment with nothing left safe but letters, digits and
// "-_.~", like Python's quote(s, safe=""): ":" becomes %3A and "/" becomes %2F.
func EscapeSegment(s string) string {
	const hexDigits = "0123456789ABCDEF"
	b := make([]byte, 0, len(s)*3)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b = append(b, c)
			continue
		}
		b = append(b, '%', hexDigits[c>>4], hexDigits[c&15])
	}
	return string(b)
}
