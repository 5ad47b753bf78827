package jwtcheck_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/agentcore-proxy/agentcore-proxy/jwtcheck"
)

// An ID token sent to a runtime that allows clients: the classic cause of
// AgentCore's "Claim 'client_id' value mismatch".
func Example() {
	now := time.Date(2026, 1, 2, 15, 0, 0, 0, time.UTC)
	issuer := "https://cognito-idp.us-west-2.amazonaws.com/us-west-2_AbCdEf123"
	idToken := &jwtcheck.Claims{
		Issuer:    issuer,
		Subject:   "5f1c0b7e-user",
		Audience:  []string{"my-app-client"},
		TokenUse:  "id",
		ExpiresAt: now.Add(time.Hour),
	}
	rules := jwtcheck.Rules{AllowedClients: []string{"my-app-client"}}

	err := jwtcheck.CheckClaims(idToken, issuer, rules, now, 5*time.Second)
	fmt.Println(err)
	fmt.Println("ID token:", errors.Is(err, jwtcheck.ErrIDToken), "client_id mismatch:", errors.Is(err, jwtcheck.ErrClientID))
	var re *jwtcheck.RuleError
	if errors.As(err, &re) {
		fmt.Printf("claim %s: got %q, want %s\n", re.Claim, re.Got, re.Want)
	}

	// Output:
	// jwtcheck: token is an ID token (token_use=id, aud=[my-app-client], no client_id): the runtime allows clients [my-app-client] (allowedClients): request an access token with the client_credentials grant (an ID token has no client_id claim; AgentCore answers 'Claim 'client_id' value mismatch')
	// ID token: true client_id mismatch: true
	// claim client_id: got "", want [my-app-client]
}

// A Checker lives as long as the context given to New. It does not wait for
// the key set: wait with WaitReady where a first answer matters.
func ExampleNew() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pool := "https://cognito-idp.us-west-2.amazonaws.com/us-west-2_AbCdEf123"
	checker, err := jwtcheck.New(ctx, jwtcheck.Config{
		Issuer:  pool,
		JWKSURI: pool + "/.well-known/jwks.json",
		Rules:   jwtcheck.Rules{AllowedClients: []string{"my-m2m-client"}},
	})
	if err != nil {
		fmt.Println(err) // a bad Config only
		return
	}
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	if err := checker.WaitReady(wctx); err != nil {
		fmt.Println(err) // jwtcheck: key set not loaded from ...: <why>
		return
	}
	accessToken := "eyJ..." // from the token endpoint; never print it
	claims, err := checker.Check(accessToken)
	if err != nil {
		fmt.Println(err) // never the token itself
		return
	}
	fmt.Println(claims.Summary())
}
