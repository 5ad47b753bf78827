package proxy

import "net/http"

// Request headers of MCP protocol 2026-07-28, which servers check against
// the body. The proxy passes them through unchanged, with any Mcp-Param-*
// header.
const (
	HeaderMCPMethod = "Mcp-Method"
	HeaderMCPName   = "Mcp-Name"
)

// preferHeaders overrides what was sniffed from the body with the
// Mcp-Method and Mcp-Name headers when the client sent them: they are what
// the server checks, and they are there even when the body is too large or
// cut off to sniff.
func (s *sniffed) preferHeaders(h http.Header) {
	if m := h.Get(HeaderMCPMethod); m != "" {
		s.method = m
	}
	if n := h.Get(HeaderMCPName); n != "" && s.method == "tools/call" {
		s.tool = n
	}
}
