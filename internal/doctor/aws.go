package doctor

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/agentcore-proxy/agentcore-proxy/internal/awssecrets"
	"github.com/agentcore-proxy/agentcore-proxy/internal/config"
	"github.com/agentcore-proxy/agentcore-proxy/internal/route"
)

// checkSigV4 builds route r's signing transport and asks STS who signs
// (sts:GetCallerIdentity needs no permission): the identity, the access
// key's fingerprint, the service and the region. Never a key.
func checkSigV4(ctx context.Context, auth *route.AuthSetup, r config.Resolved) (http.RoundTripper, string, error) {
	sv, err := auth.SigV4(ctx, r, nil, 0)
	if err != nil {
		return nil, "", err
	}
	cfg, err := auth.AWSConfig(ctx, r.SigV4.Profile, r.SigV4.Region)
	if err != nil {
		return nil, "", err
	}
	id, err := awssecrets.WhoAmI(ctx, cfg)
	if err != nil {
		return nil, "", fmt.Errorf("the access key %s does not work: %w (check the credentials the AWS chain found)", sv.KeyFingerprint, err)
	}
	return sv.Transport, fmt.Sprintf("signs as %s (account %s), access key %s; service %s, region %s",
		id.ARN, id.Account, sv.KeyFingerprint, sv.Transport.Service(), sv.Transport.Region()), nil
}

// checkAWSSources reads what route r takes from SSM Parameter Store or
// Secrets Manager and names each value read and its type, never the value.
func checkAWSSources(ctx context.Context, auth *route.AuthSetup, r config.Resolved) (string, error) {
	if err := auth.ReadSources(ctx, r); err != nil {
		return "", err
	}
	var read []string
	for _, p := range r.Auth.AWS.Read {
		read = append(read, fmt.Sprintf("%s (%s)", p.Name, p.Type))
	}
	if len(read) == 0 {
		return "nothing to read: every setting is given explicitly", nil
	}
	return "read " + strings.Join(read, ", ") + "; values never shown", nil
}
