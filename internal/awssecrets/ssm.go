package awssecrets

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
)

// The parameter names under an SSM prefix, as the AgentCore M2M guide stores an OAuth client.
const (
	ParamClientID     = "machine_client_id"
	ParamClientSecret = "cognito_secret"
	ParamDiscoveryURL = "cognito_discovery_url"
)

// Parameter is an SSM parameter that was read. Its Value must never be logged.
type Parameter struct {
	Name  string // full path
	Type  string // String, StringList, SecureString
	Value string
}

// ParameterNotFoundError names the parameters that do not exist, by full path.
type ParameterNotFoundError struct{ Names []string }

func (e *ParameterNotFoundError) Error() string {
	return "awssecrets: SSM parameter not found: " + strings.Join(e.Names, ", ")
}

// ParameterPath joins prefix and name with exactly one "/".
func ParameterPath(prefix, name string) string {
	return strings.TrimSuffix(prefix, "/") + "/" + name
}

// ReadPrefix reads PREFIX/name for each name (default: the client id, secret and discovery URL) in
// one GetParameters call with decryption, and returns them by name. Any missing parameter is an
// error naming every missing full path.
func ReadPrefix(ctx context.Context, cfg aws.Config, prefix string, names ...string) (map[string]Parameter, error) {
	if len(names) == 0 {
		names = []string{ParamClientID, ParamClientSecret, ParamDiscoveryURL}
	}
	paths := make([]string, len(names))
	for i, n := range names {
		paths[i] = ParameterPath(prefix, n)
	}
	out, err := ssm.NewFromConfig(cfg).GetParameters(ctx, &ssm.GetParametersInput{Names: paths, WithDecryption: aws.Bool(true)})
	if err != nil {
		return nil, fmt.Errorf("awssecrets: reading %s: %w", strings.Join(paths, ", "), accessError(err, "ssm:GetParameters", strings.Join(paths, ", ")))
	}
	if len(out.InvalidParameters) > 0 {
		return nil, &ParameterNotFoundError{Names: out.InvalidParameters}
	}
	got := map[string]Parameter{}
	for i, p := range paths {
		for _, q := range out.Parameters {
			if aws.ToString(q.Name) == p {
				got[names[i]] = Parameter{Name: p, Type: string(q.Type), Value: aws.ToString(q.Value)}
			}
		}
	}
	return got, nil
}

// NewSSMSource returns a Source reading one parameter with GetParameter and decryption. Reading it
// again is how a rotated cognito_secret is picked up.
func NewSSMSource(cfg aws.Config, name string, log *slog.Logger) Source {
	client := ssm.NewFromConfig(cfg)
	return newCached("ssm:"+name, log, func(ctx context.Context) (string, error) {
		out, err := client.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(name), WithDecryption: aws.Bool(true)})
		var nf *types.ParameterNotFound
		switch {
		case asErr(err, &nf):
			return "", &ParameterNotFoundError{Names: []string{name}}
		case err != nil:
			return "", fmt.Errorf("awssecrets: reading %s: %w", name, accessError(err, "ssm:GetParameter", name))
		}
		return aws.ToString(out.Parameter.Value), nil
	})
}
