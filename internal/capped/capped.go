// Package capped bounds what a peer's answer can make the proxy read: an
// answer body fails, with the caller's error, once more than a limit would
// be read, so an endless or oversized answer costs at most the limit in
// memory, however long the peer keeps sending.
package capped

import (
	"io"
	"net/http"
)

// Body returns rc, whose reads fail with tooLarge once more than max bytes
// would be read.
func Body(rc io.ReadCloser, max int64, tooLarge error) io.ReadCloser {
	return &body{ReadCloser: rc, left: max, err: tooLarge}
}

type body struct {
	io.ReadCloser
	left int64
	err  error
}

func (b *body) Read(p []byte) (int, error) {
	if b.left < 0 {
		return 0, b.err
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1] // one byte over the limit tells a larger body
	}
	n, err := b.ReadCloser.Read(p)
	if int64(n) > b.left {
		b.left = -1
		return 0, b.err
	}
	b.left -= int64(n)
	return n, err
}

// Transport caps every answer body of Base (nil: http.DefaultTransport) at
// Max bytes; reading past it fails with Err.
type Transport struct {
	Base http.RoundTripper
	Max  int64
	Err  error
}

// RoundTrip implements http.RoundTripper.
func (t Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	resp, err := base.RoundTrip(req)
	if err == nil && resp.Body != nil {
		resp.Body = Body(resp.Body, t.Max, t.Err)
	}
	return resp, err
}

// Doer is Transport for a client with a Do method, such as the AWS SDK's
// aws.HTTPClient.
type Doer struct {
	Base interface {
		Do(*http.Request) (*http.Response, error)
	}
	Max int64
	Err error
}

// Do sends req with Base and caps the answer's body.
func (d Doer) Do(req *http.Request) (*http.Response, error) {
	resp, err := d.Base.Do(req)
	if err == nil && resp.Body != nil {
		resp.Body = Body(resp.Body, d.Max, d.Err)
	}
	return resp, err
}
