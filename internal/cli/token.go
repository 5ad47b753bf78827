package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/agentcore-proxy/agentcore-proxy/internal/config"
	"github.com/agentcore-proxy/agentcore-proxy/jwtcheck"
	"github.com/agentcore-proxy/agentcore-proxy/proxy"
	"github.com/agentcore-proxy/agentcore-proxy/tokencache"
)

const tokenUsage = `agentcore-proxy token: print a fresh access token for a route, e.g. for curl.

Usage:
  agentcore-proxy token [route flags | --config FILE [--route NAME]] [--decode]

  curl -H "Authorization: Bearer $(agentcore-proxy token --config routes.yaml --route calculator)" ...

With --decode it prints the token's header and claims and whether it passes
the runtime's authorizer rules, instead of the token (the signature is never
shown; a fingerprint identifies the token).
`

// keySetWait bounds how long token --decode and doctor wait for the key set.
const keySetWait = 15 * time.Second

func runToken(ctx context.Context, args []string, env Env) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	var rfl routeFlags
	rfl.register(fs)
	routeName := fs.String("route", "", "with --config: the route `name` (default: the only route)")
	decode := fs.Bool("decode", false, "print the header, claims and check result instead of the token")
	if err := parse(fs, args, env, tokenUsage); err != nil {
		return err
	}
	_, routes, err := rfl.load(fs, "127.0.0.1:0", env)
	if err != nil {
		return err
	}
	r, err := pickRoute(routes, *routeName)
	if err != nil {
		return err
	}
	if r.Auth == nil {
		return fmt.Errorf("route %s has no auth: there is no token to print", r.Name)
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	client := &http.Client{Timeout: discoveryTimeout, Transport: proxy.NewTransport(proxy.TransportOptions{})}
	defer client.CloseIdleConnections()
	d, err := discover(ctx, client, r.Auth, map[string]*tokencache.Discovery{})
	if err != nil {
		return err
	}
	token, err := fetchToken(ctx, r, d)
	if err != nil {
		return err
	}
	if !*decode {
		fmt.Fprintln(env.Stdout, token)
		return nil
	}
	return printDecoded(ctx, env, r, d, token)
}

// pickRoute returns the route named name, or the only route.
func pickRoute(routes []config.Resolved, name string) (config.Resolved, error) {
	var names []string
	for _, r := range routes {
		if r.Name == name || name == "" && len(routes) == 1 {
			return r, nil
		}
		names = append(names, r.Name)
	}
	if name == "" {
		return config.Resolved{}, fmt.Errorf("--route is empty and the configuration has %d routes: give one of %s", len(routes), strings.Join(names, ", "))
	}
	return config.Resolved{}, fmt.Errorf("--route %q: no such route (routes: %s)", name, strings.Join(names, ", "))
}

// cacheConfig returns the token cache configuration of route r, whose
// discovery document is d: the token URL from the route or discovery.
func cacheConfig(r config.Resolved, d *tokencache.Discovery, logger *slog.Logger) (tokencache.Config, error) {
	a := r.Auth
	tokenURL := cmp.Or(a.TokenURL, d.TokenEndpoint)
	if tokenURL == "" {
		return tokencache.Config{}, fmt.Errorf("%s %q: the discovery document has no token_endpoint: give %s",
			a.Field("auth.discovery_url", "--discovery-url"), a.DiscoveryURL, a.Field("auth.token_url", "--token-url"))
	}
	if _, err := proxy.CheckSecureURL(tokenURL); err != nil {
		return tokencache.Config{}, fmt.Errorf("token endpoint %q from %s: %w", tokenURL, a.Field("auth.discovery_url", "--discovery-url"), err)
	}
	style := tokencache.AuthStyleBasic
	if a.PostAuth {
		style = tokencache.AuthStylePost
	}
	return tokencache.Config{
		TokenURL: tokenURL, ClientID: a.ClientID, ClientSecret: a.Secret, Scopes: a.Scopes, AuthStyle: style, Logger: logger,
	}, nil
}

// fetchToken obtains one token for route r, unchecked.
func fetchToken(ctx context.Context, r config.Resolved, d *tokencache.Discovery) (string, error) {
	cfg, err := cacheConfig(r, d, slog.New(slog.DiscardHandler))
	if err != nil {
		return "", err
	}
	life, stop := context.WithCancel(ctx)
	defer stop()
	c, err := tokencache.New(life, cfg)
	if err != nil {
		return "", err
	}
	defer func() { stop(); <-c.Done() }()
	return c.Token(ctx)
}

// newChecker starts a checker for route r and waits for its key set.
func newChecker(ctx context.Context, r config.Resolved, d *tokencache.Discovery) (*jwtcheck.Checker, error) {
	if d.Issuer == "" {
		return nil, errors.New("no discovery document: give --discovery-url to check tokens")
	}
	checker, err := jwtcheck.New(ctx, jwtcheck.Config{Issuer: d.Issuer, JWKSURI: d.JWKSURI, Rules: r.Rules, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, keySetWait)
	defer cancel()
	return checker, checker.WaitReady(wctx)
}

func printDecoded(ctx context.Context, env Env, r config.Resolved, d *tokencache.Discovery, token string) error {
	header, claims, err := jwtcheck.Decode(token)
	if err != nil {
		return fmt.Errorf("the token endpoint's token cannot be decoded: %w", err)
	}
	out := func(label string, v any) {
		b, _ := json.MarshalIndent(v, "", "  ")
		fmt.Fprintf(env.Stdout, "%s:\n%s\n", label, b)
	}
	out("header", header)
	out("claims", claims.Raw) // encoding/json sorts the keys
	fmt.Fprintf(env.Stdout, "fingerprint: %s\n", jwtcheck.Fingerprint(token))
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	checker, err := newChecker(cctx, r, d)
	if err == nil {
		_, err = checker.Check(token)
	}
	if err != nil {
		fmt.Fprintf(env.Stdout, "check: ✗ %v\n", err)
		return errors.New("the token would be rejected (see check above)")
	}
	fmt.Fprintf(env.Stdout, "check: ✓ passes the authorizer rules %s\n", describeRules(r.Rules))
	return nil
}

// describeRules renders the rules the way AgentCore's console names them.
func describeRules(r jwtcheck.Rules) string {
	var parts []string
	add := func(name string, v []string) {
		if len(v) > 0 {
			parts = append(parts, fmt.Sprintf("%s %v", name, v))
		}
	}
	add("allowedClients", r.AllowedClients)
	add("allowedAudience", r.AllowedAudience)
	add("allowedScopes", r.AllowedScopes)
	if n := len(r.CustomClaims); n > 0 {
		parts = append(parts, fmt.Sprintf("%d custom claim rule(s)", n))
	}
	if len(parts) == 0 {
		return "(issuer, signature and expiry only)"
	}
	return "(" + strings.Join(parts, ", ") + ")"
}
