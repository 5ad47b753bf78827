package tokencache

import "github.com/agentcore-proxy/agentcore-proxy/internal/redact"

// Redactor keeps the credentials a [Cache] holds out of the text it quotes
// from the token endpoint (error_description, error bodies, network errors)
// and logs. The Cache registers what it holds as it gets it: the client
// secret at New and after each rotation, each access token as it arrives,
// each client assertion as it is made, and the private key. A program with
// several credential holders shares one Redactor among them, so that each
// one's text is cleaned of all the others' credentials too.
type Redactor interface {
	// AddSecret registers the client secret of clientID, to be replaced
	// plain, URL-encoded and inside HTTP Basic credentials.
	AddSecret(clientID, secret string)
	// AddToken registers a token received or sent. A Redactor may forget
	// old tokens, which expire.
	AddToken(token string)
	// AddKey registers a private key by its DER encoding, labelled with
	// fingerprint.
	AddKey(fingerprint string, der []byte)
	// Redact returns text with every registered credential replaced by a
	// fingerprint, such as "[token sha256:1a2b3c4d]".
	Redact(text string) string
}

// newRedactor returns a Redactor of the cache's own, for a Config without one.
func newRedactor() Redactor { return redact.New().NewSet(0) }
