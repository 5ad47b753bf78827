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
	"github.com/agentcore-proxy/agentcore-proxy/internal/route"
	"github.com/agentcore-proxy/agentcore-proxy/jwtcheck"
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
	auth := route.NewAuthSetup(route.AuthOptions{Redactor: env.red})
	defer func() {
		stop()
		auth.Wait()
		auth.CloseIdleConnections()
	}()
	// As serve does: the runtime's discovery URL and rules where none are given.
	if _, err := auth.ReadRuntime(ctx, &r); err != nil {
		return err
	}
	if r.Auth == nil {
		return fmt.Errorf("route %s has no auth: there is no token to print", r.Name)
	}
	d, err := auth.Discover(ctx, r)
	if err != nil {
		return err
	}
	cache, err := auth.Cache(life, r, d)
	if err != nil {
		return err
	}
	token, err := cache.Token(ctx)
	if err != nil {
		return route.ExplainRouteTokenFailure(err, r)
	}
	if !*decode {
		fmt.Fprintln(env.Stdout, token)
		return nil
	}
	return printDecoded(life, env, auth, r, d, token)
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
func printDecoded(life context.Context, env Env, auth *route.AuthSetup, r config.Resolved, d *tokencache.Discovery, token string) error {
	if !tokencache.IsJWT(token) {
		fmt.Fprintf(env.Stdout, "fingerprint: %s\ncheck: %s (the token is not a JWT; only the authorization server and the upstream can read it)\n",
			jwtcheck.Fingerprint(token), route.LocalCheckOpaque)
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
	fmt.Fprintf(env.Stdout, "fingerprint: %s\n", jwtcheck.Fingerprint(token))
	checker, err := auth.ReadyChecker(life, r, d)
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
