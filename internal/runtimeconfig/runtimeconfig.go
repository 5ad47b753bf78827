// Package runtimeconfig reads what an AgentCore runtime says about itself:
// bedrock-agentcore-control GetAgentRuntime gives its inbound JWT authorizer
// (discovery URL, allowed clients, audiences and scopes, custom claims), its
// protocol, its request header allowlist and its session lifecycle. A route
// takes from it what the user did not give ([Merge]), and doctor compares
// a token with every rule of it ([Compare], [Explain]).
//
// Errors are structured: an [*UnavailableError] (no AWS credentials, or no
// permission to read the runtime) is what a caller in "auto" mode passes
// over; a [*NotFoundError], an [*APIError] (throttling, a service failure,
// a timeout) or an [*AnswerError] (an answer too large or that makes no
// sense) are real failures. The package names no flag: callers name their
// settings.
package runtimeconfig

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/bedrockagentcorecontrol"
	"github.com/aws/aws-sdk-go-v2/service/bedrockagentcorecontrol/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/agentcore-proxy/agentcore-proxy/agentcore"
	"github.com/agentcore-proxy/agentcore-proxy/internal/capped"
	"github.com/agentcore-proxy/agentcore-proxy/internal/secureurl"
	"github.com/agentcore-proxy/agentcore-proxy/jwtcheck"
)

// Modes of reading the runtime's configuration at start.
const (
	// ModeAuto reads it when it can: without credentials or permission the
	// route starts as configured.
	ModeAuto = "auto"
	// ModeOff never reads it.
	ModeOff = "off"
	// ModeRequired fails the start when it cannot be read.
	ModeRequired = "required"
)

// Action is the IAM action Fetch needs on the runtime.
const Action = "bedrock-agentcore:GetAgentRuntime"

// ProtocolMCP is the only server protocol a route can proxy.
const ProtocolMCP = string(types.ServerProtocolMcp)

// MaxAnswerBytes bounds a GetAgentRuntime answer: a real one is a few KiB.
const MaxAnswerBytes = 1 << 20

// DefaultTimeout bounds Fetch when Options.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// Runtime is what a runtime says about itself that matters to a route.
type Runtime struct {
	ARN     string // the runtime's ARN, as the answer gives it
	Name    string // agentRuntimeName
	Version string // agentRuntimeVersion
	Status  string // READY, CREATING, UPDATING, ...
	// Protocol is the server protocol: MCP, HTTP, A2A, AGUI.
	Protocol string
	// JWT is the inbound JWT authorizer; nil means the runtime takes AWS
	// SigV4 (IAM) requests.
	JWT *JWTAuthorizer
	// HeaderAllowlist lists the request headers AgentCore passes to the
	// container (requestHeaderAllowlist).
	HeaderAllowlist []string
	// IdleTimeout and MaxLifetime are the session lifecycle; zero when the
	// answer has none (AgentCore's defaults are 15 minutes and 8 hours).
	IdleTimeout, MaxLifetime time.Duration
}

// IAM reports whether the runtime authenticates callers with SigV4.
func (r *Runtime) IAM() bool { return r.JWT == nil }

// Audience returns the first allowedAudience, "" if none: the audience to
// ask a token for.
func (r *Runtime) Audience() string {
	if r.JWT == nil || len(r.JWT.AllowedAudience) == 0 {
		return ""
	}
	return r.JWT.AllowedAudience[0]
}

// JWTAuthorizer is the runtime's customJWTAuthorizer.
type JWTAuthorizer struct {
	DiscoveryURL    string
	AllowedClients  []string
	AllowedAudience []string
	AllowedScopes   []string
	CustomClaims    []jwtcheck.CustomClaim
	// AdvertisedScopeMapping maps an allowed scope to the scope AgentCore
	// advertises for it in its metadata and challenges.
	AdvertisedScopeMapping map[string]string
}

// Rules returns the authorizer's claim rules.
func (a *JWTAuthorizer) Rules() jwtcheck.Rules {
	if a == nil {
		return jwtcheck.Rules{}
	}
	return jwtcheck.Rules{AllowedClients: a.AllowedClients, AllowedAudience: a.AllowedAudience,
		AllowedScopes: a.AllowedScopes, CustomClaims: a.CustomClaims}
}

// Options tune Fetch.
type Options struct {
	// Timeout bounds the whole read, retries included; 0: DefaultTimeout.
	Timeout time.Duration
	// CredentialsTimeout, if set and shorter, bounds finding AWS
	// credentials alone. Without any, the SDK's chain ends at the EC2
	// instance metadata endpoint, which can take seconds to give up (5 s
	// measured against an endpoint that accepts and never answers); a
	// caller that can do without the runtime need not wait that long.
	CredentialsTimeout time.Duration
}

// Causes of an UnavailableError.
const (
	CauseNoCredentials = "no_credentials"
	CauseAccessDenied  = "access_denied"
)

// UnavailableError reports that the runtime could not be read for want of
// AWS credentials or of permission: not a fault of the runtime.
type UnavailableError struct {
	ARN    string
	Cause  string // CauseNoCredentials or CauseAccessDenied
	Action string // the IAM action to grant, for CauseAccessDenied
	Err    error
}

func (e *UnavailableError) Error() string {
	if e.Cause == CauseAccessDenied {
		return fmt.Sprintf("runtimeconfig: reading runtime %s: access denied (needs IAM permission %s): %v", e.ARN, e.Action, e.Err)
	}
	return fmt.Sprintf("runtimeconfig: reading runtime %s needs AWS credentials: %v", e.ARN, e.Err)
}
func (e *UnavailableError) Unwrap() error { return e.Err }

// NotFoundError reports that the control plane knows no such runtime.
type NotFoundError struct {
	ARN    string
	Region string // where it was looked for
	Err    error
}

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("runtimeconfig: no runtime %s in region %s: %v", e.ARN, e.Region, e.Err)
}
func (e *NotFoundError) Unwrap() error { return e.Err }

// APIError is any other failure to read the runtime: throttling, a service
// error, a timeout, a network error.
type APIError struct {
	ARN  string
	Code string // the AWS error code (ThrottlingException, ...), "" if none
	// Unreachable says no answer came: the endpoint could not be dialled or
	// the connection failed (Err says how).
	Unreachable bool
	Err         error
}

func (e *APIError) Error() string {
	return fmt.Sprintf("runtimeconfig: reading runtime %s: %v", e.ARN, e.Err)
}
func (e *APIError) Unwrap() error { return e.Err }

// Throttled reports whether AWS throttled the read.
func (e *APIError) Throttled() bool {
	return e.Code == "ThrottlingException" || e.Code == "TooManyRequestsException"
}

// AnswerError reports an answer that is too large, undecodable or
// incoherent (a JWT authorizer without a usable discovery URL, say).
type AnswerError struct {
	ARN     string
	Problem string
	Err     error // may be nil
}

func (e *AnswerError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("runtimeconfig: runtime %s: %s: %v", e.ARN, e.Problem, e.Err)
	}
	return fmt.Sprintf("runtimeconfig: runtime %s: %s", e.ARN, e.Problem)
}
func (e *AnswerError) Unwrap() error { return e.Err }

// errTooLarge is the read error of an answer over MaxAnswerBytes.
var errTooLarge = fmt.Errorf("runtimeconfig: answer larger than %d bytes", MaxAnswerBytes)

// Fetch reads the runtime arn with cfg's credentials, in the ARN's region.
// The endpoint follows cfg: AWS_ENDPOINT_URL_BEDROCK_AGENTCORE_CONTROL (or
// AWS_ENDPOINT_URL) when config.LoadDefaultConfig loaded it.
func Fetch(ctx context.Context, cfg aws.Config, arn agentcore.RuntimeARN, opts Options) (*Runtime, error) {
	ctx, cancel := context.WithTimeout(ctx, cmp.Or(opts.Timeout, DefaultTimeout))
	defer cancel()
	id := arn.String()
	if cfg.Credentials == nil {
		return nil, &UnavailableError{ARN: id, Cause: CauseNoCredentials, Err: errors.New("no credentials provider configured")}
	}
	cctx := ctx
	if opts.CredentialsTimeout > 0 {
		var ccancel context.CancelFunc
		cctx, ccancel = context.WithTimeout(ctx, opts.CredentialsTimeout)
		defer ccancel()
	}
	if _, err := cfg.Credentials.Retrieve(cctx); err != nil {
		if cctx.Err() != nil && ctx.Err() == nil {
			err = fmt.Errorf("none found within %v: %w", opts.CredentialsTimeout, err)
		}
		return nil, &UnavailableError{ARN: id, Cause: CauseNoCredentials, Err: err}
	}
	base := cfg.HTTPClient
	if base == nil {
		base = awshttp.NewBuildableClient()
	}
	client := bedrockagentcorecontrol.NewFromConfig(cfg, func(o *bedrockagentcorecontrol.Options) {
		o.Region = arn.Region
		o.HTTPClient = capped.Doer{Base: base, Max: MaxAnswerBytes, Err: errTooLarge}
	})
	out, err := client.GetAgentRuntime(ctx, &bedrockagentcorecontrol.GetAgentRuntimeInput{AgentRuntimeId: aws.String(arn.RuntimeID)})
	if err != nil {
		return nil, classify(err, id, arn.Region)
	}
	return fromOutput(id, out)
}

// classify turns the SDK's error into one of the package's.
func classify(err error, arn, region string) error {
	if errors.Is(err, errTooLarge) {
		return &AnswerError{ARN: arn, Problem: "the answer is too large", Err: errTooLarge}
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "AccessDeniedException":
			return &UnavailableError{ARN: arn, Cause: CauseAccessDenied, Action: Action, Err: err}
		case "ResourceNotFoundException":
			return &NotFoundError{ARN: arn, Region: region, Err: err}
		case "UnrecognizedClientException", "InvalidClientTokenId", "ExpiredTokenException", "ExpiredToken":
			return &UnavailableError{ARN: arn, Cause: CauseNoCredentials, Err: err}
		}
		return &APIError{ARN: arn, Code: ae.ErrorCode(), Err: err}
	}
	var de *smithy.DeserializationError
	if errors.As(err, &de) {
		return &AnswerError{ARN: arn, Problem: "the answer cannot be decoded", Err: err}
	}
	var se *smithyhttp.RequestSendError
	if errors.As(err, &se) && !errors.Is(err, context.DeadlineExceeded) {
		// The SDK's text ("exceeded maximum number of attempts, 3, https
		// response error StatusCode: 0, RequestID: , request send failed,
		// ...") hides the cause; say it.
		return &APIError{ARN: arn, Unreachable: true, Err: fmt.Errorf("the control plane cannot be reached: %w", se.Err)}
	}
	return &APIError{ARN: arn, Err: err}
}

// fromOutput keeps what a route needs of the answer, and refuses an answer
// it cannot act on.
func fromOutput(arn string, out *bedrockagentcorecontrol.GetAgentRuntimeOutput) (*Runtime, error) {
	rt := &Runtime{ARN: cmp.Or(aws.ToString(out.AgentRuntimeArn), arn), Name: aws.ToString(out.AgentRuntimeName),
		Version: aws.ToString(out.AgentRuntimeVersion), Status: string(out.Status), Protocol: ProtocolMCP}
	if p := out.ProtocolConfiguration; p != nil && p.ServerProtocol != "" {
		rt.Protocol = string(p.ServerProtocol)
	}
	if h, ok := out.RequestHeaderConfiguration.(*types.RequestHeaderConfigurationMemberRequestHeaderAllowlist); ok {
		rt.HeaderAllowlist = append([]string(nil), h.Value...)
	}
	if l := out.LifecycleConfiguration; l != nil {
		rt.IdleTimeout = time.Duration(aws.ToInt32(l.IdleRuntimeSessionTimeout)) * time.Second
		rt.MaxLifetime = time.Duration(aws.ToInt32(l.MaxLifetime)) * time.Second
		if rt.IdleTimeout < 0 || rt.MaxLifetime < 0 {
			return nil, &AnswerError{ARN: arn, Problem: "the lifecycle has a negative duration"}
		}
	}
	switch a := out.AuthorizerConfiguration.(type) {
	case nil:
	case *types.AuthorizerConfigurationMemberCustomJWTAuthorizer:
		j, err := jwtFrom(arn, a.Value)
		if err != nil {
			return nil, err
		}
		rt.JWT = j
	default:
		return nil, &AnswerError{ARN: arn, Problem: "the runtime has an authorizer of a kind this proxy does not know"}
	}
	return rt, nil
}

func jwtFrom(arn string, c types.CustomJWTAuthorizerConfiguration) (*JWTAuthorizer, error) {
	j := &JWTAuthorizer{DiscoveryURL: aws.ToString(c.DiscoveryUrl), AllowedClients: c.AllowedClients,
		AllowedAudience: c.AllowedAudience, AllowedScopes: c.AllowedScopes, AdvertisedScopeMapping: c.AdvertisedScopeMapping}
	if _, err := secureurl.Check(j.DiscoveryURL); err != nil {
		return nil, &AnswerError{ARN: arn, Problem: fmt.Sprintf("the JWT authorizer's discoveryUrl %q is not usable", j.DiscoveryURL), Err: err}
	}
	for i, cc := range c.CustomClaims {
		rule := jwtcheck.CustomClaim{Name: aws.ToString(cc.InboundTokenClaimName), Type: string(cc.InboundTokenClaimValueType)}
		if m := cc.AuthorizingClaimMatchValue; m != nil {
			rule.Operator = string(m.ClaimMatchOperator)
			switch v := m.ClaimMatchValue.(type) {
			case *types.ClaimMatchValueTypeMemberMatchValueString:
				rule.Values = []string{v.Value}
			case *types.ClaimMatchValueTypeMemberMatchValueStringList:
				rule.Values = append([]string(nil), v.Value...)
			}
		}
		if rule.Name == "" || rule.Operator == "" || len(rule.Values) == 0 {
			return nil, &AnswerError{ARN: arn, Problem: fmt.Sprintf("customClaims[%d] lacks a claim name, an operator or a value", i)}
		}
		j.CustomClaims = append(j.CustomClaims, rule)
	}
	if err := j.Rules().Validate(); err != nil {
		return nil, &AnswerError{ARN: arn, Problem: "the JWT authorizer's rules are not ones this proxy can check", Err: err}
	}
	return j, nil
}

// Authorizer describes the runtime's authorizer in words: "IAM (SigV4)"
// or "JWT: discovery URL, rules".
func (r *Runtime) Authorizer() string {
	if r.JWT == nil {
		return "IAM (SigV4)"
	}
	return fmt.Sprintf("JWT: discovery %s; %s", r.JWT.DiscoveryURL, describeRules(r.JWT.Rules()))
}

// String describes the runtime in one line, for logs and doctor.
func (r *Runtime) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "protocol %s, status %s, authorizer %s", r.Protocol, cmp.Or(r.Status, "unknown"), r.Authorizer())
	if len(r.HeaderAllowlist) > 0 {
		fmt.Fprintf(&b, ", header allowlist %v", r.HeaderAllowlist)
	}
	if r.IdleTimeout > 0 || r.MaxLifetime > 0 {
		fmt.Fprintf(&b, ", sessions idle out after %s, live at most %s", orDefault(r.IdleTimeout, 15*time.Minute), orDefault(r.MaxLifetime, 8*time.Hour))
	}
	return b.String()
}

func orDefault(d, def time.Duration) time.Duration { return cmp.Or(d, def) }

// describeRules lists the set rules, "no claim rule" if none.
func describeRules(r jwtcheck.Rules) string {
	var parts []string
	if len(r.AllowedClients) > 0 {
		parts = append(parts, fmt.Sprintf("allowedClients %v", r.AllowedClients))
	}
	if len(r.AllowedAudience) > 0 {
		parts = append(parts, fmt.Sprintf("allowedAudience %v", r.AllowedAudience))
	}
	if len(r.AllowedScopes) > 0 {
		parts = append(parts, fmt.Sprintf("allowedScopes %v", r.AllowedScopes))
	}
	for _, cc := range r.CustomClaims {
		parts = append(parts, fmt.Sprintf("customClaims %s %s %s %q", cc.Name, cc.Type, cc.Operator, cc.Values))
	}
	if len(parts) == 0 {
		return "no claim rule"
	}
	return strings.Join(parts, ", ")
}
