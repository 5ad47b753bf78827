package awsjwt_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/golang-jwt/jwt/v5"

	"github.com/agentcore-proxy/agentcore-proxy/internal/awsjwt"
	"github.com/agentcore-proxy/agentcore-proxy/internal/awssecrets"
	"github.com/agentcore-proxy/agentcore-proxy/internal/emulator"
	"github.com/agentcore-proxy/agentcore-proxy/jwtcheck"
)

// startAWS runs the emulator's fake AWS host for one test.
func startAWS(t *testing.T) *emulator.AWS {
	t.Helper()
	a, err := emulator.StartAWS(t.Context(), emulator.AWSConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

// awsConfig points the SDK at the fake host with its example key.
func awsConfig(a *emulator.AWS) aws.Config {
	k := emulator.DefaultAWSCredential
	return aws.Config{
		Region:       "aws-global", // replaced by Config.Region: the source never signs for the global endpoint
		BaseEndpoint: aws.String(a.URL()),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: k.AccessKeyID, SecretAccessKey: k.SecretAccessKey}, nil
		}),
	}
}

func TestSourceToken(t *testing.T) {
	a := startAWS(t)
	trust, err := a.WebIdentityTrust()
	if err != nil {
		t.Fatal(err)
	}
	checker, err := jwtcheck.New(t.Context(), jwtcheck.Config{
		Issuer:  a.WebIdentityIssuer(),
		JWKSURI: a.WebIdentityIssuer() + "/.well-known/jwks.json",
		Rules:   jwtcheck.Rules{AllowedAudience: []string{"agentcore-runtime"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := checker.WaitReady(t.Context()); err != nil {
		t.Fatalf("the issuer's JWKS did not load: %v", err)
	}
	tests := []struct {
		name     string
		cfg      awsjwt.Config
		wantAlg  string
		wantLife time.Duration
		wantTags map[string]any
	}{
		{name: "defaults", cfg: awsjwt.Config{Audience: []string{"agentcore-runtime"}}, wantAlg: "RS256", wantLife: awsjwt.DefaultDuration},
		{name: "ES384 for a minute", cfg: awsjwt.Config{Audience: []string{"agentcore-runtime"}, Algorithm: awsjwt.ES384, Duration: time.Minute}, wantAlg: "ES384", wantLife: time.Minute},
		{name: "tags become claims", cfg: awsjwt.Config{Audience: []string{"agentcore-runtime", "other"}, Duration: time.Hour,
			Tags: []awsjwt.Tag{{"team", "payments"}, {"env", "dev"}}}, wantAlg: "RS256", wantLife: time.Hour,
			wantTags: map[string]any{"team": "payments", "env": "dev"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.AWS, cfg.Region = awsConfig(a), a.Region()
			src, err := awsjwt.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			before := time.Now().Truncate(time.Second)
			tok, err := src.Token(t.Context())
			if err != nil {
				t.Fatalf("Token = %v", err)
			}
			if life := tok.Expiry.Sub(before); life < tt.wantLife || life > tt.wantLife+2*time.Second {
				t.Errorf("token lifetime = %v, want %v", life, tt.wantLife)
			}
			claims, err := checker.Check(tok.AccessToken)
			if err != nil {
				t.Fatalf("jwtcheck against the issuer's JWKS: %v", err)
			}
			_ = claims
			parsed, _, err := jwt.NewParser().ParseUnverified(tok.AccessToken, jwt.MapClaims{})
			if err != nil {
				t.Fatal(err)
			}
			if parsed.Method.Alg() != tt.wantAlg {
				t.Errorf("alg = %s, want %s", parsed.Method.Alg(), tt.wantAlg)
			}
			mc := parsed.Claims.(jwt.MapClaims)
			if sub, _ := mc["sub"].(string); sub != "arn:aws:iam::123456789012:role/agentcore-proxy" {
				t.Errorf("sub = %q, want the role ARN", sub)
			}
			ns, _ := mc[awsjwt.ClaimNamespace].(map[string]any)
			if ns["aws_account"] != "123456789012" || ns["source_region"] != a.Region() {
				t.Errorf("%s = %v, want aws_account and source_region", awsjwt.ClaimNamespace, ns)
			}
			tags, _ := ns["request_tags"].(map[string]any)
			if len(tags) != len(tt.wantTags) {
				t.Errorf("request_tags = %v, want %v", tags, tt.wantTags)
			}
			for k, v := range tt.wantTags {
				if tags[k] != v {
					t.Errorf("request_tags[%q] = %v, want %v", k, tags[k], v)
				}
			}
			c, err := awsjwt.ParseClaims(tok.AccessToken)
			if err != nil || c.Issuer != a.WebIdentityIssuer() || !c.Expiry.Equal(tok.Expiry) {
				t.Errorf("ParseClaims = %+v, %v; want iss %s, exp %v", c, err, a.WebIdentityIssuer(), tok.Expiry)
			}
			// The emulated runtime trusts these tokens through WebIdentityTrust.
			if _, err := trust.Keyfunc(parsed); err != nil {
				t.Errorf("WebIdentityTrust().Keyfunc = %v", err)
			}
		})
	}
}

func TestSourceErrors(t *testing.T) {
	a := startAWS(t)
	key := emulator.DefaultAWSCredential.AccessKeyID
	newSource := func(t *testing.T, cfg aws.Config) *awsjwt.Source {
		src, err := awsjwt.New(awsjwt.Config{AWS: cfg, Region: a.Region(), Audience: []string{"rt"}})
		if err != nil {
			t.Fatal(err)
		}
		return src
	}
	t.Run("federation disabled", func(t *testing.T) {
		a.SetOutboundFederation(false)
		defer a.SetOutboundFederation(true)
		_, err := newSource(t, awsConfig(a)).Token(t.Context())
		var fd *awsjwt.FederationDisabledError
		if !errors.As(err, &fd) || fd.Reason() != "aws_jwt_federation_disabled" {
			t.Fatalf("Token = %v, want *FederationDisabledError", err)
		}
		if !strings.Contains(err.Error(), "outbound identity federation is not enabled for this account") {
			t.Errorf("Token = %q, want it to say federation is not enabled", err)
		}
	})
	t.Run("access denied", func(t *testing.T) {
		a.DenyActions(key, "sts:GetWebIdentityToken")
		defer a.DenyActions(key)
		_, err := newSource(t, awsConfig(a)).Token(t.Context())
		var ae *awssecrets.AccessError
		if !errors.As(err, &ae) || ae.Action != "sts:GetWebIdentityToken" {
			t.Fatalf("Token = %v, want *awssecrets.AccessError for sts:GetWebIdentityToken", err)
		}
	})
	t.Run("no credentials", func(t *testing.T) {
		cfg := awsConfig(a)
		cfg.Credentials = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{}, errors.New("no provider in the chain gave credentials")
		})
		_, err := newSource(t, cfg).Token(t.Context())
		var nc *awssecrets.NoCredentialsError
		if !errors.As(err, &nc) {
			t.Fatalf("Token = %v, want *awssecrets.NoCredentialsError", err)
		}
	})
	for _, r := range a.Requests() {
		if r.Service == "sts" && r.Action != "GetWebIdentityToken" {
			t.Errorf("request %+v, want only GetWebIdentityToken", r)
		}
	}
}

// TestSourceEndpointFromEnv: AWS_ENDPOINT_URL_STS reaches the client through the standard loader,
// and the region signed for is the route's, not the environment's.
func TestSourceEndpointFromEnv(t *testing.T) {
	a := startAWS(t)
	k := emulator.DefaultAWSCredential
	t.Setenv("AWS_ENDPOINT_URL_STS", a.URL())
	t.Setenv("AWS_ACCESS_KEY_ID", k.AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", k.SecretAccessKey)
	t.Setenv("AWS_REGION", "eu-central-1")
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	cfg, err := awssecrets.LoadConfig(t.Context(), awssecrets.ConfigOptions{})
	if err != nil {
		t.Fatal(err)
	}
	src, err := awsjwt.New(awsjwt.Config{AWS: cfg, Region: a.Region(), Audience: []string{"rt"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.Token(t.Context()); err != nil {
		t.Fatalf("Token = %v, want a token from the fake host named by AWS_ENDPOINT_URL_STS", err)
	}
}

func TestConfigValidate(t *testing.T) {
	long := strings.Repeat("k", awsjwt.MaxTagKeyLen+1)
	tests := []struct {
		name       string
		cfg        awsjwt.Config
		wantFields []string
	}{
		{name: "good", cfg: awsjwt.Config{Region: "us-west-2", Audience: []string{"a"}}},
		{name: "global region", cfg: awsjwt.Config{Region: "aws-global", Audience: []string{"a"}}, wantFields: []string{"Region"}},
		{name: "no audience, bad alg, short duration", cfg: awsjwt.Config{Region: "us-west-2", Algorithm: "HS256", Duration: 30 * time.Second},
			wantFields: []string{"Audience", "Algorithm", "Duration"}},
		{name: "fractional duration", cfg: awsjwt.Config{Region: "us-west-2", Audience: []string{"a"}, Duration: 90500 * time.Millisecond}, wantFields: []string{"Duration"}},
		{name: "bad tags", cfg: awsjwt.Config{Region: "us-west-2", Audience: []string{"a"},
			Tags: []awsjwt.Tag{{Key: long}, {Key: "a", Value: strings.Repeat("v", 257)}, {Key: "x"}, {Key: "X"}, {Key: "no,comma"}}},
			wantFields: []string{"Tags", "Tags", "Tags", "Tags"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			var got []string
			for _, e := range unwrapAll(err) {
				var fe *awsjwt.FieldError
				if errors.As(e, &fe) {
					got = append(got, fe.Field)
				}
			}
			if strings.Join(got, ",") != strings.Join(tt.wantFields, ",") {
				t.Errorf("Validate() = %v; fields %v, want %v", err, got, tt.wantFields)
			}
		})
	}
}

func unwrapAll(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	if err == nil {
		return nil
	}
	return []error{err}
}

// hostRecorder fails every request after recording its host: nothing leaves the machine.
type hostRecorder struct{ hosts []string }

func (h *hostRecorder) Do(req *http.Request) (*http.Response, error) {
	h.hosts = append(h.hosts, req.URL.Host)
	return nil, errors.New("recorded, not sent")
}

// TestSourceRegionalEndpoint: with no endpoint override, GetWebIdentityToken goes to STS's regional
// endpoint of the route's region, us-east-1 included, never the global sts.amazonaws.com.
func TestSourceRegionalEndpoint(t *testing.T) {
	for _, region := range []string{"us-west-2", "us-east-1", "eu-central-1"} {
		t.Run(region, func(t *testing.T) {
			rec := &hostRecorder{}
			cfg := aws.Config{Region: "aws-global", HTTPClient: rec, RetryMaxAttempts: 1,
				Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
					return aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "secret"}, nil
				})}
			src, err := awsjwt.New(awsjwt.Config{AWS: cfg, Region: region, Audience: []string{"rt"}})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := src.Token(t.Context()); err == nil {
				t.Fatal("Token = nil error through a recorder that sends nothing")
			}
			want := "sts." + region + ".amazonaws.com"
			if len(rec.hosts) == 0 || rec.hosts[0] != want {
				t.Errorf("request hosts = %v, want %s", rec.hosts, want)
			}
		})
	}
}
