package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/agentcore-proxy/agentcore-proxy/internal/config"
	"github.com/agentcore-proxy/agentcore-proxy/internal/redact"
	"github.com/agentcore-proxy/agentcore-proxy/internal/route"
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
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	life, stop := context.WithCancel(ctx)
	// The token comes from the route serve would build; its check is the
	// decode's to show, so the cache keeps a token the rules refuse.
	serve := serveDefaults()
	serve.red = env.red
	so := serve.serverOptions(nil)
	auth := route.NewAuthSetup(route.AuthOptions{Redactor: env.red, Transport: so.Transport, CallerChecks: true})
	upstream := proxy.NewTransport(so.Transport)
	defer func() {
		stop()
		auth.Wait()
		auth.CloseIdleConnections()
		upstream.CloseIdleConnections()
	}()
	// As serve does: the runtime's discovery URL and rules where none are given.
	if _, err := auth.ReadRuntime(ctx, &r); err != nil {
		return err
	}
	if r.Auth == nil && r.AWSJWT == nil {
		return fmt.Errorf("route %s has no auth: there is no token to print", r.Name)
	}
	deps := so.RouteDeps()
	deps.Auth, deps.Upstream = auth, upstream
	rt, err := route.Build(ctx, life, r, deps)
	if err != nil {
		return err
	}
	token, err := rt.Tokens.Token(ctx)
	if err != nil {
		return err // explained by the token source, in the route's words
	}
	if !*decode {
		fmt.Fprintln(env.Stdout, token)
		return nil
	}
	return printDecoded(life, env, rt, token)
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

// printDecoded prints the token's header and claims, its fingerprint, and
// whether it passes the route's authorizer rules.
func printDecoded(ctx context.Context, env Env, rt *route.Route, token string) error {
	r := rt.Resolved
	if !tokencache.IsJWT(token) {
		fmt.Fprintf(env.Stdout, "fingerprint: %s\ncheck: %s (the token is not a JWT; only the authorization server and the upstream can read it)\n",
			redact.Fingerprint(token), route.LocalCheckOpaque)
		return nil
	}
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
	fmt.Fprintf(env.Stdout, "fingerprint: %s\n", redact.Fingerprint(token))
	checker, err := rt.Auth.ReadyChecker(ctx, r.Names())
	if err == nil && checker == nil {
		fmt.Fprintf(env.Stdout, "check: %s (the authorization server publishes no jwks_uri)\n", route.LocalCheckOpaque)
		return nil
	}
	if err == nil {
		if _, err = checker.Check(token); err != nil {
			err = route.ExplainRouteTokenFailure(err, r)
		}
	}
	if err != nil {
		fmt.Fprintf(env.Stdout, "check: ✗ %v\n", err)
		return errors.New("the token would be rejected (see check above)")
	}
	fmt.Fprintf(env.Stdout, "check: ✓ passes the authorizer rules %s\n", r.Rules.String())
	return nil
}
