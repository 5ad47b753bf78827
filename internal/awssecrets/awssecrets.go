// Package awssecrets reads the OAuth client of a route from where AWS users keep it (SSM Parameter
// Store, Secrets Manager) or from a file or the environment, re-reads it when asked (rotation), and
// loads the AWS configuration (credential chain, region, endpoints) those reads and SigV4 signing use.
//
// It lives in internal/ because only the binary needs it; it keeps the AWS SDK out of tokencache,
// which stays usable without it. Errors are structured (ParameterNotFoundError, AccessError,
// MissingKeyError, NoCredentialsError); the CLI turns them into sentences naming its flags. Values
// are never logged: logs carry a fingerprint (first 8 hex of SHA-256).
package awssecrets

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/agentcore-proxy/agentcore-proxy/internal/redact"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/logging"
)

// Source yields a secret and can read it again from its origin.
type Source interface {
	// Secret returns the current value, reading it on first use.
	Secret(ctx context.Context) (string, error)
	// Reload reads the value again from its origin, at most once per MinReloadInterval (sooner
	// calls return false, nil), and reports whether it changed. The first re-read is never held
	// back: a secret rotated soon after start is picked up at once.
	Reload(ctx context.Context) (changed bool, err error)
	// Origin names where the value comes from, for logs: "ssm:/app/mcp/x/cognito_secret",
	// "secretsmanager:NAME#key", "file:/path", "env:NAME". Never the value.
	Origin() string
}

// MinReloadInterval bounds how often a Source reads its origin again on demand: a token endpoint
// that keeps answering invalid_client must not turn into a storm of SSM or Secrets Manager calls.
const MinReloadInterval = time.Minute

// ConfigOptions selects the AWS configuration.
type ConfigOptions struct {
	// Profile is the shared-config profile; "" means AWS_PROFILE or "default".
	Profile string
	// FallbackRegion is used when neither AWS_REGION nor the profile names a region (the runtime
	// ARN's region).
	FallbackRegion string
	// Logger receives the SDK's own log lines (such as "falling back to IMDSv1") at debug level, so
	// they keep the proxy's log format; nil drops them. The SDK's default writes them to stderr
	// as plain text.
	Logger *slog.Logger
}

// LoadConfig loads the default configuration of aws-sdk-go-v2: credentials from the standard chain
// (environment, shared credentials and config files with SSO, assume-role and credential_process,
// web identity for EKS IRSA, container credentials for ECS and EKS Pod Identity, EC2 IMDSv2),
// cached and refreshed by the SDK; the region from AWS_REGION or the profile, else FallbackRegion;
// endpoints from AWS_ENDPOINT_URL_SSM, AWS_ENDPOINT_URL_SECRETS_MANAGER, AWS_ENDPOINT_URL_STS or
// AWS_ENDPOINT_URL. It reads files but calls no AWS service.
func LoadConfig(ctx context.Context, opts ConfigOptions) (aws.Config, error) {
	var fns []func(*config.LoadOptions) error
	if opts.Profile != "" {
		fns = append(fns, config.WithSharedConfigProfile(opts.Profile))
	}
	fns = append(fns, config.WithLogger(sdkLogger(opts.Logger)))
	cfg, err := config.LoadDefaultConfig(ctx, fns...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("awssecrets: loading the AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = opts.FallbackRegion
	}
	return cfg, nil
}

// CredentialSources lists, in the order the SDK's default chain tries them, where credentials can
// come from; NoCredentialsError names them.
var CredentialSources = []string{
	"environment variables AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
	"shared credentials file (AWS_SHARED_CREDENTIALS_FILE, default ~/.aws/credentials)",
	"shared config file profile (AWS_CONFIG_FILE, AWS_PROFILE): SSO, assume role, credential_process",
	"web identity token (AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN: EKS IRSA)",
	"container credentials (AWS_CONTAINER_CREDENTIALS_FULL_URI or _RELATIVE_URI: ECS task role, EKS Pod Identity)",
	"EC2 instance metadata (IMDSv2; off when AWS_EC2_METADATA_DISABLED=true)",
}

// NoCredentialsError reports that the credential chain yielded nothing.
type NoCredentialsError struct {
	Tried []string // CredentialSources
	Err   error    // the SDK's error
}

func (e *NoCredentialsError) Error() string {
	return "awssecrets: no AWS credentials found; tried " + strings.Join(e.Tried, "; ") + ": " + e.Err.Error()
}
func (e *NoCredentialsError) Unwrap() error { return e.Err }

// CheckCredentials retrieves credentials once, so that a start-up can fail before serving, and
// returns the access key id's fingerprint for logs.
func CheckCredentials(ctx context.Context, cfg aws.Config) (string, error) {
	if cfg.Credentials == nil {
		return "", &NoCredentialsError{Tried: CredentialSources, Err: errors.New("no credentials provider configured")}
	}
	c, err := cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return "", &NoCredentialsError{Tried: CredentialSources, Err: err}
	}
	return redact.Fingerprint(c.AccessKeyID), nil
}

// AccessError is an AWS refusal for lack of an IAM permission.
type AccessError struct {
	Action   string // the IAM action to grant: ssm:GetParameters, kms:Decrypt, secretsmanager:GetSecretValue
	Resource string // the parameter, secret or key asked for
	Err      error  // the service's error
}

func (e *AccessError) Error() string {
	return fmt.Sprintf("awssecrets: access denied to %s (needs IAM permission %s): %v", e.Resource, e.Action, e.Err)
}
func (e *AccessError) Unwrap() error { return e.Err }

// accessError turns an AccessDeniedException into an AccessError naming action, or kms:Decrypt when
// KMS refused to decrypt; other errors are returned as they are.
func accessError(err error, action, resource string) error {
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "AccessDeniedException" && ae.ErrorCode() != "KMSAccessDeniedException" {
		return err
	}
	if strings.Contains(ae.ErrorMessage(), "kms:") || strings.Contains(ae.ErrorMessage(), "KMS") || ae.ErrorCode() == "KMSAccessDeniedException" {
		action = "kms:Decrypt"
	}
	return &AccessError{Action: action, Resource: resource, Err: err}
}

// cached is the shared value, reload throttle and logging of the AWS and file sources.
type cached struct {
	origin string
	log    *slog.Logger
	now    func() time.Time
	read   func(ctx context.Context) (string, error)

	mu       sync.Mutex
	value    string
	loaded   bool
	lastRead time.Time
	reloaded bool // Reload has read the origin at least once
}

func newCached(origin string, log *slog.Logger, read func(context.Context) (string, error)) *cached {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &cached{origin: origin, log: log, now: time.Now, read: read}
}

func (c *cached) Origin() string { return c.origin }

func (c *cached) Secret(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.loaded {
		return c.value, nil
	}
	if err := c.readLocked(ctx); err != nil {
		return "", err
	}
	return c.value, nil
}

func (c *cached) Reload(ctx context.Context) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.loaded && c.reloaded && c.now().Sub(c.lastRead) < MinReloadInterval {
		return false, nil
	}
	c.reloaded = true
	old, had := c.value, c.loaded
	if err := c.readLocked(ctx); err != nil {
		return false, err
	}
	changed := had && c.value != old
	if changed {
		c.log.Info("secret changed", "origin", c.origin, "old_fingerprint", redact.Fingerprint(old), "fingerprint", redact.Fingerprint(c.value))
	}
	return changed, nil
}

func (c *cached) readLocked(ctx context.Context) error {
	v, err := c.read(ctx)
	c.lastRead = c.now()
	if err != nil {
		return err
	}
	if !c.loaded {
		c.log.Debug("secret loaded", "origin", c.origin, "fingerprint", redact.Fingerprint(v))
	}
	c.value, c.loaded = v, true
	return nil
}

// EnvSource is a secret from an environment variable: it cannot rotate, Reload never changes it.
type EnvSource struct {
	Name  string
	Value string
}

// Secret returns the value.
func (s EnvSource) Secret(context.Context) (string, error) { return s.Value, nil }

// Reload reports no change: the environment of a running process does not change.
func (s EnvSource) Reload(context.Context) (bool, error) { return false, nil }

// Origin returns "env:NAME".
func (s EnvSource) Origin() string { return "env:" + s.Name }

// sdkLogger turns the SDK's log lines into debug records of l (nil: none).
func sdkLogger(l *slog.Logger) logging.Logger {
	if l == nil {
		return logging.Nop{}
	}
	return logging.LoggerFunc(func(c logging.Classification, format string, v ...any) {
		l.Debug("aws sdk: "+fmt.Sprintf(format, v...), "classification", string(c))
	})
}
