package agentcore

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// RuntimeARN is a parsed AgentCore Runtime ARN:
// arn:{partition}:bedrock-agentcore:{region}:{account}:runtime/{runtimeId}.
type RuntimeARN struct {
	Partition string // aws, aws-us-gov, aws-cn
	Region    string // us-west-2
	Account   string // 12 digits
	RuntimeID string // my_mcp_server-xyz123
}

// ErrNotRuntimeARN is returned by ParseRuntimeARN for input that is not an
// AgentCore runtime ARN.
var ErrNotRuntimeARN = errors.New("agentcore: not an AgentCore runtime ARN (want arn:aws:bedrock-agentcore:REGION:ACCOUNT:runtime/ID)")

var (
	partitionRe = regexp.MustCompile(`^aws(-[a-z]+)*$`)
	regionRe    = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d$`)
	accountRe   = regexp.MustCompile(`^\d{12}$`)
	// runtimeIDRe follows the service model: a name of letters, digits and
	// underscores, a hyphen, then a 10-character suffix; we accept any
	// non-empty run of those characters so that future id shapes still parse.
	runtimeIDRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$`)
)

// ParseRuntimeARN parses s as an AgentCore runtime ARN. The error says which
// part is wrong.
func ParseRuntimeARN(s string) (RuntimeARN, error) {
	parts := strings.SplitN(s, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" {
		return RuntimeARN{}, ErrNotRuntimeARN
	}
	a := RuntimeARN{Partition: parts[1], Region: parts[3], Account: parts[4]}
	switch {
	case parts[2] != "bedrock-agentcore":
		return RuntimeARN{}, fmt.Errorf("%w: service is %q, want bedrock-agentcore", ErrNotRuntimeARN, parts[2])
	case !partitionRe.MatchString(a.Partition):
		return RuntimeARN{}, fmt.Errorf("%w: partition %q is not an AWS partition", ErrNotRuntimeARN, a.Partition)
	case !regionRe.MatchString(a.Region):
		return RuntimeARN{}, fmt.Errorf("%w: region %q is not an AWS region such as us-west-2", ErrNotRuntimeARN, a.Region)
	case !accountRe.MatchString(a.Account):
		return RuntimeARN{}, fmt.Errorf("%w: account %q is not 12 digits", ErrNotRuntimeARN, a.Account)
	}
	id, ok := strings.CutPrefix(parts[5], "runtime/")
	if !ok {
		return RuntimeARN{}, fmt.Errorf("%w: resource %q does not start with runtime/", ErrNotRuntimeARN, parts[5])
	}
	if !runtimeIDRe.MatchString(id) {
		return RuntimeARN{}, fmt.Errorf("%w: runtime id %q has characters other than letters, digits, _ and -", ErrNotRuntimeARN, id)
	}
	a.RuntimeID = id
	return a, nil
}

// String returns the ARN in its canonical form.
func (a RuntimeARN) String() string {
	return "arn:" + a.Partition + ":bedrock-agentcore:" + a.Region + ":" + a.Account + ":runtime/" + a.RuntimeID
}

// DefaultEndpoint returns the AgentCore data-plane endpoint for the ARN's
// region and partition, e.g. https://bedrock-agentcore.us-west-2.amazonaws.com.
func (a RuntimeARN) DefaultEndpoint() string {
	suffix := "amazonaws.com"
	if a.Partition == "aws-cn" {
		suffix = "amazonaws.com.cn"
	}
	return "https://bedrock-agentcore." + a.Region + "." + suffix
}

// EscapeSegment escapes s as one URL path segment with nothing left safe but
// the unreserved characters of RFC 3986, as Python's quote(s, safe="") does.
// AgentCore expects the whole ARN escaped this way (":" as %3A, "/" as %2F).
func EscapeSegment(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// InvocationURL returns
// {endpoint}/runtimes/{escaped ARN}/invocations?qualifier={qualifier}. The
// ARN travels as one escaped path segment: the URL's RawPath keeps %3A and
// %2F so that net/http sends it exactly so. An empty qualifier means DEFAULT.
func InvocationURL(endpoint string, arn RuntimeARN, qualifier string) (*url.URL, error) {
	base, err := url.Parse(endpoint)
	if err != nil {
		return nil, fmt.Errorf("agentcore: endpoint URL %q: %w", endpoint, err)
	}
	if base.Scheme == "" || base.Host == "" {
		return nil, fmt.Errorf("agentcore: endpoint URL %q is not absolute (want https://HOST)", endpoint)
	}
	if qualifier == "" {
		qualifier = "DEFAULT"
	}
	prefix := strings.TrimSuffix(base.EscapedPath(), "/")
	escaped := EscapeSegment(arn.String())
	u := &url.URL{
		Scheme:   base.Scheme,
		Host:     base.Host,
		Path:     strings.TrimSuffix(base.Path, "/") + "/runtimes/" + arn.String() + "/invocations",
		RawPath:  prefix + "/runtimes/" + escaped + "/invocations",
		RawQuery: url.Values{"qualifier": {qualifier}}.Encode(),
	}
	return u, nil
}
