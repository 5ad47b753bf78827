package emulator

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
)

func startAWS(t *testing.T, cfg AWSConfig) *AWS {
	t.Helper()
	a, err := StartAWS(t.Context(), cfg)
	if err != nil {
		t.Fatalf("StartAWS() error = %v", err)
	}
	t.Cleanup(func() {
		if err := a.Close(); err != nil {
			t.Errorf("Close() error = %v", err)
		}
	})
	return a
}

// sdkConfig is an SDK configuration that reaches only the fake: static credentials, no retries.
func sdkConfig(a *AWS, creds aws.Credentials) aws.Config {
	return aws.Config{
		Region:       a.Region(),
		BaseEndpoint: aws.String(a.URL()),
		Credentials:  aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return creds, nil }),
		Retryer:      func() aws.Retryer { return aws.NopRetryer{} },
	}
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func TestFakeSSM(t *testing.T) {
	a := startAWS(t, AWSConfig{Parameters: []Parameter{
		{Name: "/app/mcp/demo/machine_client_id", Type: "String", Value: "client-1"},
		{Name: "/app/mcp/demo/cognito_secret", Type: "SecureString", Value: "s3cret"},
	}})
	c := ssm.NewFromConfig(sdkConfig(a, testCreds))
	ctx := t.Context()

	out, err := c.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/app/mcp/demo/cognito_secret"), WithDecryption: aws.Bool(true)})
	if err != nil || aws.ToString(out.Parameter.Value) != "s3cret" || out.Parameter.Type != "SecureString" {
		t.Fatalf("GetParameter(decrypt) = %+v, %v; want s3cret SecureString", out, err)
	}
	out, err = c.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/app/mcp/demo/cognito_secret")})
	if err != nil || aws.ToString(out.Parameter.Value) == "s3cret" {
		t.Errorf("GetParameter(no decrypt) = %v, %v; want ciphertext", aws.ToString(out.Parameter.Value), err)
	}
	_, err = c.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/app/mcp/demo/nope")})
	if apiCode(err) != "ParameterNotFound" {
		t.Errorf("GetParameter(missing) error = %v, want ParameterNotFound", err)
	}
	many, err := c.GetParameters(ctx, &ssm.GetParametersInput{Names: []string{"/app/mcp/demo/machine_client_id", "/app/mcp/demo/nope"}, WithDecryption: aws.Bool(true)})
	if err != nil || len(many.Parameters) != 1 || len(many.InvalidParameters) != 1 || many.InvalidParameters[0] != "/app/mcp/demo/nope" {
		t.Errorf("GetParameters() = %+v, %v; want one found, one invalid", many, err)
	}

	a.BreakKMS(true)
	_, err = c.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/app/mcp/demo/cognito_secret"), WithDecryption: aws.Bool(true)})
	if apiCode(err) != "AccessDeniedException" || !strings.Contains(err.Error(), "kms:Decrypt") {
		t.Errorf("GetParameter(KMS broken) error = %v, want AccessDeniedException naming kms:Decrypt", err)
	}
	a.BreakKMS(false)

	a.DenyActions(testCreds.AccessKeyID, "ssm:GetParameter")
	_, err = c.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/app/mcp/demo/machine_client_id")})
	if apiCode(err) != "AccessDeniedException" || !strings.Contains(err.Error(), "ssm:GetParameter on resource: arn:aws:ssm:us-west-2:123456789012:parameter/app/mcp/demo/machine_client_id") {
		t.Errorf("GetParameter(denied) error = %v, want AccessDeniedException naming ssm:GetParameter and the ARN", err)
	}

	bad := ssm.NewFromConfig(sdkConfig(a, aws.Credentials{AccessKeyID: testCreds.AccessKeyID, SecretAccessKey: "wrong"}))
	_, err = bad.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/app/mcp/demo/machine_client_id")})
	if apiCode(err) != "InvalidSignatureException" {
		t.Errorf("GetParameter(wrong secret) error = %v, want InvalidSignatureException", err)
	}
	if reqs := a.Requests(); len(reqs) != 7 || reqs[0].Service != "ssm" || reqs[0].Action != "GetParameter" || reqs[6].Rejection != ReasonSigV4Mismatch {
		t.Errorf("Requests() = %+v, want 7 with the last refused as %s", reqs, ReasonSigV4Mismatch)
	}
}

func TestFakeSecretsManager(t *testing.T) {
	a := startAWS(t, AWSConfig{Secrets: []Secret{{Name: "agentcore-proxy/client", SecretString: `{"client_secret":"one"}`}}})
	c := secretsmanager.NewFromConfig(sdkConfig(a, testCreds))
	ctx := t.Context()
	out, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("agentcore-proxy/client")})
	if err != nil || aws.ToString(out.SecretString) != `{"client_secret":"one"}` {
		t.Fatalf("GetSecretValue() = %+v, %v", out, err)
	}
	a.RotateSecret("agentcore-proxy/client", "two")
	out, err = c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: out.ARN})
	if err != nil || aws.ToString(out.SecretString) != "two" {
		t.Errorf("GetSecretValue(by ARN, after rotation) = %v, %v; want two", aws.ToString(out.SecretString), err)
	}
	_, err = c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("missing")})
	if apiCode(err) != "ResourceNotFoundException" {
		t.Errorf("GetSecretValue(missing) error = %v, want ResourceNotFoundException", err)
	}
}

func TestFakeSTS(t *testing.T) {
	a := startAWS(t, AWSConfig{})
	out, err := sts.NewFromConfig(sdkConfig(a, testCreds)).GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{})
	if err != nil || aws.ToString(out.Account) != "123456789012" || aws.ToString(out.Arn) != DefaultAWSCredential.ARN || aws.ToString(out.UserId) != DefaultAWSCredential.UserID {
		t.Fatalf("GetCallerIdentity() = %+v, %v", out, err)
	}
	a.SetClockSkew(10 * time.Minute)
	_, err = sts.NewFromConfig(sdkConfig(a, testCreds)).GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{})
	if apiCode(err) != "SignatureDoesNotMatch" || !strings.Contains(err.Error(), "Signature expired") {
		t.Errorf("GetCallerIdentity(skewed clock) error = %v, want SignatureDoesNotMatch: Signature expired", err)
	}
	a.SetClockSkew(0)
	a.ExpireCredential(testCreds.AccessKeyID)
	_, err = sts.NewFromConfig(sdkConfig(a, testCreds)).GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{})
	if apiCode(err) != "ExpiredToken" {
		t.Errorf("GetCallerIdentity(expired) error = %v, want ExpiredToken", err)
	}
}
