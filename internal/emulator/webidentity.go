package emulator

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// This file fakes IAM outbound identity federation: STS GetWebIdentityToken issues AWS-signed JWTs
// for the caller's identity from an account-specific issuer that serves OpenID discovery and a JWKS
// (AWS: https://{id}.tokens.sts.global.api.aws; here: the AWS host's URL + /tokens/{id}).

// Limits of GetWebIdentityToken (STS API reference).
const (
	webIdentityMaxAudiences   = 10
	webIdentityMinDuration    = 60
	webIdentityMaxDuration    = 3600
	webIdentityDefaultSeconds = 300
	webIdentityMaxTags        = 50
	webIdentityMaxTagKey      = 128
	webIdentityMaxTagValue    = 256
	webIdentityClaimNamespace = "https://sts.amazonaws.com/"
)

// webIdentityKeys are the issuer's two signing keys, one per algorithm GetWebIdentityToken offers.
type webIdentityKeys struct {
	rsa *rsa.PrivateKey
	ec  *ecdsa.PrivateKey
	err error
}

const (
	webIdentityRSAKid = "sts-rs256-emul8t0r"
	webIdentityECKid  = "sts-es384-emul8t0r"
)

// keys generates the issuer's keys on first use, so that hosts which never federate pay nothing.
func (a *AWS) keys() (*webIdentityKeys, error) {
	a.webKeysOnce.Do(func() {
		k := &webIdentityKeys{}
		k.rsa, k.err = rsa.GenerateKey(rand.Reader, 2048)
		if k.err == nil {
			k.ec, k.err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		}
		if k.err != nil {
			k.err = fmt.Errorf("emulator: generate the web identity issuer's keys: %w", k.err)
		}
		a.webKeys = k
	})
	return a.webKeys, a.webKeys.err
}

// WebIdentityIssuer returns the issuer of the tokens GetWebIdentityToken issues, as
// GetOutboundWebIdentityFederationInfo would; its discovery document is at
// WebIdentityIssuer()+"/.well-known/openid-configuration".
func (a *AWS) WebIdentityIssuer() string { return a.url + a.issuerPath() }

// issuerPath is the issuer's path on the AWS host: one per account, as AWS has one issuer per account.
func (a *AWS) issuerPath() string { return "/tokens/emul8t0r-" + a.cfg.AccountID }

// SetOutboundFederation enables or disables IAM outbound identity federation for the account:
// disabled, GetWebIdentityToken answers OutboundWebIdentityFederationDisabledException.
func (a *AWS) SetOutboundFederation(enabled bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.federationOff = !enabled
}

// WebIdentityTrust returns a TrustedIssuer for Config.TrustedIssuer that makes the emulated runtime
// trust the tokens GetWebIdentityToken issues (RS256 and ES384), as a customJWTAuthorizer whose
// discoveryUrl is WebIdentityIssuer()+"/.well-known/openid-configuration" does.
func (a *AWS) WebIdentityTrust() (*TrustedIssuer, error) {
	k, err := a.keys()
	if err != nil {
		return nil, err
	}
	return &TrustedIssuer{
		Issuer:     a.WebIdentityIssuer(),
		Algorithms: []string{"RS256", "ES384"},
		Keyfunc: func(tok *jwt.Token) (any, error) {
			switch kid, _ := tok.Header["kid"].(string); kid {
			case webIdentityRSAKid:
				return &k.rsa.PublicKey, nil
			case webIdentityECKid:
				return &k.ec.PublicKey, nil
			}
			return nil, errors.New("emulator: unknown kid")
		},
	}, nil
}

// serveIssuer answers the issuer's unauthenticated OpenID discovery and JWKS; ok is false for any
// other path.
func (a *AWS) serveIssuer(w http.ResponseWriter, r *http.Request) (ok bool) {
	rest, found := strings.CutPrefix(r.URL.Path, a.issuerPath())
	if !found || r.Method != http.MethodGet {
		return false
	}
	var out any
	switch rest {
	case "/.well-known/openid-configuration":
		iss := a.WebIdentityIssuer()
		out = map[string]any{
			"issuer":                                iss,
			"jwks_uri":                              iss + "/.well-known/jwks.json",
			"response_types_supported":              []string{"id_token"},
			"subject_types_supported":               []string{"public"},
			"id_token_signing_alg_values_supported": []string{"RS256", "ES384"},
		}
	case "/.well-known/jwks.json":
		k, err := a.keys()
		if err != nil {
			http.Error(w, "internal error", http.StatusInternalServerError)
			return true
		}
		b64 := base64.RawURLEncoding.EncodeToString
		size := (k.ec.Curve.Params().BitSize + 7) / 8
		out = map[string]any{"keys": []map[string]string{
			{"kty": "RSA", "kid": webIdentityRSAKid, "alg": "RS256", "use": "sig",
				"n": b64(k.rsa.N.Bytes()), "e": b64(big.NewInt(int64(k.rsa.E)).Bytes())},
			{"kty": "EC", "kid": webIdentityECKid, "alg": "ES384", "use": "sig", "crv": "P-384",
				"x": b64(k.ec.X.FillBytes(make([]byte, size))), "y": b64(k.ec.Y.FillBytes(make([]byte, size)))},
		}}
	default:
		http.NotFound(w, r)
		return true
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(out)
	return true
}

// webIdentityRequest is the decoded input of GetWebIdentityToken.
type webIdentityRequest struct {
	audience []string
	alg      string
	seconds  int
	tags     map[string]string
}

// parseWebIdentityRequest reads the query-protocol form, with the service's validation messages.
func parseWebIdentityRequest(form url.Values) (webIdentityRequest, error) {
	in := webIdentityRequest{seconds: webIdentityDefaultSeconds, tags: map[string]string{}}
	for i := 1; ; i++ {
		v, ok := form["Audience.member."+strconv.Itoa(i)]
		if !ok {
			break
		}
		in.audience = append(in.audience, v[0])
	}
	if len(in.audience) < 1 || len(in.audience) > webIdentityMaxAudiences {
		return in, fmt.Errorf("1 validation error detected: Value at 'audience' failed to satisfy constraint: Member must have length between 1 and %d", webIdentityMaxAudiences)
	}
	in.alg = form.Get("SigningAlgorithm")
	if in.alg != "RS256" && in.alg != "ES384" {
		return in, fmt.Errorf("1 validation error detected: Value '%s' at 'signingAlgorithm' failed to satisfy constraint: Member must satisfy enum value set: [RS256, ES384]", in.alg)
	}
	if s := form.Get("DurationSeconds"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < webIdentityMinDuration || n > webIdentityMaxDuration {
			return in, fmt.Errorf("1 validation error detected: Value '%s' at 'durationSeconds' failed to satisfy constraint: Member must have value between %d and %d", s, webIdentityMinDuration, webIdentityMaxDuration)
		}
		in.seconds = n
	}
	for i := 1; ; i++ {
		p := "Tags.member." + strconv.Itoa(i)
		k, ok := form[p+".Key"]
		if !ok {
			break
		}
		if i > webIdentityMaxTags {
			return in, fmt.Errorf("1 validation error detected: Value at 'tags' failed to satisfy constraint: Member must have length less than or equal to %d", webIdentityMaxTags)
		}
		v := form.Get(p + ".Value")
		if len(k[0]) < 1 || len(k[0]) > webIdentityMaxTagKey || len(v) > webIdentityMaxTagValue {
			return in, fmt.Errorf("1 validation error detected: Value at 'tags.%d' failed to satisfy constraint: key 1-%d characters, value at most %d", i, webIdentityMaxTagKey, webIdentityMaxTagValue)
		}
		in.tags[k[0]] = v
	}
	return in, nil
}

// roleARN turns an assumed-role session ARN into the role's ARN, the token's sub; other ARNs are
// returned as they are.
func roleARN(arn string) string {
	// arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION → arn:aws:iam::ACCOUNT:role/ROLE
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[2] != "sts" || !strings.HasPrefix(parts[5], "assumed-role/") {
		return arn
	}
	role, _, _ := strings.Cut(strings.TrimPrefix(parts[5], "assumed-role/"), "/")
	return strings.Join([]string{parts[0], parts[1], "iam", "", parts[4], "role/" + role}, ":")
}

// getWebIdentityToken answers GetWebIdentityToken for a verified caller.
func (a *AWS) getWebIdentityToken(w http.ResponseWriter, cred AWSCredential, form url.Values, rec *AWSRequest) {
	if serr := accessDenied(cred, "sts:GetWebIdentityToken", "*"); serr != nil {
		rec.Rejection = serr.reason
		writeSTSError(w, serr.status, "AccessDenied", serr.message)
		return
	}
	a.mu.Lock()
	off := a.federationOff
	a.mu.Unlock()
	if off {
		rec.Rejection = "federation_disabled"
		writeSTSError(w, http.StatusForbidden, "OutboundWebIdentityFederationDisabledException",
			"Outbound web identity federation is disabled for this account")
		return
	}
	in, err := parseWebIdentityRequest(form)
	if err != nil {
		rec.Rejection = "validation"
		writeSTSError(w, http.StatusBadRequest, "ValidationError", err.Error())
		return
	}
	k, err := a.keys()
	if err != nil {
		rec.Rejection = "internal"
		writeSTSError(w, http.StatusInternalServerError, "InternalFailure", "internal error")
		return
	}
	now := a.now().Truncate(time.Second)
	exp := now.Add(time.Duration(in.seconds) * time.Second)
	var aud any = in.audience
	if len(in.audience) == 1 {
		aud = in.audience[0]
	}
	aws := map[string]any{
		"aws_account":   a.cfg.AccountID,
		"source_region": a.cfg.Region,
		"principal_id":  roleARN(cred.ARN),
	}
	if len(in.tags) > 0 {
		aws["request_tags"] = in.tags
	}
	claims := jwt.MapClaims{
		"iss": a.WebIdentityIssuer(), "aud": aud, "sub": roleARN(cred.ARN),
		"iat": now.Unix(), "nbf": now.Unix(), "exp": exp.Unix(), "jti": newUUID(),
		webIdentityClaimNamespace: aws,
	}
	var method jwt.SigningMethod = jwt.SigningMethodRS256
	var key crypto.Signer = k.rsa
	kid := webIdentityRSAKid
	if in.alg == "ES384" {
		method, key, kid = jwt.SigningMethodES384, k.ec, webIdentityECKid
	}
	tok := jwt.NewWithClaims(method, claims)
	tok.Header["kid"] = kid
	signed, err := tok.SignedString(key)
	if err != nil {
		rec.Rejection = "internal"
		writeSTSError(w, http.StatusInternalServerError, "InternalFailure", "internal error")
		return
	}
	type result struct {
		WebIdentityToken string
		Expiration       string
	}
	writeSTSResult(w, "GetWebIdentityToken", result{WebIdentityToken: signed, Expiration: exp.UTC().Format(time.RFC3339)})
}
