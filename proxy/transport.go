package proxy

import (
	"cmp"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/agentcore-proxy/agentcore-proxy/agentcore"
)

// TokenSource supplies bearer tokens. *tokencache.Cache implements it. A
// Token error that implements Reason() string (a code of the agentcore
// catalogue) labels the failure in the X-Agentcore-Proxy-Diagnosis header,
// the OnDiagnosis hook and the log.
type TokenSource interface {
	// Token returns a token that is valid now; ctx bounds only the wait.
	Token(ctx context.Context) (string, error)
	// Invalidate reports that the upstream refused token, so that the next
	// Token call fetches a new one.
	Invalidate(token string)
}

// TokenError is a failure to obtain a bearer token for a request. The
// request never left the proxy.
type TokenError struct{ Err error }

func (e *TokenError) Error() string { return "obtaining an access token: " + e.Err.Error() }
func (e *TokenError) Unwrap() error { return e.Err }

// TransportOptions bound the upstream transport's waits. Zero values take
// the defaults.
type TransportOptions struct {
	// DialTimeout bounds connecting; default 10 s.
	DialTimeout time.Duration
	// TLSHandshakeTimeout bounds the TLS handshake; default 10 s.
	TLSHandshakeTimeout time.Duration
	// ResponseHeaderTimeout bounds the wait for the answer's headers once
	// the request is sent; default none, since a synchronous AgentCore
	// call may take up to 15 minutes.
	ResponseHeaderTimeout time.Duration
}

// NewTransport returns an upstream transport: a clone of
// http.DefaultTransport with bounded dial and TLS handshake times and
// compression off, so that an SSE stream is never held back by a gzip
// reader.
func NewTransport(opts TransportOptions) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: cmp.Or(opts.DialTimeout, 10*time.Second), KeepAlive: 30 * time.Second}).DialContext
	t.TLSHandshakeTimeout = cmp.Or(opts.TLSHandshakeTimeout, 10*time.Second)
	t.ResponseHeaderTimeout = opts.ResponseHeaderTimeout
	t.DisableCompression = true
	t.MaxIdleConnsPerHost = 64
	return t
}

// bearerTransport adds the bearer token to each request and, when the
// upstream answers 401 because the token is invalid or expired although we
// believed it valid, drops that token and tries once more with a fresh one
// if the body can be sent again. A claim mismatch is not retried: the same
// client would get a token with the same claims.
type bearerTransport struct {
	base     http.RoundTripper
	tokens   TokenSource
	upstream UpstreamContext
}

func (t *bearerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	// The proxy's own requests carry the token rewrite attached; requests
	// the transports make themselves (session recovery) get one here.
	token, ok := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer ")
	if !ok || token == "" {
		var err error
		if token, err = t.tokens.Token(req.Context()); err != nil {
			return nil, &TokenError{Err: err}
		}
		req = withBearer(req, token, req.Body)
	}
	resp, err := t.base.RoundTrip(req)
	if err == nil && resp.StatusCode == http.StatusForbidden {
		return t.stepUp(req, resp)
	}
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}
	if !t.freshTokenCouldHelp(resp) {
		return resp, nil
	}
	body, replayable := replayBody(req)
	if !replayable {
		return resp, nil
	}
	t.tokens.Invalidate(token)
	fresh, err := t.tokens.Token(req.Context())
	if err != nil || fresh == token {
		// No better token to offer: let the client see the upstream's answer.
		if body != nil {
			body.Close()
		}
		return resp, nil
	}
	return t.resend(req, resp, fresh, body)
}

// resend drops the upstream's answer resp, draining a little of it so that
// the connection can be reused, and sends req again with token and body.
func (t *bearerTransport) resend(req *http.Request, resp *http.Response, token string, body io.ReadCloser) (*http.Response, error) {
	io.Copy(io.Discard, io.LimitReader(resp.Body, diagnoseBytes))
	resp.Body.Close()
	return t.base.RoundTrip(withBearer(req, token, body))
}

// freshTokenCouldHelp reads the start of a 401 answer, puts it back, and
// reports whether the upstream refused the token as invalid or expired.
func (t *bearerTransport) freshTokenCouldHelp(resp *http.Response) bool {
	prefix, _ := io.ReadAll(io.LimitReader(resp.Body, diagnoseBytes))
	resp.Body = prefixedBody(prefix, resp.Body)
	d, ok := Diagnose(resp.StatusCode, resp.Header, prefix, t.upstream)
	return ok && (d.Reason == agentcore.ReasonExpiredToken || d.Reason == agentcore.ReasonInvalidToken)
}

// replayBody returns a fresh copy of req's body, and whether the request can
// be sent again at all.
func replayBody(req *http.Request) (io.ReadCloser, bool) {
	if req.Body == nil || req.Body == http.NoBody {
		return nil, true
	}
	if req.GetBody == nil {
		return nil, false
	}
	b, err := req.GetBody()
	if err != nil {
		return nil, false
	}
	return b, true
}

func withBearer(req *http.Request, token string, body io.ReadCloser) *http.Request {
	out := req.Clone(req.Context())
	out.Body = body
	out.Header.Set("Authorization", "Bearer "+token)
	return out
}

// errorStatus maps a proxying failure to an HTTP status and a JSON-RPC error
// code and message for the client.
func errorStatus(err error) (status, code int, msg string) {
	var te *TokenError
	var ce *CredentialsError
	var ne net.Error
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe) || strings.Contains(err.Error(), "request body too large"):
		return http.StatusRequestEntityTooLarge, CodeInvalidRequest, "agentcore-proxy: the request body is larger than the proxy allows"
	case errors.Is(err, ErrSignedBodyTooLarge):
		return http.StatusRequestEntityTooLarge, CodeInvalidRequest, "agentcore-proxy: the request body is larger than a signed request may be"
	case errors.As(err, &ce):
		return http.StatusServiceUnavailable, CodeAuth, "agentcore-proxy could not obtain AWS credentials: " + ce.Err.Error()
	case errors.As(err, &te):
		return http.StatusServiceUnavailable, CodeAuth, "agentcore-proxy could not obtain an access token: " + te.Err.Error()
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return http.StatusGatewayTimeout, CodeUpstream, "agentcore-proxy: the upstream did not answer in time: " + err.Error()
	default:
		return http.StatusBadGateway, CodeUpstream, "agentcore-proxy could not reach the upstream: " + err.Error()
	}
}
