package config

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"

	"github.com/agentcore-proxy/agentcore-proxy/tokencache"
)

// AssertionAudTokenEndpoint is the client_assertion_aud value that makes
// the token endpoint the assertions' aud (Entra ID, Okta).
const AssertionAudTokenEndpoint = "token_endpoint"

// reservedTokenParams are set by other settings, never by token_params.
var reservedTokenParams = map[string][2]string{
	"grant_type": {}, "scope": {"auth.scopes", "--scope"}, "resource": {"auth.resource", "--resource"},
	"audience": {"auth.audience", "--audience"}, "client_id": {"auth.client_id", "--client-id"},
	"client_secret":         {"auth.client_secret_file", "--client-secret-file"},
	"client_assertion":      {"auth.client_key_file", "--client-key-file"},
	"client_assertion_type": {"auth.token_auth_style", "--token-auth-style"},
}

// resolveTokenRequest checks how the client authenticates and what goes
// with each token request: the auth style, the client key, the assertion's
// audience, resource, audience and extra parameters. keyed says the client
// signs assertions instead of sending a secret.
func resolveTokenRequest(ra *ResolvedAuth, a Auth, f func(string, string) string, keyed bool) []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	styleField := f("auth.token_auth_style", "--token-auth-style")
	keyField := f("auth.client_key_file", "--client-key-file")
	switch a.TokenAuthStyle {
	case "":
		ra.AuthStyle = tokencache.AuthStyleBasic
		if keyed {
			ra.AuthStyle = tokencache.AuthStylePrivateKeyJWT
		}
	case "basic":
		ra.AuthStyle, ra.StyleGiven = tokencache.AuthStyleBasic, true
	case "post":
		ra.AuthStyle, ra.StyleGiven, ra.PostAuth = tokencache.AuthStylePost, true, true
	case "private_key_jwt":
		ra.AuthStyle, ra.StyleGiven = tokencache.AuthStylePrivateKeyJWT, true
	default:
		bad("%s %q: want basic (client_secret_basic), post (client_secret_post) or private_key_jwt (RFC 7523, with %s)", styleField, a.TokenAuthStyle, keyField)
	}
	switch {
	case keyed && a.ClientKeyFile == "":
		bad("%s is private_key_jwt but %s is empty: give the PEM file of the client's private key", styleField, keyField)
	case !keyed && a.ClientKeyFile != "":
		bad("%s applies only to private_key_jwt: remove it, or set %s to private_key_jwt", keyField, styleField)
	case keyed && a.ClientSecretFile != "":
		bad("%s and %s are both set: private_key_jwt signs with the key and sends no secret; remove one", keyField, f("auth.client_secret_file", "--client-secret-file"))
	}
	if !keyed {
		if a.ClientKeyAlg != "" {
			bad("%s applies only with %s: remove it", f("auth.client_key_alg", "--client-key-alg"), keyField)
		}
		if a.ClientKeyID != "" {
			bad("%s applies only with %s: remove it", f("auth.client_key_id", "--client-key-id"), keyField)
		}
		if a.ClientAssertionAud != "" {
			bad("%s applies only to private_key_jwt: remove it", f("auth.client_assertion_aud", "--client-assertion-aud"))
		}
	}
	if aud := a.ClientAssertionAud; aud != "" && aud != AssertionAudTokenEndpoint {
		if u, err := url.Parse(aud); err != nil || !u.IsAbs() || u.Host == "" {
			bad("%s %q: want %s (the token endpoint), an absolute URL, or nothing (the issuer)", f("auth.client_assertion_aud", "--client-assertion-aud"), aud, AssertionAudTokenEndpoint)
		}
	}
	ra.keyFile, ra.keyAlg, ra.keyID, ra.AssertionAud = a.ClientKeyFile, a.ClientKeyAlg, a.ClientKeyID, a.ClientAssertionAud

	if a.Resource != nil {
		r := *a.Resource
		if r != "" {
			if u, err := url.Parse(r); err != nil || !u.IsAbs() || u.Fragment != "" {
				bad("%s %q: want an absolute URI without fragment (RFC 8707), or \"\" to send none", f("auth.resource", "--resource"), r)
			}
		}
		ra.Resource = &r
	}
	ra.Audience = a.Audience

	params := url.Values{}
	for _, k := range slices.Sorted(maps.Keys(a.TokenParams)) {
		params.Add(k, a.TokenParams[k])
	}
	for _, kv := range a.tokenParamFlags {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			bad("--token-param %q: want key=value, e.g. --token-param prompt=none", kv)
			continue
		}
		params.Add(k, v)
	}
	for _, k := range slices.Sorted(maps.Keys(params)) {
		if owner, ok := reservedTokenParams[k]; ok {
			if owner[0] == "" {
				bad("%s %q: the proxy sets it itself; remove it", f("auth.token_params", "--token-param"), k)
			} else {
				bad("%s %q: set by %s; use that instead", f("auth.token_params", "--token-param"), k, f(owner[0], owner[1]))
			}
		}
	}
	if len(params) > 0 {
		ra.Params = params
	}
	return errs
}

// loadKey reads the client key of a private_key_jwt route, so that a bad
// file stops the proxy at start with the file and the problem named.
func (a *ResolvedAuth) loadKey() error {
	if a.keyFile == "" {
		return nil
	}
	k, err := tokencache.LoadClientKey(a.keyFile, a.keyAlg, a.keyID)
	if err != nil {
		var ke *tokencache.ClientKeyError
		if errors.As(err, &ke) {
			return fmt.Errorf("%s %q: %s", a.field("auth.client_key_file", "--client-key-file"), a.keyFile, ke.Problem)
		}
		return fmt.Errorf("%s %q: %w", a.field("auth.client_key_file", "--client-key-file"), a.keyFile, err)
	}
	a.ClientKey = k
	return nil
}
