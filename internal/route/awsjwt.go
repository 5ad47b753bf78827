package route

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"golang.org/x/oauth2"

	"github.com/agentcore-proxy/agentcore-proxy/agentcore"
	"github.com/agentcore-proxy/agentcore-proxy/discovery"
	"github.com/agentcore-proxy/agentcore-proxy/internal/awsjwt"
	"github.com/agentcore-proxy/agentcore-proxy/internal/awssecrets"
	"github.com/agentcore-proxy/agentcore-proxy/internal/config"
	"github.com/agentcore-proxy/agentcore-proxy/tokencache"
)

// This file builds a secretless route (config.AWSJWT): the bearer is an AWS STS GetWebIdentityToken
// JWT for the AWS credential chain's identity, cached and refreshed like any token, and checked
// locally against the STS issuer's key set with the route's rules.

// WebIdentity is what a secretless route learned at start: who signs the STS calls, and the issuer
// whose discovery document and key set check the tokens.
type WebIdentity struct {
	// Source calls STS.
	Source *awsjwt.Source
	// KeyFingerprint identifies the AWS access key.
	KeyFingerprint string
	// Issuer is the first token's iss; DiscoveryURL is Issuer + /.well-known/openid-configuration,
	// what the runtime's customJWTAuthorizer must have as discoveryUrl.
	Issuer, DiscoveryURL string
}

// WebIdentitySource builds route r's STS token source on the AWS credential chain (the demo's
// in-process key when AuthOptions.AWSCredentials is set) and retrieves credentials once, so that a
// start without any fails here, naming the sources tried.
func (a *AuthSetup) WebIdentitySource(ctx context.Context, r config.Resolved) (*WebIdentity, error) {
	j := r.AWSJWT
	field := r.Names()(config.SettingAuth)
	// The demo's in-process key: neither the environment nor ~/.aws is read.
	cfg := aws.Config{Region: j.Region, Credentials: a.withRedaction(a.opts.AWSCredentials)}
	if cfg.Credentials == nil {
		var err error
		if cfg, err = a.AWSConfig(ctx, j.Profile, j.Region); err != nil {
			return nil, fmt.Errorf("%s aws-jwt (route %s): %w", field, r.Name, err)
		}
	}
	if a.opts.AWSEndpoint != "" {
		cfg = cfg.Copy()
		cfg.BaseEndpoint = aws.String(a.opts.AWSEndpoint)
	}
	fp, err := awssecrets.CheckCredentials(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("%s aws-jwt (route %s): %w", field, r.Name, explainNoCredentials(err, r.Names()))
	}
	src, err := awsjwt.New(awsjwt.Config{AWS: cfg, Region: j.Region, Audience: j.Audience, Algorithm: j.Algorithm, Duration: j.Duration, Tags: j.Tags})
	if err != nil {
		return nil, fmt.Errorf("route %s: %w", r.Name, err)
	}
	return &WebIdentity{Source: src, KeyFingerprint: fp}, nil
}

// IssuerMismatchError says the STS issuer is not the one the runtime's authorizer trusts: the
// runtime would refuse every token (Claim 'iss' value mismatch).
type IssuerMismatchError struct {
	Issuer, DiscoveryURL, RuntimeDiscoveryURL string
	// FromRuntime says RuntimeDiscoveryURL was read from the runtime, not given.
	FromRuntime bool
	names       agentcore.Namer
}

func (e *IssuerMismatchError) Error() string {
	if e.FromRuntime {
		return fmt.Sprintf("the STS tokens' issuer is %s, whose discovery URL %s differs from the runtime authorizer's discoveryUrl %s (read from the runtime): the runtime would refuse them (claim iss); set the runtime's discoveryUrl to %s, or use AWS credentials of the account whose issuer it names",
			e.Issuer, e.DiscoveryURL, e.RuntimeDiscoveryURL, e.DiscoveryURL)
	}
	return fmt.Sprintf("the STS tokens' issuer is %s, whose discovery URL %s differs from the runtime authorizer's discoveryUrl %s (%s): the runtime would refuse them (claim iss); set the runtime's discoveryUrl to %s, or correct %s",
		e.Issuer, e.DiscoveryURL, e.RuntimeDiscoveryURL, agentcore.Render("{discovery_url}", e.names), e.DiscoveryURL, agentcore.Render("{discovery_url}", e.names))
}

// Reason returns the catalogue code: the issuer is the runtime's claim iss.
func (e *IssuerMismatchError) Reason() string { return agentcore.ReasonClaimIss }

// WebIdentityIssuer reads the issuer of token, a fresh STS token of route r, compares its
// discovery URL with the runtime's, and reads its discovery document.
func (a *AuthSetup) WebIdentityIssuer(ctx context.Context, r config.Resolved, wi *WebIdentity, token string) (*discovery.Discovery, error) {
	claims, err := awsjwt.ParseClaims(token)
	if err != nil {
		return nil, fmt.Errorf("route %s: %w", r.Name, err)
	}
	wi.Issuer, wi.DiscoveryURL = claims.Issuer, awsjwt.DiscoveryURL(claims.Issuer)
	if want := r.AWSJWT.DiscoveryURL; want != "" && want != wi.DiscoveryURL {
		return nil, &IssuerMismatchError{Issuer: wi.Issuer, DiscoveryURL: wi.DiscoveryURL, RuntimeDiscoveryURL: want,
			FromRuntime: r.AWSJWT.DiscoveryFromRuntime, names: r.Names()}
	}
	dctx, cancel := context.WithTimeout(ctx, DiscoveryTimeout)
	defer cancel()
	d, err := discovery.Discover(dctx, a.client, wi.DiscoveryURL)
	if err != nil {
		return nil, fmt.Errorf("route %s: the STS issuer's discovery document: %w", r.Name, err)
	}
	if d.Issuer != wi.Issuer {
		return nil, fmt.Errorf("route %s: %s names issuer %s, but the STS token's iss is %s", r.Name, wi.DiscoveryURL, d.Issuer, wi.Issuer)
	}
	a.remember(r, "", &Found{Source: SourceAWSSTS, From: wi.DiscoveryURL, Discovery: d, MetadataURL: wi.DiscoveryURL})
	return d, nil
}

// AWSJWT builds the token machinery of secretless route r: an STS token source, the first token
// fetched now (so that a disabled federation or a missing permission fails the start, explained),
// the issuer's discovery and key set, and a token cache over the source whose tokens are checked
// before they are cached. ctx bounds start-up; the cache and key set live as long as life.
func (a *AuthSetup) AWSJWT(ctx, life context.Context, r config.Resolved) (*RouteAuth, *WebIdentity, error) {
	wi, err := a.WebIdentitySource(ctx, r)
	if err != nil {
		return nil, nil, err
	}
	first, err := wi.Source.Token(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("route %s: %w", r.Name, ExplainRouteTokenFailure(err, r))
	}
	d, err := a.WebIdentityIssuer(ctx, r, wi, first.AccessToken)
	if err != nil {
		return nil, nil, err
	}
	ra := &RouteAuth{Discovery: d}
	if ra.Checker, err = a.Checker(life, r, d); err == nil {
		_, err = ra.ReadyChecker(ctx, r.Names())
	}
	if err != nil {
		return nil, nil, fmt.Errorf("route %s: the STS issuer's key set: %w", r.Name, err)
	}
	var check func(string) error
	if !a.opts.CallerChecks {
		check = ra.check
	}
	if ra.Cache, ra.cfg, err = a.webIdentityCache(life, r, wi, first, check); err != nil {
		return nil, nil, err
	}
	a.all = append(a.all, ra)
	a.opts.Logger.Info("route sends AWS STS web identity tokens (no client secret)", "route", r.Name, "issuer", wi.Issuer,
		"audience", r.AWSJWT.Audience, "algorithm", r.AWSJWT.Algorithm, "lifetime", r.AWSJWT.Duration, "access_key_fingerprint", wi.KeyFingerprint)
	return ra, wi, nil
}

func (a *AuthSetup) webIdentityCache(life context.Context, r config.Resolved, wi *WebIdentity, first *oauth2.Token, check func(string) error) (*tokencache.Cache, tokencache.Config, error) {
	cfg := tokencache.Config{
		Source: replayFirst(first, wi.Source.Token), SourceName: "sts:GetWebIdentityToken",
		Logger: a.opts.Logger.With("route", r.Name), Redactor: a.opts.Redactor.NewSet(0), Check: check,
	}
	if a.opts.OnFetch != nil {
		cfg.OnFetch = a.opts.OnFetch(r.Name)
	}
	c, err := a.newCache(life, r.Name, cfg)
	return c, cfg, err
}

// replayFirst returns a token source that hands out first once, then calls next: the token fetched
// at start to learn the issuer is the cache's first, so STS is asked once.
func replayFirst(first *oauth2.Token, next func(context.Context) (*oauth2.Token, error)) func(context.Context) (*oauth2.Token, error) {
	var mu sync.Mutex
	return func(ctx context.Context) (*oauth2.Token, error) {
		mu.Lock()
		t := first
		first = nil
		mu.Unlock()
		if t != nil {
			return t, nil
		}
		return next(ctx)
	}
}

// awsJWTReason returns the catalogue code of an STS failure of a secretless route, "" for others.
func awsJWTReason(err error) string {
	var fd *awsjwt.FederationDisabledError
	var ae *awssecrets.AccessError
	var nc *awssecrets.NoCredentialsError
	switch {
	case errors.As(err, &fd):
		return agentcore.ReasonAWSJWTFederationDisabled
	case errors.As(err, &ae) && ae.Action == awsjwt.Action:
		return agentcore.ReasonAWSJWTAccessDenied
	case errors.As(err, &nc):
		return agentcore.ReasonAWSJWTNoCredentials
	}
	return ""
}
