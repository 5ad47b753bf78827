package route

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/agentcore-proxy/agentcore-proxy/internal/awssecrets"
	"github.com/agentcore-proxy/agentcore-proxy/internal/config"
	"github.com/agentcore-proxy/agentcore-proxy/internal/redact"
	"github.com/agentcore-proxy/agentcore-proxy/proxy"
	"github.com/agentcore-proxy/agentcore-proxy/tokencache"
)

// SigV4Route is a route's AWS signing: the transport that signs each
// request, and who signs.
type SigV4Route struct {
	Transport *proxy.SigV4Transport
	// KeyFingerprint identifies the access key that signed at start.
	KeyFingerprint string
}

// SigV4 builds route r's signing transport over base: the default AWS
// credential chain (r.SigV4.Profile, else AWS_PROFILE), signing for
// bedrock-agentcore in the ARN's region. It retrieves credentials once, so
// that a start without any fails here, naming the sources tried.
func (a *AuthSetup) SigV4(ctx context.Context, r config.Resolved, base http.RoundTripper, maxBody int64) (*SigV4Route, error) {
	field := r.Names()(config.SettingAuth)
	cfg := aws.Config{Credentials: a.withRedaction(a.opts.AWSCredentials)}
	if cfg.Credentials == nil {
		var err error
		if cfg, err = a.AWSConfig(ctx, r.SigV4.Profile, r.SigV4.Region); err != nil {
			return nil, fmt.Errorf("%s sigv4 (route %s): %w", field, r.Name, err)
		}
	}
	fp, err := awssecrets.CheckCredentials(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("%s sigv4 (route %s): %w", field, r.Name, explainNoCredentials(err))
	}
	t, err := proxy.NewSigV4Transport(base, proxy.SigV4Options{Credentials: cfg.Credentials, Region: r.SigV4.Region, MaxBodyBytes: maxBody})
	if err != nil {
		return nil, fmt.Errorf("route %s: %w", r.Name, err)
	}
	a.opts.Logger.Info("route signs its requests with AWS SigV4", "route", r.Name, "service", t.Service(), "region", t.Region(),
		"access_key_fingerprint", fp)
	return &SigV4Route{Transport: t, KeyFingerprint: fp}, nil
}

// explainNoCredentials says which credential sources were tried and how to
// give one.
func explainNoCredentials(err error) error {
	nc, ok := err.(*awssecrets.NoCredentialsError)
	if !ok {
		return err
	}
	return fmt.Errorf("no AWS credentials found; tried, in order: %s. Give the proxy an IAM role (ECS task role, EKS IRSA or Pod Identity, EC2 instance profile), or set AWS_PROFILE (--aws-profile) or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (%v)",
		strings.Join(nc.Tried, "; "), nc.Err)
}

// signerState is what readiness and the status page show of a SigV4 route:
// whether credentials can be had now, and whose.
func (sr *SigV4Route) signerState(ctx context.Context) (fingerprint string, err error) {
	c, err := sr.Transport.Credentials().Retrieve(ctx)
	if err != nil {
		return "", err
	}
	return tokencache.Fingerprint(c.AccessKeyID), nil
}

// credentialsWait bounds how long readiness waits for credentials: the
// cache answers at once unless they must be refreshed.
const credentialsWait = 5 * time.Second

// Readiness reports whether credentials can be had now, and whose.
func (sr *SigV4Route) Readiness() Readiness {
	ctx, cancel := context.WithTimeout(context.Background(), credentialsWait)
	defer cancel()
	fp, err := sr.signerState(ctx)
	rr := Readiness{Ready: err == nil, Auth: config.AuthSigV4, SignerFingerprint: fp}
	if err != nil {
		rr.Reason = "no AWS credentials: " + err.Error()
	}
	return rr
}

// Signing says how the route signs, for the status page, and whether it
// can now.
func (sr *SigV4Route) Signing() (string, bool) {
	rr := sr.Readiness()
	s := fmt.Sprintf("AWS SigV4 (%s, %s), access key %s", sr.Transport.Service(), sr.Transport.Region(), rr.SignerFingerprint)
	if !rr.Ready {
		s = fmt.Sprintf("AWS SigV4 (%s, %s): %s", sr.Transport.Service(), sr.Transport.Region(), rr.Reason)
	}
	return s, rr.Ready
}

// redactingCredentials hands out AWS credentials from a cache and registers
// each secret access key and session token it hands out with a Redactor: an
// AWS error may quote them (a SignatureDoesNotMatch answer quotes the
// canonical request, whose X-Amz-Security-Token header is the session
// token). It keeps the cache's Invalidate, which SigV4Transport calls when
// AWS refuses credentials as expired.
type redactingCredentials struct {
	cache *aws.CredentialsCache
	set   *redact.Set
}

// withRedaction returns p registering what it hands out with a's Redactor.
func (a *AuthSetup) withRedaction(p aws.CredentialsProvider) aws.CredentialsProvider {
	if p == nil {
		return nil
	}
	if rc, ok := p.(*redactingCredentials); ok {
		return rc
	}
	cache, ok := p.(*aws.CredentialsCache)
	if !ok {
		cache = aws.NewCredentialsCache(p)
	}
	return &redactingCredentials{cache: cache, set: a.awsCreds}
}

// Retrieve returns the cached credentials, registering them.
func (c *redactingCredentials) Retrieve(ctx context.Context) (aws.Credentials, error) {
	cr, err := c.cache.Retrieve(ctx)
	if err == nil {
		c.set.AddAWS(cr.SecretAccessKey, cr.SessionToken)
	}
	return cr, err
}

// Invalidate drops the cached credentials.
func (c *redactingCredentials) Invalidate() { c.cache.Invalidate() }
