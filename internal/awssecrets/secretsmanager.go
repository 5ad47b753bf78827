package awssecrets

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

// DefaultJSONKey is the key read from a JSON SecretString when none is named.
const DefaultJSONKey = "client_secret"

// SecretNotFoundError reports a Secrets Manager secret that does not exist.
type SecretNotFoundError struct{ SecretID string }

func (e *SecretNotFoundError) Error() string {
	return "awssecrets: Secrets Manager secret not found: " + e.SecretID
}

// MissingKeyError reports a JSON SecretString without the wanted key. Keys lists the keys present
// (names only, never values).
type MissingKeyError struct {
	SecretID string
	Key      string
	Keys     []string
}

func (e *MissingKeyError) Error() string {
	return fmt.Sprintf("awssecrets: secret %s is JSON without the key %q (keys present: %s)", e.SecretID, e.Key, strings.Join(e.Keys, ", "))
}

// NewSecretsManagerSource returns a Source reading secretID's SecretString with GetSecretValue. A
// SecretString that is a JSON object yields the string at jsonKey ("" means DefaultJSONKey); any
// other SecretString is the secret itself.
func NewSecretsManagerSource(cfg aws.Config, secretID, jsonKey string, log *slog.Logger) Source {
	if jsonKey == "" {
		jsonKey = DefaultJSONKey
	}
	client := secretsmanager.NewFromConfig(cfg)
	return newCached("secretsmanager:"+secretID+"#"+jsonKey, log, func(ctx context.Context) (string, error) {
		out, err := client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(secretID)})
		var nf *types.ResourceNotFoundException
		switch {
		case asErr(err, &nf):
			return "", &SecretNotFoundError{SecretID: secretID}
		case err != nil:
			return "", fmt.Errorf("awssecrets: reading secret %s: %w", secretID, accessError(err, "secretsmanager:GetSecretValue", secretID))
		}
		return secretValue(secretID, aws.ToString(out.SecretString), jsonKey)
	})
}

// secretValue extracts the secret from a SecretString: the string at key of a JSON object, or the
// whole string.
func secretValue(secretID, s, key string) (string, error) {
	trimmed := strings.TrimSpace(s)
	if !strings.HasPrefix(trimmed, "{") {
		return s, nil
	}
	var obj map[string]any
	if err := json.Unmarshal([]byte(trimmed), &obj); err != nil {
		return s, nil // not JSON after all: the secret itself
	}
	v, ok := obj[key].(string)
	if !ok || v == "" {
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		return "", &MissingKeyError{SecretID: secretID, Key: key, Keys: keys}
	}
	return v, nil
}

func asErr[T error](err error, target *T) bool { return err != nil && errors.As(err, target) }
