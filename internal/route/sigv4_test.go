package route

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/agentcore-proxy/agentcore-proxy/internal/redact"
)

// TestRedactingCredentials: the AWS credentials an AuthSetup hands out are
// registered with its Redactor as they are handed out (rotations too), and
// Invalidate still reaches the cache, so that SigV4Transport's retry on
// ExpiredTokenException gets fresh ones.
func TestRedactingCredentials(t *testing.T) {
	red := redact.New()
	a := NewAuthSetup(AuthOptions{Redactor: red})
	var n atomic.Int32
	p := a.withRedaction(aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		i := n.Add(1)
		return aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: strings.Repeat("k", 30) + string('0'+rune(i)),
			SessionToken: "session-token-" + string('0'+rune(i)), CanExpire: false}, nil
	}))
	if again := a.withRedaction(p); again != p {
		t.Errorf("withRedaction(wrapped) wrapped it again")
	}
	c1, err := p.Retrieve(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	quoted := "canonical request: x-amz-security-token:" + c1.SessionToken + " signed with " + c1.SecretAccessKey
	got := red.Redact(quoted)
	if strings.Contains(got, c1.SessionToken) || strings.Contains(got, c1.SecretAccessKey) {
		t.Errorf("Redact(%q) = %q, keeps the AWS credentials", quoted, got)
	}
	if _, err := p.Retrieve(t.Context()); err != nil || n.Load() != 1 {
		t.Errorf("second Retrieve called the provider: %d calls, want 1 (cached)", n.Load())
	}
	inv, ok := p.(interface{ Invalidate() })
	if !ok {
		t.Fatalf("%T has no Invalidate", p)
	}
	inv.Invalidate()
	c2, err := p.Retrieve(t.Context())
	if err != nil || n.Load() != 2 {
		t.Fatalf("Retrieve after Invalidate: %d calls, want 2 (err %v)", n.Load(), err)
	}
	if got := red.Redact(c2.SecretAccessKey + " " + c1.SecretAccessKey); strings.Contains(got, "kkkk") {
		t.Errorf("Redact(both keys) = %q, keeps a key", got)
	}
}
