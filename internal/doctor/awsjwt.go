package doctor

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/oauth2"

	"github.com/agentcore-proxy/agentcore-proxy/discovery"
	"github.com/agentcore-proxy/agentcore-proxy/internal/config"
	"github.com/agentcore-proxy/agentcore-proxy/internal/route"
	"github.com/agentcore-proxy/agentcore-proxy/jwtcheck"
)

// checkAWSJWT walks a secretless route: who calls STS, the web identity token (outbound identity
// federation enabled, sts:GetWebIdentityToken allowed), the issuer and whether the runtime trusts
// it, and the authorizer rules. The MCP step then runs the route serve would build (route.Build).
func checkAWSJWT(ctx, life context.Context, c *checklist, auth *route.AuthSetup, r config.Resolved, opts Options) {
	j := r.AWSJWT
	var wi *route.WebIdentity
	var first *oauth2.Token
	var d *discovery.Discovery
	c.run("AWS web identity", func() (string, error) {
		var err error
		if wi, err = auth.WebIdentitySource(ctx, r); err != nil {
			return "", err
		}
		return fmt.Sprintf("sts:GetWebIdentityToken in %s with access key %s: audience %s, %s, lifetime %s, %d tag(s)",
			j.Region, wi.KeyFingerprint, strings.Join(j.Audience, " "), j.Algorithm, j.Duration, len(j.Tags)), nil
	})
	c.run("token", func() (string, error) {
		var err error
		if first, err = wi.Source.Token(ctx); err != nil {
			return "", route.ExplainRouteTokenFailure(err, r)
		}
		return tokenDetail(first.AccessToken), nil
	})
	c.run("discovery", func() (string, error) {
		var err error
		if d, err = auth.WebIdentityIssuer(ctx, r, wi, first.AccessToken); err != nil {
			return "", err
		}
		return fmt.Sprintf("the STS issuer %s (jwks_uri %s); the runtime's customJWTAuthorizer needs discoveryUrl %s", d.Issuer, d.JWKSURI, wi.DiscoveryURL), nil
	})
	c.run("authorizer rules", func() (string, error) {
		ra := &route.RouteAuth{Discovery: d}
		var err error
		var checker *jwtcheck.Checker
		if ra.Checker, err = auth.Checker(life, r, d); err == nil {
			checker, err = ra.ReadyChecker(ctx, r.Names())
		}
		if err == nil && checker == nil {
			err = fmt.Errorf("the STS issuer %s publishes no jwks_uri", d.Issuer)
		}
		if err == nil {
			if _, err = checker.Check(first.AccessToken); err != nil {
				err = route.ExplainRouteTokenFailure(err, r)
			}
		}
		return "passes " + r.Rules.String(), err
	})
	c.run("protected-resource metadata", func() (string, error) {
		detail, err := checkMetadata(ctx, auth.Client(), r, d, opts)
		var tm *trustMismatch
		if errors.As(err, &tm) {
			return "", fmt.Errorf("the runtime trusts %v, not the STS issuer %s: set its customJWTAuthorizer's discoveryUrl to %s and allowedAudience to %s",
				tm.servers, d.Issuer, wi.DiscoveryURL, strings.Join(j.Audience, ", "))
		}
		if err == nil {
			detail = fmt.Sprintf("the runtime trusts %s, the STS issuer", d.Issuer)
		}
		return detail, err
	})
}
