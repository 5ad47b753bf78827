package route

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/agentcore-proxy/agentcore-proxy/agentcore"
	"github.com/agentcore-proxy/agentcore-proxy/internal/awssecrets"
	"github.com/agentcore-proxy/agentcore-proxy/internal/config"
	"github.com/agentcore-proxy/agentcore-proxy/proxy"
)

// awsState is AuthSetup's AWS part: one configuration per (profile,
// fallback region), and the routes whose sources have been read.
type awsState struct {
	configs map[string]aws.Config
	read    map[*config.ResolvedAuth]bool
}

func (a *AuthSetup) awsState() *awsState {
	if a.aws == nil {
		a.aws = &awsState{configs: map[string]aws.Config{}, read: map[*config.ResolvedAuth]bool{}}
	}
	return a.aws
}

// AWSConfig loads the AWS configuration of profile with region as the
// fallback region, once per pair.
func (a *AuthSetup) AWSConfig(ctx context.Context, profile, region string) (aws.Config, error) {
	st := a.awsState()
	key := profile + "\x00" + region
	if cfg, ok := st.configs[key]; ok {
		return cfg, nil
	}
	cfg, err := awssecrets.LoadConfig(ctx, awssecrets.ConfigOptions{Profile: profile, FallbackRegion: region, Logger: a.opts.Logger})
	if err != nil {
		return aws.Config{}, err
	}
	cfg.Credentials = a.withRedaction(cfg.Credentials)
	st.configs[key] = cfg
	return cfg, nil
}

// ReadSources reads what route r takes from SSM Parameter Store or Secrets
// Manager (explicit settings win over parameters) and sets up the source
// its client secret is re-read from when it rotates. It runs once per
// route, before discovery, and sends nothing when the route takes nothing
// from AWS.
func (a *AuthSetup) ReadSources(ctx context.Context, r config.Resolved) error {
	ra := r.Auth
	if ra == nil || a.awsState().read[ra] {
		return nil
	}
	log, settings := a.opts.Logger.With("route", r.Name), r.Names()
	region := ""
	if r.ARN != nil {
		region = r.ARN.Region
	}
	var cfg aws.Config
	if ra.AWS.Any() {
		var err error
		if cfg, err = a.AWSConfig(ctx, ra.AWS.Profile, region); err != nil {
			return fmt.Errorf("%s: %w", awsField(r), err)
		}
	}
	var src awssecrets.Source
	switch {
	case ra.SecretFile() != "":
		src = awssecrets.NewFileSource(ra.SecretFile(), log)
	case ra.AWS.SecretARN != "":
		src = awssecrets.NewSecretsManagerSource(cfg, ra.AWS.SecretARN, ra.AWS.SecretJSONKey, log)
	}
	if p := ra.AWS.SSMPrefix; p != "" {
		var names []string
		if ra.ClientID == "" {
			names = append(names, awssecrets.ParamClientID)
		}
		if ra.DiscoveryURL == "" && ra.TokenURL == "" {
			names = append(names, awssecrets.ParamDiscoveryURL)
		}
		if src == nil && ra.SecretEnv() == "" {
			names = append(names, awssecrets.ParamClientSecret)
		}
		if len(names) > 0 {
			params, err := awssecrets.ReadPrefix(ctx, cfg, p, names...)
			if err != nil {
				return explainAWSRead(err, settings(config.SettingSSMPrefix)+" "+p, region, settings)
			}
			for _, n := range names {
				ra.AWS.Read = append(ra.AWS.Read, config.ReadParameter{Name: params[n].Name, Type: params[n].Type})
			}
			if v, ok := params[awssecrets.ParamClientID]; ok {
				ra.ClientID = strings.TrimSpace(v.Value)
			}
			if v, ok := params[awssecrets.ParamDiscoveryURL]; ok {
				u := strings.TrimSpace(v.Value)
				if _, err := proxy.CheckSecureURL(u); err != nil {
					return fmt.Errorf("SSM parameter %s %q: %w", v.Name, u, err)
				}
				if !strings.HasSuffix(u, "/.well-known/openid-configuration") {
					return fmt.Errorf("SSM parameter %s %q: must end in /.well-known/openid-configuration, as AgentCore's authorizer requires", v.Name, u)
				}
				ra.DiscoveryURL = u
			}
			if _, ok := params[awssecrets.ParamClientSecret]; ok {
				src = awssecrets.NewSSMSource(cfg, awssecrets.ParameterPath(p, awssecrets.ParamClientSecret), log)
			}
		}
	}
	if src == nil {
		a.aws.read[ra] = true
		return nil // a secret from the environment cannot rotate
	}
	secret, err := src.Secret(ctx)
	if err != nil {
		field := settings(config.SettingClientSecretFile) + " " + ra.SecretFile()
		switch {
		case ra.AWS.SecretARN != "":
			field = settings(config.SettingClientSecretARN) + " " + ra.AWS.SecretARN
		case ra.SecretFile() == "":
			field = settings(config.SettingSSMPrefix) + " " + ra.AWS.SSMPrefix
		}
		return explainAWSRead(err, field, region, settings)
	}
	if ra.AWS.SecretARN != "" {
		ra.AWS.Read = append(ra.AWS.Read, config.ReadParameter{Name: src.Origin(), Type: "SecretString"})
	}
	ra.Secret = strings.TrimSpace(secret)
	ra.AWS.Source = src
	a.aws.read[ra] = true
	return nil
}

// awsField names the AWS setting of route r, for a failure to load the AWS
// configuration.
func awsField(r config.Resolved) string {
	if r.Auth.AWS.SSMPrefix != "" {
		return r.Names()(config.SettingSSMPrefix)
	}
	return r.Names()(config.SettingClientSecretARN)
}

// explainAWSRead turns a failure to read from SSM or Secrets Manager into a
// sentence that names the setting, what is missing or refused, and the fix.
func explainAWSRead(err error, field, region string, names agentcore.Namer) error {
	var (
		nf   *awssecrets.ParameterNotFoundError
		acc  *awssecrets.AccessError
		mk   *awssecrets.MissingKeyError
		snf  *awssecrets.SecretNotFoundError
		nocr *awssecrets.NoCredentialsError
	)
	where := ""
	if region != "" {
		where = " (region " + region + " unless AWS_REGION or the profile names another)"
	}
	switch {
	case errors.As(err, &nf):
		names := slices.Clone(nf.Names)
		return fmt.Errorf("%s: SSM parameter %s not found%s: create %s (the AWS CLI's ssm put-parameter), or give the setting it holds explicitly",
			field, strings.Join(names, ", "), where, names[0])
	case errors.As(err, &acc) && acc.Action == "kms:Decrypt":
		return fmt.Errorf("%s: the SecureString %s cannot be decrypted: grant the proxy's role kms:Decrypt on the parameter's KMS key (with kms:ViaService ssm.REGION.amazonaws.com; see deploy/iam/agentcore-proxy-policy.json)", field, acc.Resource)
	case errors.As(err, &acc):
		return fmt.Errorf("%s: access denied to %s: grant the proxy's role %s on it (see deploy/iam/agentcore-proxy-policy.json)", field, acc.Resource, acc.Action)
	case errors.As(err, &mk):
		return fmt.Errorf("%s: the secret is JSON without the key %q (keys present: %s): give the key with %s, or store the secret under %q",
			field, mk.Key, strings.Join(mk.Keys, ", "), names(config.SettingClientSecretJSONKey), mk.Key)
	case errors.As(err, &snf):
		return fmt.Errorf("%s: no Secrets Manager secret %s%s: check the name or ARN", field, snf.SecretID, where)
	case errors.As(err, &nocr):
		return fmt.Errorf("%s: reading it needs AWS credentials, and none were found; tried %s", field, strings.Join(nocr.Tried, "; "))
	}
	return fmt.Errorf("%s: %w", field, err)
}
