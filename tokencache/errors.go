package tokencache

import "errors"

// Reason codes of failures to obtain a token, as [TokenError.Reason]
// returns them. They are the codes of agentcore-proxy's reason catalogue
// (package agentcore), which holds the fix for each: what to change at the
// identity provider is its business, not this package's.
const (
	ReasonInvalidClient        = "token_invalid_client"
	ReasonInvalidScope         = "token_invalid_scope"
	ReasonUnauthorizedClient   = "token_unauthorized_client"
	ReasonUnsupportedGrantType = "token_unsupported_grant_type"
	ReasonTokenEndpoint        = "token_endpoint_error"
)

// TokenError is the error of a token request that failed: the token
// endpoint refused it (an RFC 6749 §5.2 error), was unreachable, answered
// a redirect or something that is not a usable token. Its message holds no
// credential: what the endpoint said is quoted through the cache's
// [Redactor].
//
// errors.Is matches its sentinel ([ErrInvalidClient], [ErrInvalidScope],
// [ErrUnauthorizedClient], [ErrUnsupportedGrantType], [ErrTokenRedirect] or
// [ErrTokenEndpoint]); errors.As reaches what x/oauth2 or net/http
// returned: *oauth2.RetrieveError for any answer with an error status,
// *secureurl.RedirectError for a redirect, *url.Error for a network
// failure. Beware that a RetrieveError's Body is the endpoint's answer
// unredacted: do not log it.
type TokenError struct {
	// Err is the sentinel.
	Err error
	// TokenURL is the token endpoint asked.
	TokenURL string
	// Status is the HTTP status of the answer, or 0 if none came.
	Status int
	// Code is the OAuth error code of the answer, such as
	// "invalid_client", or "".
	Code string

	msg   string // the whole message, redacted
	cause error  // what x/oauth2 or net/http returned; nil if it quoted a credential
	retry bool   // whether another attempt could help
}

// Error returns what failed, naming the endpoint, the status and the
// error code and description it answered.
func (e *TokenError) Error() string { return e.msg }

// Unwrap returns the sentinel and, if any, the error of x/oauth2 or
// net/http.
func (e *TokenError) Unwrap() []error {
	if e.cause == nil {
		return []error{e.Err}
	}
	return []error{e.Err, e.cause}
}

// Reason returns the reason code of the failure: one of the Reason*
// constants.
func (e *TokenError) Reason() string {
	for _, r := range reasons {
		if errors.Is(e.Err, r.err) {
			return r.code
		}
	}
	return ReasonTokenEndpoint
}

// reasons map sentinels to reason codes.
var reasons = []struct {
	err  error
	code string
}{
	{ErrInvalidClient, ReasonInvalidClient},
	{ErrInvalidScope, ReasonInvalidScope},
	{ErrUnauthorizedClient, ReasonUnauthorizedClient},
	{ErrUnsupportedGrantType, ReasonUnsupportedGrantType},
}
