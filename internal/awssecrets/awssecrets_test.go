package awssecrets

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentcore-proxy/agentcore-proxy/internal/emulator"
	"github.com/agentcore-proxy/agentcore-proxy/internal/redact"
	"github.com/aws/aws-sdk-go-v2/aws"
)

// awsEnv lists the variables through which a developer's own AWS setup could leak into a test.
var awsEnv = []string{
	"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION",
	"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_CREDENTIAL_EXPIRATION",
	"AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME", "AWS_WEB_IDENTITY_TOKEN_FILE",
	"AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
	"AWS_CONTAINER_AUTHORIZATION_TOKEN", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
	"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SSM", "AWS_ENDPOINT_URL_SECRETS_MANAGER", "AWS_ENDPOINT_URL_STS",
	"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "AWS_CA_BUNDLE", "AWS_USE_FIPS_ENDPOINT", "AWS_USE_DUALSTACK_ENDPOINT",
	"AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE", "AWS_EC2_METADATA_SERVICE_ENDPOINT",
}

// isolateAWS removes every AWS variable for the test, points the shared files at empty temp files
// and disables IMDS, so that only what the test sets reaches the SDK. It returns the two file paths.
func isolateAWS(t *testing.T) (configFile, credentialsFile string) {
	t.Helper()
	for _, k := range awsEnv {
		t.Setenv(k, "") // restores the old value at cleanup
		os.Unsetenv(k)
	}
	dir := t.TempDir()
	configFile, credentialsFile = filepath.Join(dir, "config"), filepath.Join(dir, "credentials")
	for _, f := range []string{configFile, credentialsFile} {
		if err := os.WriteFile(f, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("AWS_CONFIG_FILE", configFile)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", credentialsFile)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_MAX_ATTEMPTS", "1")
	return configFile, credentialsFile
}

// useFake points the SDK at the fake with the default emulator credentials from the environment.
func useFake(t *testing.T, a *emulator.AWS) {
	t.Helper()
	isolateAWS(t)
	t.Setenv("AWS_ACCESS_KEY_ID", emulator.DefaultAWSCredential.AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", emulator.DefaultAWSCredential.SecretAccessKey)
	t.Setenv("AWS_ENDPOINT_URL", a.URL())
}

func startFake(t *testing.T, cfg emulator.AWSConfig) *emulator.AWS {
	t.Helper()
	a, err := emulator.StartAWS(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

func loadConfig(t *testing.T, opts ConfigOptions) aws.Config {
	t.Helper()
	cfg, err := LoadConfig(t.Context(), opts)
	if err != nil {
		t.Fatalf("LoadConfig() error = %v", err)
	}
	return cfg
}

const prefix = "/app/mcp/demo"

func guideParameters() []emulator.Parameter {
	return []emulator.Parameter{
		{Name: prefix + "/machine_client_id", Type: "String", Value: "client-1"},
		{Name: prefix + "/cognito_secret", Type: "SecureString", Value: "secret-1"},
		{Name: prefix + "/cognito_discovery_url", Type: "String", Value: "https://cognito-idp.us-west-2.amazonaws.com/pool/.well-known/openid-configuration"},
	}
}

func TestReadPrefix(t *testing.T) {
	a := startFake(t, emulator.AWSConfig{Parameters: guideParameters()})
	useFake(t, a)
	// The service-specific variable wins over AWS_ENDPOINT_URL, which here leads nowhere.
	t.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
	t.Setenv("AWS_ENDPOINT_URL_SSM", a.URL())
	cfg := loadConfig(t, ConfigOptions{FallbackRegion: "us-west-2"})

	got, err := ReadPrefix(t.Context(), cfg, prefix+"/")
	if err != nil {
		t.Fatalf("ReadPrefix() error = %v", err)
	}
	if p := got[ParamClientSecret]; p.Value != "secret-1" || p.Type != "SecureString" || p.Name != prefix+"/cognito_secret" {
		t.Errorf("ReadPrefix()[cognito_secret] = %s %s, want the decrypted SecureString", p.Name, p.Type)
	}
	if got[ParamClientID].Value != "client-1" || got[ParamDiscoveryURL].Type != "String" {
		t.Errorf("ReadPrefix() = %v", got)
	}
	// Only the names asked for: an explicit flag overrides the others.
	got, err = ReadPrefix(t.Context(), cfg, prefix, ParamClientID)
	if err != nil || len(got) != 1 {
		t.Errorf("ReadPrefix(client id only) = %d parameters, %v; want 1", len(got), err)
	}
}

func TestReadPrefixErrors(t *testing.T) {
	a := startFake(t, emulator.AWSConfig{Parameters: guideParameters()[:1]})
	useFake(t, a)
	cfg := loadConfig(t, ConfigOptions{FallbackRegion: "us-west-2"})

	_, err := ReadPrefix(t.Context(), cfg, prefix)
	var nf *ParameterNotFoundError
	if !errors.As(err, &nf) || !strings.Contains(err.Error(), prefix+"/cognito_secret") || !strings.Contains(err.Error(), prefix+"/cognito_discovery_url") {
		t.Errorf("ReadPrefix(missing) error = %v, want ParameterNotFoundError naming both full paths", err)
	}

	a.SetParameter(guideParameters()[1])
	a.SetParameter(guideParameters()[2])
	a.BreakKMS(true)
	_, err = ReadPrefix(t.Context(), cfg, prefix)
	var ae *AccessError
	if !errors.As(err, &ae) || ae.Action != "kms:Decrypt" {
		t.Errorf("ReadPrefix(KMS refuses) error = %v, want AccessError for kms:Decrypt", err)
	}
	a.BreakKMS(false)

	a.DenyActions(emulator.DefaultAWSCredential.AccessKeyID, "ssm:GetParameters")
	_, err = ReadPrefix(t.Context(), cfg, prefix)
	if !errors.As(err, &ae) || ae.Action != "ssm:GetParameters" || !strings.Contains(err.Error(), "ssm:GetParameters") {
		t.Errorf("ReadPrefix(denied) error = %v, want AccessError naming ssm:GetParameters", err)
	}
	a.DenyActions(emulator.DefaultAWSCredential.AccessKeyID, "ssm:GetParameter")
	_, err = NewSSMSource(cfg, prefix+"/cognito_secret", nil).Secret(t.Context())
	if !errors.As(err, &ae) || ae.Action != "ssm:GetParameter" {
		t.Errorf("SSM source (denied) error = %v, want AccessError naming ssm:GetParameter", err)
	}
	a.DenyActions(emulator.DefaultAWSCredential.AccessKeyID)
	_, err = NewSSMSource(cfg, prefix+"/nope", nil).Secret(t.Context())
	if !errors.As(err, &nf) || nf.Names[0] != prefix+"/nope" {
		t.Errorf("SSM source (missing) error = %v, want ParameterNotFoundError naming %s/nope", err, prefix)
	}
}

func TestSecretsManagerSource(t *testing.T) {
	a := startFake(t, emulator.AWSConfig{Secrets: []emulator.Secret{
		{Name: "plain", SecretString: "plain-secret"},
		{Name: "json", SecretString: `{"client_secret":"json-secret","other":"x"}`},
	}})
	useFake(t, a)
	cfg := loadConfig(t, ConfigOptions{FallbackRegion: "us-west-2"})
	tests := []struct {
		name, id, key, want string
		wantErr             any
	}{
		{name: "plain", id: "plain", want: "plain-secret"},
		{name: "JSON default key", id: "json", want: "json-secret"},
		{name: "JSON named key", id: "json", key: "other", want: "x"},
		{name: "JSON without the key", id: "json", key: "secret", wantErr: new(*MissingKeyError)},
		{name: "missing", id: "nope", wantErr: new(*SecretNotFoundError)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NewSecretsManagerSource(cfg, tt.id, tt.key, nil).Secret(t.Context())
			if tt.wantErr != nil {
				if err == nil || !errors.As(err, tt.wantErr) {
					t.Errorf("Secret() error = %v, want %T", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "json-secret") {
					t.Errorf("Secret() error = %v, shows a secret value", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("Secret() = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
	var me *MissingKeyError
	_, err := NewSecretsManagerSource(cfg, "json", "secret", nil).Secret(t.Context())
	if errors.As(err, &me) && (me.Key != "secret" || strings.Join(me.Keys, ",") != "client_secret,other") {
		t.Errorf("MissingKeyError = %+v, want key secret and keys client_secret,other", me)
	}
}

func TestReloadRotatesAtMostOnceAMinute(t *testing.T) {
	a := startFake(t, emulator.AWSConfig{Secrets: []emulator.Secret{{Name: "s", SecretString: "one"}}})
	useFake(t, a)
	cfg := loadConfig(t, ConfigOptions{FallbackRegion: "us-west-2"})
	var logs bytes.Buffer
	src := NewSecretsManagerSource(cfg, "s", "", slog.New(slog.NewTextHandler(&logs, nil)))
	clock := time.Now()
	src.(*cached).now = func() time.Time { return clock }

	if v, err := src.Secret(t.Context()); err != nil || v != "one" {
		t.Fatalf("Secret() = %q, %v", v, err)
	}
	a.RotateSecret("s", "two")
	if changed, err := src.Reload(t.Context()); !changed || err != nil {
		t.Errorf("first Reload() = %v, %v; want true (the first re-read is never held back)", changed, err)
	}
	if v, _ := src.Secret(t.Context()); v != "two" {
		t.Errorf("Secret() after reload = %q, want two", v)
	}
	a.RotateSecret("s", "three")
	if changed, err := src.Reload(t.Context()); changed || err != nil {
		t.Errorf("Reload() right after a re-read = %v, %v; want false (throttled)", changed, err)
	}
	clock = clock.Add(MinReloadInterval)
	if changed, err := src.Reload(t.Context()); !changed || err != nil {
		t.Errorf("Reload() a minute later = %v, %v; want true", changed, err)
	}
	reads := 0
	for _, r := range a.Requests() {
		if r.Action == "GetSecretValue" {
			reads++
		}
	}
	if reads != 3 {
		t.Errorf("GetSecretValue calls = %d, want 3", reads)
	}
	if strings.Contains(logs.String(), "one") || strings.Contains(logs.String(), "two") ||
		!strings.Contains(logs.String(), redact.Fingerprint("three")) {
		t.Errorf("logs = %s, want fingerprints and never values", logs.String())
	}
}

func TestFileSourceFollowsSymlinkSwap(t *testing.T) {
	// The layout of a Kubernetes secret volume: secret -> ..data/secret, ..data -> ..2026_v1.
	dir := t.TempDir()
	for v, val := range map[string]string{"..v1": "first\n", "..v2": "second\n"} {
		os.Mkdir(filepath.Join(dir, v), 0o700)
		os.WriteFile(filepath.Join(dir, v, "secret"), []byte(val), 0o600)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Symlink("..v1", filepath.Join(dir, "..data")))
	must(os.Symlink("..data/secret", filepath.Join(dir, "secret")))
	src := NewFileSource(filepath.Join(dir, "secret"), nil)
	if v, err := src.Secret(t.Context()); err != nil || v != "first" {
		t.Fatalf("Secret() = %q, %v; want first", v, err)
	}
	if changed, err := src.Reload(t.Context()); changed || err != nil {
		t.Errorf("Reload() unchanged = %v, %v; want false", changed, err)
	}
	// Atomic swap, as the kubelet does: a new link renamed over ..data.
	must(os.Symlink("..v2", filepath.Join(dir, "..data_tmp")))
	must(os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")))
	if v, err := src.Secret(t.Context()); err != nil || v != "second" {
		t.Errorf("Secret() after the swap = %q, %v; want second", v, err)
	}
}

func TestNoCredentialsNamesSources(t *testing.T) {
	isolateAWS(t)
	cfg := loadConfig(t, ConfigOptions{FallbackRegion: "us-west-2"})
	_, err := CheckCredentials(t.Context(), cfg)
	var nc *NoCredentialsError
	if !errors.As(err, &nc) {
		t.Fatalf("CheckCredentials() error = %v, want NoCredentialsError", err)
	}
	for _, want := range []string{"AWS_ACCESS_KEY_ID", "AWS_SHARED_CREDENTIALS_FILE", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "IMDS"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("CheckCredentials() error = %v, want it to name %s", err, want)
		}
	}
}

func TestProfileRegionAndWhoAmI(t *testing.T) {
	a := startFake(t, emulator.AWSConfig{Region: "eu-west-1"})
	configFile, credsFile := isolateAWS(t)
	os.WriteFile(configFile, []byte("[profile proxy]\nregion = eu-west-1\n"), 0o600)
	os.WriteFile(credsFile, []byte("[proxy]\naws_access_key_id = "+emulator.DefaultAWSCredential.AccessKeyID+
		"\naws_secret_access_key = "+emulator.DefaultAWSCredential.SecretAccessKey+"\n"), 0o600)
	t.Setenv("AWS_ENDPOINT_URL_STS", a.URL())

	cfg := loadConfig(t, ConfigOptions{Profile: "proxy", FallbackRegion: "us-west-2"})
	if cfg.Region != "eu-west-1" {
		t.Errorf("LoadConfig(profile proxy).Region = %q, want eu-west-1 from the profile", cfg.Region)
	}
	id, err := WhoAmI(t.Context(), cfg)
	if err != nil || id.Account != "123456789012" || id.ARN != emulator.DefaultAWSCredential.ARN {
		t.Errorf("WhoAmI() = %+v, %v", id, err)
	}
	if fp, err := CheckCredentials(t.Context(), cfg); err != nil || fp != redact.Fingerprint(emulator.DefaultAWSCredential.AccessKeyID) {
		t.Errorf("CheckCredentials() = %q, %v", fp, err)
	}

	t.Setenv("AWS_REGION", "")
	os.Unsetenv("AWS_REGION")
	cfg = loadConfig(t, ConfigOptions{FallbackRegion: "ap-south-1"})
	if cfg.Region != "ap-south-1" {
		t.Errorf("LoadConfig(no region anywhere).Region = %q, want the fallback ap-south-1", cfg.Region)
	}
}
