// Package discovery finds where a client gets its tokens: the
// authorization server of a protected resource and what that server
// supports. It reads OpenID Connect discovery documents ([Discover]),
// OAuth 2.0 authorization server metadata (RFC 8414, [DiscoverAuthServer])
// and protected resource metadata (RFC 9728), and finds a protected
// resource's authorization server with no configuration, the way the MCP
// authorization specification describes ([DiscoverResource]): the
// resource's 401 challenge, its metadata, then its server's metadata. A
// resource names its own authorization server: [DiscoverResourceTrusting]
// decides whether to trust it before any request is made to it.
//
// [ParseChallenges] is the one WWW-Authenticate parser of agentcore-proxy
// (RFC 9110 §11.6.1): a malformed challenge is skipped, never the whole
// header, and a value longer than [MaxChallengeHeader] is not read.
// [ParseBearerChallenge] reads the Bearer challenge (RFC 6750 §3,
// RFC 9728 §5.1) that discovery, step-up (error="insufficient_scope",
// scope=...) and diagnosis need.
//
// Every URL discovery follows or returns is https, or plain http on a
// loopback host; metadata requests follow redirects only to such URLs on
// the host they asked, and read at most 1 MiB. Failures are a
// [*DiscoveryError] listing every URL tried, or wrap [ErrDiscovery],
// [ErrMetadata] or [ErrChallenge].
//
// The package knows no token cache: pair it with package tokencache, whose
// Config takes the token endpoint and the client authentication method
// ([Discovery.AuthMethod], [ServerMetadata.AuthMethodFor]) found here.
package discovery
