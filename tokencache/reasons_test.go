package tokencache_test

import (
	"testing"

	"github.com/agentcore-proxy/agentcore-proxy/agentcore"
	"github.com/agentcore-proxy/agentcore-proxy/tokencache"
)

// TestReasonsInCatalogue: every reason code a TokenError gives is in
// agentcore's catalogue, which holds its fix.
func TestReasonsInCatalogue(t *testing.T) {
	for _, code := range []string{tokencache.ReasonInvalidClient, tokencache.ReasonInvalidScope, tokencache.ReasonUnauthorizedClient,
		tokencache.ReasonUnsupportedGrantType, tokencache.ReasonTokenEndpoint} {
		if _, ok := agentcore.Lookup(code); !ok {
			t.Errorf("reason %q is not in agentcore.Catalogue()", code)
		}
	}
}
