package jwtcheck_test

import (
	"errors"
	"testing"

	"github.com/agentcore-proxy/agentcore-proxy/agentcore"
	"github.com/agentcore-proxy/agentcore-proxy/jwtcheck"
)

// TestRuleErrorReason: each sentinel of a token failure has the reason code
// of agentcore's catalogue, found with errors.As through any wrapping.
func TestRuleErrorReason(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{jwtcheck.ErrIDToken, agentcore.ReasonIDToken},
		{jwtcheck.ErrClientID, agentcore.ReasonClaimClientID},
		{jwtcheck.ErrAudience, agentcore.ReasonClaimAud},
		{jwtcheck.ErrIssuer, agentcore.ReasonClaimIss},
		{jwtcheck.ErrScope, agentcore.ReasonClaimScope},
		{jwtcheck.ErrCustomClaim, agentcore.ReasonClaimCustom},
		{jwtcheck.ErrExpired, agentcore.ReasonExpiredToken},
		{jwtcheck.ErrNotYetValid, agentcore.ReasonTokenNotYetValid},
		{jwtcheck.ErrSignature, agentcore.ReasonInvalidToken},
		{jwtcheck.ErrUnknownKey, agentcore.ReasonInvalidToken},
		{jwtcheck.ErrMalformed, agentcore.ReasonUnparseableToken},
		{jwtcheck.ErrKeySetNotLoaded, agentcore.ReasonJWKSUnavailable},
		{jwtcheck.ErrInvalidRules, ""},
	}
	for _, tt := range tests {
		err := errors.Join(errors.New("context"), &jwtcheck.RuleError{Err: tt.err, Problem: "p"})
		var r interface{ Reason() string }
		if !errors.As(err, &r) || r.Reason() != tt.want {
			t.Errorf("RuleError{Err: %v}.Reason() = %v, want %q", tt.err, r, tt.want)
		}
		if _, ok := agentcore.Lookup(tt.want); tt.want != "" && !ok {
			t.Errorf("reason %q of %v is not in agentcore.Catalogue()", tt.want, tt.err)
		}
	}
}
