package route

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/agentcore-proxy/agentcore-proxy/agentcore"
	"github.com/agentcore-proxy/agentcore-proxy/discovery"
	"github.com/agentcore-proxy/agentcore-proxy/internal/config"
	"github.com/agentcore-proxy/agentcore-proxy/internal/statuspage"
	"github.com/agentcore-proxy/agentcore-proxy/tokencache"
)

// Where a route's authorization server came from.
const (
	// SourceUpstream: zero-config discovery from the upstream's 401 and its
	// protected resource metadata (RFC 9728).
	SourceUpstream = "upstream"
	// SourceDiscoveryURL: the discovery URL the user gave (an OpenID
	// Connect or RFC 8414 metadata URL, or an issuer).
	SourceDiscoveryURL = "discovery_url"
	// SourceTokenURL: only a token URL; nothing was discovered.
	SourceTokenURL = "token_url"
	// SourceAWSSTS: the issuer of the AWS STS web identity tokens of a
	// secretless route (awsjwt.go).
	SourceAWSSTS = "aws_sts"
)

// Local token checks, as the status page, doctor and token say them.
const (
	LocalCheckJWT    = "jwt: checked against the issuer's key set"
	LocalCheckOpaque = "opaque: not checked locally"
	LocalCheckNone   = "not checked: no issuer known"
)

// Found is what discovery learned of a route's authorization server, and
// from where.
type Found struct {
	// Source is SourceUpstream, SourceDiscoveryURL or SourceTokenURL.
	Source string
	// From is the URL discovery started from.
	From string
	// Discovery is the issuer, token endpoint and key set found.
	Discovery *discovery.Discovery
	// Resource is the protected resource metadata's resource (zero-config
	// only).
	Resource string
	// MetadataURL is where the authorization server metadata came from.
	MetadataURL string
	// Hops are the requests made, in order.
	Hops []discovery.Hop
}

// HopLines formats the hops one per line for logs, doctor and status.
func (f *Found) HopLines() []string {
	var out []string
	for _, h := range f.Hops {
		out = append(out, h.Purpose+" "+h.String())
	}
	return out
}

// Found returns what discovery learned for route r, or nil before
// Discover or for a route without auth.
func (a *AuthSetup) Found(r config.Resolved) *Found {
	a.foundMu.Lock()
	defer a.foundMu.Unlock()
	return a.found[r.Name]
}

// discoveryState is AuthSetup's memory of discoveries: per route, and per
// starting point so that routes sharing one discover once.
type discoveryState struct {
	foundMu sync.Mutex
	found   map[string]*Found // by route name
	byKey   map[string]*Found // by source and URL
	// probes tracks re-discoveries in flight, for Wait.
	probes sync.WaitGroup
}

func (a *AuthSetup) remember(r config.Resolved, key string, f *Found) {
	a.foundMu.Lock()
	defer a.foundMu.Unlock()
	if a.found == nil {
		a.found, a.byKey = map[string]*Found{}, map[string]*Found{}
	}
	a.found[r.Name] = f
	if key != "" {
		a.byKey[key] = f
	}
}

func (a *AuthSetup) recall(key string) *Found {
	a.foundMu.Lock()
	defer a.foundMu.Unlock()
	return a.byKey[key]
}

// discover finds route r's authorization server: from its discovery URL
// (an OpenID Connect or RFC 8414 metadata URL, or an issuer), from its
// upstream's 401 when neither a discovery URL nor a token URL is given, or
// nothing with only a token URL.
func (a *AuthSetup) discover(ctx context.Context, r config.Resolved) (*discovery.Discovery, error) {
	ra := r.Auth
	if ra == nil {
		return &discovery.Discovery{}, nil
	}
	var key string
	switch {
	case ra.DiscoveryURL != "":
		key = SourceDiscoveryURL + "\x00" + ra.DiscoveryURL
	case ra.TokenURL != "":
		a.remember(r, "", &Found{Source: SourceTokenURL, From: ra.TokenURL, Discovery: &discovery.Discovery{}})
		return &discovery.Discovery{}, nil
	default:
		key = SourceUpstream + "\x00" + r.Upstream.String()
	}
	// Routes that share a starting point but pin different issuers each
	// make their own trust decision.
	key += "\x00" + ra.Issuer
	if f := a.recall(key); f != nil {
		a.remember(r, key, f)
		return f.Discovery, nil
	}
	dctx, cancel := context.WithTimeout(ctx, DiscoveryTimeout)
	defer cancel()
	var (
		f   *Found
		err error
	)
	if ra.DiscoveryURL != "" {
		f, err = a.discoverURL(dctx, r)
		if err == nil {
			err = checkGivenIssuer(r, f)
		}
	} else {
		f, err = a.discoverUpstream(dctx, r)
	}
	if err != nil {
		return nil, err
	}
	a.remember(r, key, f)
	d := f.Discovery
	a.opts.Logger.Info("found the authorization server", "route", r.Name, "source", f.Source, "from", f.From,
		"issuer", d.Issuer, "token_endpoint", d.TokenEndpoint, "jwks_uri", d.JWKSURI, "resource", f.Resource,
		"hops", strings.Join(f.HopLines(), "; "))
	return d, nil
}

// DiscoverySetting names where route r's discovery URL came from: the
// setting, or the runtime's authorizer when runtime configuration gave it.
func DiscoverySetting(r config.Resolved) string {
	if r.Auth != nil && r.Auth.DiscoveryFromRuntime {
		return "the runtime's discoveryUrl (GetAgentRuntime)"
	}
	return r.Names()(agentcore.SettingDiscoveryURL)
}

func (a *AuthSetup) discoverURL(ctx context.Context, r config.Resolved) (*Found, error) {
	ra := r.Auth
	field := DiscoverySetting(r)
	// An OpenID Connect discovery URL is read as AgentCore's authorizer
	// reads it: the document may lack token_endpoint (then the token URL
	// setting gives it) and its issuer may differ from the URL's.
	if strings.HasSuffix(ra.DiscoveryURL, "/.well-known/openid-configuration") {
		d, err := discovery.Discover(ctx, a.client, ra.DiscoveryURL)
		if err != nil {
			return nil, fmt.Errorf("%s %q: %w (check the URL: https://cognito-idp.REGION.amazonaws.com/POOL_ID/.well-known/openid-configuration)", field, ra.DiscoveryURL, err)
		}
		return &Found{Source: SourceDiscoveryURL, From: ra.DiscoveryURL, Discovery: d, MetadataURL: ra.DiscoveryURL,
			Hops: []discovery.Hop{{Purpose: "server_metadata", URL: ra.DiscoveryURL, Status: 200}}}, nil
	}
	as, err := discovery.DiscoverAuthServer(ctx, a.client, ra.DiscoveryURL)
	if err != nil {
		return nil, fmt.Errorf("%s %q: %w (give the OpenID Connect discovery URL, the RFC 8414 metadata URL or the issuer, e.g. https://cognito-idp.REGION.amazonaws.com/POOL_ID)",
			field, ra.DiscoveryURL, err)
	}
	return &Found{Source: SourceDiscoveryURL, From: ra.DiscoveryURL, Discovery: as.Discovery(), MetadataURL: as.MetadataURL, Hops: as.Hops}, nil
}

func (a *AuthSetup) discoverUpstream(ctx context.Context, r config.Resolved) (*Found, error) {
	from := r.Upstream.String()
	dr, err := discovery.DiscoverResourceTrusting(ctx, a.client, from, nil, trustUpstreamAuthServer(r))
	if errors.Is(err, ErrUntrustedAuthServer) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("route %s: no %s or %s given, and finding the authorization server from the upstream failed: %w; give %s (the issuer or its metadata URL)",
			r.Name, agentcore.Render("{discovery_url}", r.Names()), agentcore.Render("{token_url}", r.Names()), err,
			agentcore.Render("{discovery_url}", r.Names()))
	}
	return &Found{Source: SourceUpstream, From: from, Discovery: dr.AuthServer.Discovery(), Resource: dr.Resource.Resource,
		MetadataURL: dr.AuthServer.MetadataURL, Hops: dr.Hops}, nil
}

// tokenRequest fills in how route r's client authenticates and what its
// token requests carry, from the route and what discovery found.
func (a *AuthSetup) tokenRequest(cfg *tokencache.Config, r config.Resolved, d *discovery.Discovery) {
	ra := r.Auth
	cfg.AuthStyle = ra.AuthStyle
	if !ra.StyleGiven && ra.ClientKey == nil {
		// AuthMethod names only methods ParseAuthStyle knows.
		cfg.AuthStyle, _ = tokencache.ParseAuthStyle(d.AuthMethod())
	}
	cfg.ClientKey = ra.ClientKey
	switch ra.AssertionAud {
	case "":
		cfg.AssertionAudience = cmp.Or(d.Issuer, cfg.TokenURL)
	case config.AssertionAudTokenEndpoint:
		cfg.AssertionAudience = cfg.TokenURL
	default:
		cfg.AssertionAudience = ra.AssertionAud
	}
	if ra.Resource != nil {
		cfg.Resource = *ra.Resource
	} else if f := a.Found(r); f != nil && f.Source == SourceUpstream {
		cfg.Resource = f.Resource
	}
	cfg.Audience, cfg.Params = ra.Audience, ra.Params
}

// shareKey identifies what makes two routes' token caches the same.
func shareKey(cfg tokencache.Config, r config.Resolved) string {
	sorted := slices.Clone(r.Auth.Scopes)
	slices.Sort(sorted)
	scopes := strings.Join(sorted, " ")
	key := ""
	if cfg.ClientKey != nil {
		key = cfg.ClientKey.Fingerprint()
	}
	return fmt.Sprintf("%s\x00%s\x00%v\x00%s\x00%s\x00%s\x00%s\x00%s\x00%s\x00%+v", cfg.TokenURL, cfg.ClientID, cfg.AuthStyle, key,
		cfg.AssertionAudience, cfg.Resource, cfg.Audience, cfg.Params.Encode(), scopes, r.Rules)
}

// Status describes route r's discovery and local checks for the status page.
func (ra *RouteAuth) Status(f *Found, sentResource string) *statuspage.Discovery {
	sd := &statuspage.Discovery{LocalCheck: ra.LocalCheck(), SentResource: sentResource}
	if f != nil {
		sd.Source, sd.Resource, sd.Hops = f.Source, f.Resource, f.HopLines()
		sd.Issuer, sd.TokenEndpoint, sd.JWKSURI = f.Discovery.Issuer, f.Discovery.TokenEndpoint, f.Discovery.JWKSURI
	}
	return sd
}

// LocalCheck says how the route's tokens are checked before they are sent:
// LocalCheckJWT, LocalCheckOpaque or LocalCheckNone.
func (ra *RouteAuth) LocalCheck() string {
	switch {
	case ra.opaque.Load():
		return LocalCheckOpaque
	case ra.Checker != nil:
		return LocalCheckJWT
	case ra.Discovery != nil && ra.Discovery.Issuer != "":
		return LocalCheckOpaque
	}
	return LocalCheckNone
}

// rediscoverEvery bounds re-probes of a zero-config route's upstream.
const rediscoverEvery = time.Minute

// rediscovery re-probes a zero-config route's upstream after it refused a
// token (a 401 the proxy took for an invalid or missing token), at most
// once per rediscoverEvery, in the background. What it finds is logged and
// shown on the status page; a different authorization server takes effect
// on restart, since the token cache and key set were built for the first.
type rediscovery struct {
	setup *AuthSetup
	life  context.Context
	r     config.Resolved

	mu   sync.Mutex
	last time.Time
}

// refused starts a re-probe unless one ran within rediscoverEvery.
func (rd *rediscovery) refused() {
	if rd == nil {
		return
	}
	rd.mu.Lock()
	// Wait runs once life is done: start nothing then.
	if rd.life.Err() != nil || time.Since(rd.last) < rediscoverEvery {
		rd.mu.Unlock()
		return
	}
	rd.last = time.Now()
	rd.mu.Unlock()
	rd.setup.probes.Go(rd.probe)
}

func (rd *rediscovery) probe() {
	a, r := rd.setup, rd.r
	ctx, cancel := context.WithTimeout(rd.life, DiscoveryTimeout)
	defer cancel()
	old := a.Found(r)
	f, err := a.discoverUpstream(ctx, r)
	if err != nil {
		a.opts.Logger.Warn("re-discovery after a refused token failed; keeping the authorization server found at start", "route", r.Name, "error", err)
		return
	}
	a.remember(r, "", f)
	same := old != nil && old.Discovery.Issuer == f.Discovery.Issuer && old.Discovery.TokenEndpoint == f.Discovery.TokenEndpoint &&
		old.Discovery.JWKSURI == f.Discovery.JWKSURI && old.Resource == f.Resource
	if same {
		a.opts.Logger.Info("re-discovery after a refused token found the same authorization server", "route", r.Name,
			"hops", strings.Join(f.HopLines(), "; "))
		return
	}
	a.opts.Logger.Warn("re-discovery after a refused token found another authorization server: restart the proxy to use it", "route", r.Name,
		"issuer", f.Discovery.Issuer, "token_endpoint", f.Discovery.TokenEndpoint, "resource", f.Resource,
		"hops", strings.Join(f.HopLines(), "; "))
}
