package emulator

import (
	"bytes"
	"cmp"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// This file verifies AWS Signature Version 4 the way an AWS front door does, written from the
// specification ("Create a signed AWS API request" and "Elements of an AWS API request signature" in
// the IAM user guide), not with the SDK's signer, so that the fakes catch a signer that is wrong in
// the same way as the SDK would be.

// AWSCredential is an access key the fakes know, with the identity it stands for.
type AWSCredential struct {
	AccessKeyID     string
	SecretAccessKey string
	// SessionToken, if set, must arrive as X-Amz-Security-Token (temporary credentials).
	SessionToken string
	// ARN is the caller's identity, e.g. arn:aws:sts::123456789012:assumed-role/agentcore-proxy/task.
	ARN string
	// UserID is what GetCallerIdentity returns as UserId, e.g. AROAEXAMPLE:task.
	UserID string
	// Denied lists IAM actions this identity lacks, e.g. "bedrock-agentcore:InvokeAgentRuntime",
	// "ssm:GetParameter", "kms:Decrypt", "secretsmanager:GetSecretValue".
	Denied []string
}

// DefaultAWSCredential is the access key the emulator knows when Config.AWSCredentials is empty.
// The values are the documentation examples of the IAM user guide, never real keys.
var DefaultAWSCredential = AWSCredential{
	AccessKeyID:     "AKIAIOSFODNN7EXAMPLE",
	SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
	ARN:             "arn:aws:sts::123456789012:assumed-role/agentcore-proxy/emulator",
	UserID:          "AROAEMULATOREXAMPLE:emulator",
}

// Reason codes of the SigV4 verifier, in Stats.Rejections and Invocation.Rejection.
const (
	ReasonSigV4Missing        = "sigv4_missing"       // no AWS4-HMAC-SHA256 Authorization
	ReasonSigV4Malformed      = "sigv4_malformed"     // Authorization or X-Amz-Date unreadable
	ReasonSigV4UnknownKey     = "sigv4_unknown_key"   // access key id not known
	ReasonSigV4ExpiredToken   = "sigv4_expired_token" // the credential's session has expired
	ReasonSigV4Scope          = "sigv4_scope"         // wrong region, service or date in the scope
	ReasonSigV4ClockSkew      = "sigv4_clock_skew"    // X-Amz-Date more than 5 minutes off
	ReasonSigV4Mismatch       = "sigv4_mismatch"      // the signature does not match
	ReasonSigV4AccessDenied   = "sigv4_access_denied" // signed correctly, action not allowed
	ReasonOAuthRuntimeGotAWS4 = "oauth_runtime_sigv4" // a SigV4 request to an OAuth runtime
	maxClockSkew              = 5 * time.Minute       // documented: "within 5 minutes of the AWS system time"
	sigv4Algorithm            = "AWS4-HMAC-SHA256"    //
	amzDateLayout             = "20060102T150405Z"    // ISO 8601 basic, as X-Amz-Date carries it
	sigMismatchMessage        = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)

// sigv4Error is a refused signature: the reason code, status, AWS error code and message. Each fake
// renders it in its own protocol (restJson {"message"}, JSON 1.1 {"__type"}, query XML).
type sigv4Error struct {
	reason, code, message string
	status                int
}

func (e *sigv4Error) Error() string { return e.code + ": " + e.message }

// credentialStore holds the known access keys and their state; safe for concurrent use.
type credentialStore struct {
	mu      sync.Mutex
	byKey   map[string]AWSCredential
	expired map[string]bool
}

func newCredentialStore(creds []AWSCredential) *credentialStore {
	s := &credentialStore{byKey: map[string]AWSCredential{}, expired: map[string]bool{}}
	if len(creds) == 0 {
		creds = []AWSCredential{DefaultAWSCredential}
	}
	for _, c := range creds {
		c.Denied = slices.Clone(c.Denied)
		s.byKey[c.AccessKeyID] = c
	}
	return s
}

func (s *credentialStore) lookup(id string) (AWSCredential, bool, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.byKey[id]
	return c, ok, s.expired[id]
}

func (s *credentialStore) expire(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expired[id] = true
}

func (s *credentialStore) setDenied(id string, actions []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.byKey[id]; ok {
		c.Denied = slices.Clone(actions)
		s.byKey[id] = c
	}
}

// sigv4Verifier checks SigV4 signatures against a credential store.
type sigv4Verifier struct {
	creds *credentialStore
	now   func() time.Time
}

// readBody reads a request's body and puts it back, for hashing before the handler reads it.
func readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	b, err := io.ReadAll(r.Body)
	r.Body.Close()
	r.Body = io.NopCloser(bytes.NewReader(b))
	return b, err
}

// verify checks r, whose body is body, as a SigV4 request for service in region, and returns the
// signing identity. The messages and error codes copy what AWS services answer; which of them are
// documented and which are chosen is said at each.
func (v *sigv4Verifier) verify(r *http.Request, body []byte, service, region string) (AWSCredential, *sigv4Error) {
	auth := r.Header.Get("Authorization")
	algo, params, _ := strings.Cut(auth, " ")
	if algo != sigv4Algorithm {
		// Documented for API Gateway-fronted services; AgentCore answers a bearer on a SigV4 runtime
		// differently (mismatch), this is for requests with no credentials at all.
		return AWSCredential{}, &sigv4Error{ReasonSigV4Missing, "MissingAuthenticationTokenException", "Missing Authentication Token", http.StatusForbidden}
	}
	fields := map[string]string{}
	for p := range strings.SplitSeq(params, ",") {
		k, val, _ := strings.Cut(strings.TrimSpace(p), "=")
		fields[k] = val
	}
	cred, signedList, sig := fields["Credential"], fields["SignedHeaders"], fields["Signature"]
	scope := strings.Split(cred, "/")
	if len(scope) != 5 || signedList == "" || sig == "" {
		// Chosen wording, after AWS's IncompleteSignatureException messages.
		return AWSCredential{}, &sigv4Error{ReasonSigV4Malformed, "IncompleteSignatureException",
			"Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters. Authorization=" + algo, http.StatusForbidden}
	}
	keyID, date, scopeRegion, scopeService, term := scope[0], scope[1], scope[2], scope[3], scope[4]
	amzDate := r.Header.Get("X-Amz-Date")
	when, err := time.Parse(amzDateLayout, amzDate)
	if err != nil {
		return AWSCredential{}, &sigv4Error{ReasonSigV4Malformed, "IncompleteSignatureException",
			"Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.", http.StatusForbidden}
	}
	known, ok, expired := v.creds.lookup(keyID)
	switch {
	case !ok:
		// Documented message of UnrecognizedClientException for an unknown access key.
		return AWSCredential{}, &sigv4Error{ReasonSigV4UnknownKey, "UnrecognizedClientException", "The security token included in the request is invalid.", http.StatusForbidden}
	case expired:
		// Documented message of ExpiredTokenException.
		return AWSCredential{}, &sigv4Error{ReasonSigV4ExpiredToken, "ExpiredTokenException", "The security token included in the request is expired", http.StatusForbidden}
	case known.SessionToken != "" && r.Header.Get("X-Amz-Security-Token") != known.SessionToken:
		return AWSCredential{}, &sigv4Error{ReasonSigV4UnknownKey, "UnrecognizedClientException", "The security token included in the request is invalid.", http.StatusForbidden}
	case term != "aws4_request" || date != when.Format("20060102"):
		return AWSCredential{}, &sigv4Error{ReasonSigV4Scope, "InvalidSignatureException",
			fmt.Sprintf("Credential should be scoped to a valid date: '%s'.", when.Format("20060102")), http.StatusForbidden}
	case scopeRegion != region:
		// Documented wording ("Credential should be scoped to a valid region").
		return AWSCredential{}, &sigv4Error{ReasonSigV4Scope, "InvalidSignatureException",
			fmt.Sprintf("Credential should be scoped to a valid region. (wanted '%s', got '%s')", region, scopeRegion), http.StatusForbidden}
	case scopeService != service:
		return AWSCredential{}, &sigv4Error{ReasonSigV4Scope, "InvalidSignatureException",
			fmt.Sprintf("Credential should be scoped to correct service: '%s'.", service), http.StatusForbidden}
	}
	if now := v.now(); now.Sub(when) > maxClockSkew || when.Sub(now) > maxClockSkew {
		// Documented message shape; AWS sends it as InvalidSignatureException (JSON services) or
		// SignatureDoesNotMatch (query services); we use InvalidSignatureException everywhere but STS.
		return AWSCredential{}, &sigv4Error{ReasonSigV4ClockSkew, "InvalidSignatureException", fmt.Sprintf(
			"Signature expired: %s is now earlier than %s (%s - 5 min.)", amzDate,
			now.Add(-maxClockSkew).UTC().Format(amzDateLayout), now.UTC().Format(amzDateLayout)), http.StatusForbidden}
	}

	signed := strings.Split(signedList, ";")
	mismatch := &sigv4Error{ReasonSigV4Mismatch, "InvalidSignatureException", sigMismatchMessage, http.StatusForbidden}
	// The specification requires host and x-amz-date (or date) to be signed, and the session token
	// when one is sent; a request that leaves them out is refused like a wrong signature (chosen).
	if !slices.Contains(signed, "host") || !slices.Contains(signed, "x-amz-date") ||
		r.Header.Get("X-Amz-Security-Token") != "" && !slices.Contains(signed, "x-amz-security-token") ||
		!slices.IsSorted(signed) {
		return known, mismatch
	}
	sum := sha256.Sum256(body)
	payloadHash := hex.EncodeToString(sum[:])
	if h := r.Header.Get("X-Amz-Content-Sha256"); h != "" && h != payloadHash {
		// S3 checks the declared hash against the body; we do for every service (chosen).
		return known, &sigv4Error{ReasonSigV4Mismatch, "InvalidSignatureException", "The provided 'x-amz-content-sha256' header does not match what was computed.", http.StatusBadRequest}
	}
	canonical := canonicalRequest(r, signed, payloadHash)
	stringToSign := sigv4Algorithm + "\n" + amzDate + "\n" + strings.Join(scope[1:], "/") + "\n" + hexSHA256(canonical)
	key := sigv4SigningKey(known.SecretAccessKey, date, scopeRegion, scopeService)
	want := hex.EncodeToString(hmacSHA256(key, stringToSign))
	if !hmac.Equal([]byte(want), []byte(sig)) {
		return known, mismatch
	}
	return known, nil
}

// canonicalRequest builds the SigV4 canonical request of r from the names in signed.
func canonicalRequest(r *http.Request, signed []string, payloadHash string) string {
	var b strings.Builder
	b.WriteString(r.Method + "\n")
	b.WriteString(canonicalURI(r.URL.EscapedPath()) + "\n")
	b.WriteString(canonicalQuery(r.URL.RawQuery) + "\n")
	for _, name := range signed {
		b.WriteString(name + ":" + canonicalHeaderValue(r, name) + "\n")
	}
	b.WriteString("\n" + strings.Join(signed, ";") + "\n" + payloadHash)
	return b.String()
}

// canonicalURI encodes the path as received (already percent-encoded) once more, segment by segment,
// as every service but S3 does: "%3A" becomes "%253A". An empty path is "/".
func canonicalURI(escapedPath string) string {
	if escapedPath == "" {
		return "/"
	}
	segs := strings.Split(escapedPath, "/")
	for i, s := range segs {
		segs[i] = uriEncode(s)
	}
	return strings.Join(segs, "/")
}

// canonicalQuery decodes the query's names and values, encodes them strictly and sorts by name,
// then value.
func canonicalQuery(raw string) string {
	if raw == "" {
		return ""
	}
	var pairs [][2]string
	for p := range strings.SplitSeq(raw, "&") {
		if p == "" {
			continue
		}
		k, val, _ := strings.Cut(p, "=")
		k, _ = url.QueryUnescape(k)
		val, _ = url.QueryUnescape(val)
		pairs = append(pairs, [2]string{uriEncode(k), uriEncode(val)})
	}
	slices.SortFunc(pairs, func(a, b [2]string) int { return cmp.Or(strings.Compare(a[0], b[0]), strings.Compare(a[1], b[1])) })
	out := make([]string, len(pairs))
	for i, p := range pairs {
		out[i] = p[0] + "=" + p[1]
	}
	return strings.Join(out, "&")
}

// canonicalHeaderValue returns a header's values trimmed, inner runs of spaces collapsed, joined by
// commas. Go's server moves Host out of the header map and keeps Content-Length in it.
func canonicalHeaderValue(r *http.Request, name string) string {
	switch name {
	case "host":
		return r.Host
	case "content-length":
		if r.Header.Get("Content-Length") == "" && r.ContentLength >= 0 {
			return strconv.FormatInt(r.ContentLength, 10)
		}
	}
	vals := r.Header.Values(name)
	out := make([]string, len(vals))
	for i, v := range vals {
		out[i] = strings.Join(strings.Fields(v), " ")
	}
	return strings.Join(out, ",")
}

// uriEncode encodes every byte but the unreserved characters of RFC 3986, with upper-case hex.
func uriEncode(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

// sigv4SigningKey derives the SigV4 signing key: HMAC chain over date, region, service and "aws4_request"
// starting from "AWS4" + the secret access key.
func sigv4SigningKey(secret, date, region, service string) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), date)
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, service)
	return hmacSHA256(k, "aws4_request")
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

func hexSHA256(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// accessDenied is IAM's answer to a correctly signed request whose identity lacks action; the message
// is the documented shape of AWS's AccessDeniedException.
func accessDenied(c AWSCredential, action, resource string) *sigv4Error {
	if !slices.Contains(c.Denied, action) {
		return nil
	}
	return &sigv4Error{ReasonSigV4AccessDenied, "AccessDeniedException", fmt.Sprintf(
		"User: %s is not authorized to perform: %s on resource: %s because no identity-based policy allows the %s action",
		c.ARN, action, resource, action), http.StatusForbidden}
}
