// Package agentcore describes what AWS Bedrock AgentCore Runtime is, as far
// as a client needs to know: runtime ARNs and the invocation URL they are
// escaped into, the headers with rules of their own, and the catalogue of
// failure reasons that agentcore-proxy explains, each with its HTTP status,
// cause and fix. It is a leaf package: it imports only the standard library.
package agentcore

import (
	"regexp"
	"strings"
)

// Headers with rules of their own.
const (
	// HeaderRuntimeSessionID routes requests to one runtime session (microVM).
	HeaderRuntimeSessionID = "X-Amzn-Bedrock-AgentCore-Runtime-Session-Id"
	// HeaderMCPSessionID is MCP's session header; AgentCore always returns one.
	HeaderMCPSessionID = "Mcp-Session-Id"
)

// Runtime session ids outside these bounds get 400 ValidationException.
const (
	MinRuntimeSessionID = 33
	MaxRuntimeSessionID = 256
)

// endpointRe matches AgentCore data-plane hosts and captures the region.
var endpointRe = regexp.MustCompile(`^bedrock-agentcore(-fips)?\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$`)

// EndpointRegion returns the region of an AgentCore data-plane host name such
// as bedrock-agentcore.us-west-2.amazonaws.com; ok is false for other hosts
// (a custom endpoint, an emulator).
func EndpointRegion(host string) (region string, ok bool) {
	m := endpointRe.FindStringSubmatch(strings.ToLower(host))
	if m == nil {
		return "", false
	}
	return m[2], true
}

// Setting names a configuration setting that a fix may ask the user to
// change. Callers render it in their own words (a flag, a YAML key) with a
// Namer; Render substitutes "{setting}" placeholders in a template.
type Setting string

// The settings fixes refer to.
const (
	SettingRuntimeARN   Setting = "runtime_arn"
	SettingQualifier    Setting = "qualifier"
	SettingEndpointURL  Setting = "endpoint_url"
	SettingUpstreamURL  Setting = "upstream_url"
	SettingDiscoveryURL Setting = "discovery_url"
	SettingTokenURL     Setting = "token_url"
	SettingClientID     Setting = "client_id"
	SettingClientSecret Setting = "client_secret"
	SettingScope        Setting = "scope"
	SettingMaxBodyBytes Setting = "max_body_bytes"
	// OAuth settings beyond Cognito's (issue 11).
	SettingTokenAuthStyle Setting = "token_auth_style"
	SettingClientKey      Setting = "client_key_file"
	SettingAssertionAud   Setting = "client_assertion_aud"
	SettingResource       Setting = "resource"
	SettingAudience       Setting = "audience"
	// SettingStepUp turns a route's scope step-up on or off.
	SettingStepUp Setting = "step_up"
	// SettingAuth is the route's authentication mode: oauth, sigv4 or none.
	SettingAuth Setting = "auth"
	// SettingIssuer is the issuer of the authorization server the route's
	// client credentials belong to.
	SettingIssuer Setting = "issuer"
	// SettingBodyReadTimeout bounds how long a request body may take to
	// arrive.
	SettingBodyReadTimeout Setting = "body_read_timeout"
)

// Settings lists every Setting, in a fixed order.
func Settings() []Setting {
	return []Setting{SettingRuntimeARN, SettingQualifier, SettingEndpointURL, SettingUpstreamURL, SettingDiscoveryURL,
		SettingTokenURL, SettingClientID, SettingClientSecret, SettingScope, SettingMaxBodyBytes,
		SettingTokenAuthStyle, SettingClientKey, SettingAssertionAud, SettingResource, SettingAudience, SettingAuth, SettingStepUp,
		SettingIssuer, SettingBodyReadTimeout}
}

// A Namer returns the name a user knows a setting by, such as "--client-id"
// or "auth.client_id".
type Namer func(Setting) string

// PlainNames names each setting by its key, e.g. "client_id".
func PlainNames(s Setting) string { return string(s) }

// Render replaces each "{setting}" placeholder in template with its name.
// A nil names means PlainNames. Braces that name no Setting stay as they are.
func Render(template string, names Namer) string {
	if names == nil {
		names = PlainNames
	}
	if !strings.Contains(template, "{") {
		return template
	}
	var b strings.Builder
	rest := template
	for {
		open := strings.IndexByte(rest, '{')
		if open < 0 {
			break
		}
		end := strings.IndexByte(rest[open:], '}')
		if end < 0 {
			break
		}
		key := Setting(rest[open+1 : open+end])
		b.WriteString(rest[:open])
		if isSetting(key) {
			b.WriteString(names(key))
		} else {
			b.WriteString(rest[open : open+end+1])
		}
		rest = rest[open+end+1:]
	}
	b.WriteString(rest)
	return b.String()
}

func isSetting(s Setting) bool {
	for _, k := range Settings() {
		if k == s {
			return true
		}
	}
	return false
}
