// Package awsjwt gets bearer tokens without a client secret: AWS STS GetWebIdentityToken (IAM
// outbound identity federation) signs a JWT for the identity of the AWS credential chain, from an
// account-specific issuer that serves OpenID discovery and a JWKS, which an AgentCore runtime's
// customJWTAuthorizer can trust.
//
// A [Source] is a token source for tokencache.Config.Source: the cache keeps, shares and refreshes
// its tokens. It calls STS's regional endpoint of the route's region (the API is not on the global
// endpoint); AWS_ENDPOINT_URL_STS or AWS_ENDPOINT_URL overrides the endpoint. Errors are typed
// ([FederationDisabledError], awssecrets.AccessError, awssecrets.NoCredentialsError); the CLI's
// catalogue turns them into sentences naming the fix. Tokens never appear in errors or logs.
package awsjwt

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/aws/smithy-go"
	"golang.org/x/oauth2"

	"github.com/agentcore-proxy/agentcore-proxy/internal/awssecrets"
	"github.com/agentcore-proxy/agentcore-proxy/internal/capped"
)

// Limits of GetWebIdentityToken's input (STS API reference; tags as for IAM session tags).
const (
	MinDuration     = time.Minute
	MaxDuration     = time.Hour
	DefaultDuration = 15 * time.Minute
	MaxAudiences    = 10
	MaxTags         = 50
	MaxTagKeyLen    = 128
	MaxTagValueLen  = 256
	// Action is the IAM action a caller needs.
	Action = "sts:GetWebIdentityToken"
	// DiscoveryPath is appended to an issuer to get its OpenID discovery document, the discoveryUrl
	// of a customJWTAuthorizer that trusts it.
	DiscoveryPath = "/.well-known/openid-configuration"
)

// Signing algorithms GetWebIdentityToken offers.
// MaxAnswerBytes caps an STS answer (a token is a few KiB): an endpoint
// that sends more fails the request with ErrAnswerTooLarge.
const MaxAnswerBytes = 64 << 10

// ErrAnswerTooLarge fails a GetWebIdentityToken answer over MaxAnswerBytes.
var ErrAnswerTooLarge = fmt.Errorf("awsjwt: the STS answer is larger than %d bytes", MaxAnswerBytes)

const (
	RS256 = "RS256"
	ES384 = "ES384"
)

// Tag is a claim added to the token under "https://sts.amazonaws.com/" request_tags.
type Tag struct {
	Key, Value string
}

// Config configures a [Source].
type Config struct {
	// AWS holds the credential chain and endpoint configuration (awssecrets.LoadConfig). Its
	// region is replaced by Region.
	AWS aws.Config
	// Region is the route's region (the runtime ARN's): STS is called on its regional endpoint.
	Region string
	// Audience becomes the token's aud: one of the runtime authorizer's allowedAudience. 1 to 10.
	Audience []string
	// Algorithm is RS256 (default) or ES384.
	Algorithm string
	// Duration is the token's lifetime, whole seconds from 60 s to 1 h; zero selects 15 minutes.
	Duration time.Duration
	// Tags become claims; at most 50.
	Tags []Tag
}

// FieldError is a problem with one Config field; Field is the Go name (Audience, Algorithm,
// Duration, Tags, Region), which a caller maps to the setting the user wrote.
type FieldError struct {
	Field   string
	Value   string // as given, "" if none
	Problem string // what is wrong and what is allowed
}

func (e *FieldError) Error() string {
	if e.Value == "" {
		return "awsjwt: " + e.Field + ": " + e.Problem
	}
	return fmt.Sprintf("awsjwt: %s %q: %s", e.Field, e.Value, e.Problem)
}

// tagKey is what IAM allows in a tag key: letters, digits, spaces and _ . : / = + - @.
var tagKey = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]+$`)

// Validate reports every problem with c at once, as *FieldError values joined.
func (c Config) Validate() error {
	var errs []error
	bad := func(field, value, problem string) {
		errs = append(errs, &FieldError{Field: field, Value: value, Problem: problem})
	}
	switch {
	case c.Region == "":
		bad("Region", "", "empty: the STS region (the runtime ARN's) is needed; GetWebIdentityToken has no global endpoint")
	case c.Region == "aws-global":
		bad("Region", c.Region, "GetWebIdentityToken is not on the global STS endpoint: give a region such as us-west-2")
	}
	if len(c.Audience) == 0 || len(c.Audience) > MaxAudiences {
		bad("Audience", strings.Join(c.Audience, ","), fmt.Sprintf("want 1 to %d audiences (the runtime authorizer's allowedAudience)", MaxAudiences))
	}
	for _, a := range c.Audience {
		if a == "" {
			bad("Audience", "", "an audience is empty")
		}
	}
	if c.Algorithm != "" && c.Algorithm != RS256 && c.Algorithm != ES384 {
		bad("Algorithm", c.Algorithm, "want RS256 or ES384")
	}
	if c.Duration != 0 && (c.Duration < MinDuration || c.Duration > MaxDuration || c.Duration%time.Second != 0) {
		bad("Duration", c.Duration.String(), "want whole seconds from 60s to 1h")
	}
	if len(c.Tags) > MaxTags {
		bad("Tags", "", fmt.Sprintf("%d tags: at most %d", len(c.Tags), MaxTags))
	}
	seen := map[string]bool{}
	for _, t := range c.Tags {
		switch {
		case len(t.Key) == 0 || len(t.Key) > MaxTagKeyLen || !tagKey.MatchString(t.Key):
			bad("Tags", t.Key, fmt.Sprintf("a tag key has 1 to %d letters, digits, spaces or _.:/=+-@", MaxTagKeyLen))
		case len(t.Value) > MaxTagValueLen:
			bad("Tags", t.Key, fmt.Sprintf("the value is %d bytes: at most %d", len(t.Value), MaxTagValueLen))
		case seen[strings.ToLower(t.Key)]:
			bad("Tags", t.Key, "given twice (tag keys are case-insensitive)")
		}
		seen[strings.ToLower(t.Key)] = true
	}
	return errors.Join(errs...)
}

// Source fetches web identity tokens from STS. Create one with [New]; it is safe for concurrent use.
type Source struct {
	client *sts.Client
	creds  aws.CredentialsProvider
	in     sts.GetWebIdentityTokenInput
}

// New validates cfg and returns a Source. It calls no AWS service.
func New(cfg Config) (*Source, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Algorithm == "" {
		cfg.Algorithm = RS256
	}
	if cfg.Duration == 0 {
		cfg.Duration = DefaultDuration
	}
	awsCfg := cfg.AWS.Copy()
	awsCfg.Region = cfg.Region
	base := awsCfg.HTTPClient
	if base == nil {
		base = awshttp.NewBuildableClient()
	}
	awsCfg.HTTPClient = capped.Doer{Base: base, Max: MaxAnswerBytes, Err: ErrAnswerTooLarge}
	s := &Source{
		client: sts.NewFromConfig(awsCfg),
		creds:  awsCfg.Credentials,
		in: sts.GetWebIdentityTokenInput{
			Audience:         slices.Clone(cfg.Audience),
			SigningAlgorithm: aws.String(cfg.Algorithm),
			DurationSeconds:  aws.Int32(int32(cfg.Duration / time.Second)),
		},
	}
	for _, t := range cfg.Tags {
		s.in.Tags = append(s.in.Tags, types.Tag{Key: aws.String(t.Key), Value: aws.String(t.Value)})
	}
	return s, nil
}

// Token calls GetWebIdentityToken once. The token's expiry is the answer's Expiration or the JWT's
// exp, whichever comes first. It suits tokencache.Config.Source.
func (s *Source) Token(ctx context.Context) (*oauth2.Token, error) {
	if s.creds == nil {
		return nil, &awssecrets.NoCredentialsError{Tried: awssecrets.CredentialSources, Err: errors.New("no credentials provider configured")}
	}
	if _, err := s.creds.Retrieve(ctx); err != nil {
		return nil, &awssecrets.NoCredentialsError{Tried: awssecrets.CredentialSources, Err: err}
	}
	in := s.in
	out, err := s.client.GetWebIdentityToken(ctx, &in)
	if err != nil {
		return nil, explain(err)
	}
	raw := aws.ToString(out.WebIdentityToken)
	claims, err := ParseClaims(raw)
	if err != nil {
		return nil, fmt.Errorf("awsjwt: %s answered a token that is not a usable JWT: %w", Action, err)
	}
	exp := claims.Expiry
	if out.Expiration != nil && (exp.IsZero() || out.Expiration.Before(exp)) {
		exp = *out.Expiration
	}
	return &oauth2.Token{AccessToken: raw, TokenType: "Bearer", Expiry: exp}, nil
}

// FederationDisabledError means the account has not enabled IAM outbound identity federation, so
// STS issues no web identity tokens (OutboundWebIdentityFederationDisabledException).
type FederationDisabledError struct {
	Err error // the service's error
}

func (e *FederationDisabledError) Error() string {
	msg := "awsjwt: outbound identity federation is not enabled for this account"
	var ae smithy.APIError
	if errors.As(e.Err, &ae) {
		// The service's words without the SDK's request id.
		return msg + " (STS " + ae.ErrorCode() + ")"
	}
	return msg + ": " + e.Err.Error()
}
func (e *FederationDisabledError) Unwrap() error { return e.Err }

// Reason returns the catalogue code of the failure.
func (e *FederationDisabledError) Reason() string { return "aws_jwt_federation_disabled" }

// explain types the errors a caller can fix.
func explain(err error) error {
	var fd *types.OutboundWebIdentityFederationDisabledException
	if errors.As(err, &fd) {
		return &FederationDisabledError{Err: err}
	}
	var ae smithy.APIError
	if errors.As(err, &ae) && (ae.ErrorCode() == "AccessDenied" || ae.ErrorCode() == "AccessDeniedException") {
		return &awssecrets.AccessError{Action: Action, Resource: "*", Err: err}
	}
	return fmt.Errorf("awsjwt: %s: %w", Action, err)
}
