package proxy

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// SigV4Service is the signing name of the AgentCore data plane.
const SigV4Service = "bedrock-agentcore"

// DefaultMaxSignedBody is the largest body SigV4Transport signs when
// SigV4Options.MaxBodyBytes is 0: AgentCore's limit for one request.
const DefaultMaxSignedBody = 100 << 20

// emptySHA256 is the hex SHA-256 of no bytes, the payload hash of a request
// without a body.
const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// ErrSignedBodyTooLarge is returned for a request body over
// SigV4Options.MaxBodyBytes: it would have to be held in memory to be hashed.
var ErrSignedBodyTooLarge = errors.New("proxy: request body too large to sign")

// CredentialsError is a failure to obtain AWS credentials for signing. The
// request never left the proxy. Err comes from the credentials provider; for
// the SDK's default chain it names the sources it tried.
type CredentialsError struct{ Err error }

func (e *CredentialsError) Error() string { return "obtaining AWS credentials: " + e.Err.Error() }
func (e *CredentialsError) Unwrap() error { return e.Err }

// SigV4Options configures NewSigV4Transport.
type SigV4Options struct {
	// Credentials supplies the access key; required. It is wrapped in an
	// aws.CredentialsCache unless it is one already, or a wrapper of one
	// with its Invalidate method, so that temporary credentials are
	// fetched once and refreshed before they expire.
	Credentials aws.CredentialsProvider
	// Region is the signing region: the runtime ARN's. Required.
	Region string
	// Service is the signing name; default SigV4Service.
	Service string
	// MaxBodyBytes bounds the body read into memory to compute its hash
	// when it is not already held for replay; 0 means DefaultMaxSignedBody.
	MaxBodyBytes int64
	// Now is the signing clock; nil means time.Now.
	Now func() time.Time
}

// SigV4Transport signs every request with AWS Signature Version 4 before
// handing it to its base transport, the way AgentCore runtimes without a JWT
// authorizer require. The signature covers the method, the escaped path as
// sent (which the signer escapes once more, as every AWS service but S3
// expects), the query, every header present but User-Agent and
// X-Amzn-Trace-Id, and the SHA-256 of the body. Replies are passed on
// unread, so streams are not buffered. Each call signs anew, so the retries
// of the transports around it carry fresh signatures. A 403
// ExpiredTokenException for credentials the cache still holds drops them and,
// if the body can be sent again, retries once with fresh ones.
type SigV4Transport struct {
	base    http.RoundTripper
	creds   aws.CredentialsProvider
	signer  *v4.Signer
	region  string
	service string
	maxBody int64
	now     func() time.Time
}

// NewSigV4Transport returns a transport that signs requests and sends them
// with base (nil means NewTransport with default options).
func NewSigV4Transport(base http.RoundTripper, opts SigV4Options) (*SigV4Transport, error) {
	if opts.Credentials == nil {
		return nil, errors.New("proxy: SigV4Options.Credentials is required")
	}
	if opts.Region == "" {
		return nil, errors.New("proxy: SigV4Options.Region is required")
	}
	if base == nil {
		base = NewTransport(TransportOptions{})
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	creds := opts.Credentials
	if _, ok := creds.(invalidator); !ok {
		creds = aws.NewCredentialsCache(creds)
	}
	return &SigV4Transport{
		base:    base,
		creds:   creds,
		signer:  v4.NewSigner(),
		region:  opts.Region,
		service: cmp.Or(opts.Service, SigV4Service),
		maxBody: cmp.Or(opts.MaxBodyBytes, DefaultMaxSignedBody),
		now:     now,
	}, nil
}

// RoundTrip signs a copy of req and sends it.
func (t *SigV4Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	out, hash, err := t.withHashedBody(req)
	if err != nil {
		return nil, err
	}
	creds, err := t.creds.Retrieve(req.Context())
	if err != nil {
		closeBody(out)
		return nil, &CredentialsError{Err: err}
	}
	// Whatever a client sent in the signer's own headers would be signed
	// as is and contradict the signature.
	for _, h := range []string{"Authorization", "X-Amz-Date", "X-Amz-Security-Token", "X-Amz-Content-Sha256"} {
		out.Header.Del(h)
	}
	if err := t.signer.SignHTTP(req.Context(), creds, out, hash, t.service, t.region, t.now().UTC()); err != nil {
		closeBody(out)
		return nil, fmt.Errorf("proxy: signing the request: %w", err)
	}
	resp, err := t.base.RoundTrip(out)
	if err != nil || !credentialsExpired(resp) {
		return resp, err
	}
	// AWS refused credentials the cache still believed valid (revoked
	// early, or a clock that runs behind): fetch fresh ones and try once
	// more if the body can be sent again.
	cache, ok := t.creds.(invalidator)
	if !ok || out.GetBody == nil && out.Body != nil && out.Body != http.NoBody {
		return resp, nil
	}
	cache.Invalidate()
	fresh, err := cache.Retrieve(req.Context())
	if err != nil || fresh.AccessKeyID == creds.AccessKeyID && fresh.SessionToken == creds.SessionToken {
		return resp, nil
	}
	retry := out.Clone(req.Context())
	if out.GetBody != nil {
		if retry.Body, err = out.GetBody(); err != nil {
			return resp, nil
		}
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, diagnoseBytes))
	resp.Body.Close()
	for _, h := range []string{"Authorization", "X-Amz-Date", "X-Amz-Security-Token"} {
		retry.Header.Del(h)
	}
	if err := t.signer.SignHTTP(req.Context(), fresh, retry, hash, t.service, t.region, t.now().UTC()); err != nil {
		closeBody(retry)
		return nil, fmt.Errorf("proxy: signing the request: %w", err)
	}
	return t.base.RoundTrip(retry)
}

// invalidator is a credentials cache: an *aws.CredentialsCache, or a
// wrapper of one that keeps its Invalidate.
type invalidator interface {
	aws.CredentialsProvider
	Invalidate()
}

// credentialsExpired reports AWS's answer to a request signed with expired
// temporary credentials: 403 ExpiredTokenException (x-amzn-ErrorType may
// carry a ":" suffix with a documentation URL).
func credentialsExpired(resp *http.Response) bool {
	if resp.StatusCode != http.StatusForbidden {
		return false
	}
	typ, _, _ := strings.Cut(resp.Header.Get("X-Amzn-Errortype"), ":")
	return typ == "ExpiredTokenException"
}

// withHashedBody returns a copy of req whose body can be read from the
// start, and the body's hex SHA-256. A body the proxy keeps for replay is
// hashed from a fresh copy (GetBody); any other body must be read whole,
// since SigV4 puts its hash in a header sent before it (AgentCore has no
// unsigned or chunk-signed payloads, which are S3's), so it is held in
// memory up to maxBody and made replayable as a side benefit.
func (t *SigV4Transport) withHashedBody(req *http.Request) (*http.Request, string, error) {
	out := req.Clone(req.Context())
	if req.Body == nil || req.Body == http.NoBody {
		return out, emptySHA256, nil
	}
	if req.GetBody != nil {
		rc, err := req.GetBody()
		if err != nil {
			return nil, "", fmt.Errorf("proxy: rereading the request body to sign it: %w", err)
		}
		h := sha256.New()
		_, err = io.Copy(h, rc)
		rc.Close()
		if err != nil {
			return nil, "", fmt.Errorf("proxy: hashing the request body: %w", err)
		}
		return out, hex.EncodeToString(h.Sum(nil)), nil
	}
	buf, err := io.ReadAll(io.LimitReader(req.Body, t.maxBody+1))
	req.Body.Close()
	if err != nil {
		return nil, "", fmt.Errorf("proxy: reading the request body to sign it: %w", err)
	}
	if int64(len(buf)) > t.maxBody {
		return nil, "", fmt.Errorf("%w: more than %d bytes", ErrSignedBodyTooLarge, t.maxBody)
	}
	sum := sha256.Sum256(buf)
	out.ContentLength = int64(len(buf))
	out.Body = io.NopCloser(bytes.NewReader(buf))
	out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf)), nil }
	return out, hex.EncodeToString(sum[:]), nil
}

func closeBody(r *http.Request) {
	if r.Body != nil {
		r.Body.Close()
	}
}

// Region returns the signing region.
func (t *SigV4Transport) Region() string { return t.region }

// Service returns the signing name.
func (t *SigV4Transport) Service() string { return t.service }

// Credentials returns the cached credentials provider, so that a caller can
// check up front that credentials can be had (a doctor, or a start-up check).
func (t *SigV4Transport) Credentials() aws.CredentialsProvider { return t.creds }
