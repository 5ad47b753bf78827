package deploy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

const taskDefinitionFile = "ecs/task-definition.json"

// loadTaskDefinition decodes the task definition (the JSON of
// `aws ecs register-task-definition --cli-input-json`) into the SDK's
// RegisterTaskDefinitionInput. The SDK types have no json tags, and
// encoding/json matches field names case-insensitively, so DisallowUnknownFields
// alone would accept "NAME" for "name": exactKeys then requires every key to be
// the lowerCamel form of the Go field it filled, as the ECS API spells it.
func loadTaskDefinition(t *testing.T) ecs.RegisterTaskDefinitionInput {
	t.Helper()
	b, err := os.ReadFile(taskDefinitionFile)
	if err != nil {
		t.Fatal(err)
	}
	var in ecs.RegisterTaskDefinitionInput
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		t.Fatalf("strict decoding of %s into ecs.RegisterTaskDefinitionInput: %v", taskDefinitionFile, err)
	}
	var raw any
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	for _, err := range exactKeys("", raw, reflect.TypeOf(in)) {
		t.Errorf("%s: %v", taskDefinitionFile, err)
	}
	return in
}

// exactKeys reports JSON keys that are not exactly lowerCamel(Go field name).
func exactKeys(at string, v any, typ reflect.Type) []error {
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	var errs []error
	switch v := v.(type) {
	case map[string]any:
		if typ.Kind() == reflect.Map {
			for k, e := range v {
				errs = append(errs, exactKeys(at+"."+k, e, typ.Elem())...)
			}
			return errs
		}
		for k, e := range v {
			f, ok := typ.FieldByName(strings.ToUpper(k[:1]) + k[1:])
			if k[:1] != strings.ToLower(k[:1]) {
				errs = append(errs, fmt.Errorf("%s.%s: want lowerCamel case, as the ECS API spells it", at, k))
				continue
			}
			if !ok || !f.IsExported() {
				errs = append(errs, fmt.Errorf("%s.%s: no field %s in %s", at, k, k, typ.Name()))
				continue
			}
			errs = append(errs, exactKeys(at+"."+k, e, f.Type)...)
		}
	case []any:
		for i, e := range v {
			errs = append(errs, exactKeys(fmt.Sprintf("%s[%d]", at, i), e, typ.Elem())...)
		}
	}
	return errs
}

func container(t *testing.T, in ecs.RegisterTaskDefinitionInput, name string) types.ContainerDefinition {
	t.Helper()
	for _, c := range in.ContainerDefinitions {
		if c.Name != nil && *c.Name == name {
			return c
		}
	}
	t.Fatalf("%s: no container %q", taskDefinitionFile, name)
	return types.ContainerDefinition{}
}

func val(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func TestECSTaskDefinition(t *testing.T) {
	in := loadTaskDefinition(t)
	if in.NetworkMode != types.NetworkModeAwsvpc {
		t.Errorf("networkMode = %q, want awsvpc (containers share localhost)", in.NetworkMode)
	}
	if !slices.Equal(in.RequiresCompatibilities, []types.Compatibility{types.CompatibilityFargate}) {
		t.Errorf("requiresCompatibilities = %v, want [FARGATE]", in.RequiresCompatibilities)
	}
	if val(in.ExecutionRoleArn) == "" {
		t.Errorf("executionRoleArn missing: ECS needs it to read secrets and write logs")
	}
	proxy := container(t, in, "agentcore-proxy")
	agent := container(t, in, "agent")

	env := map[string]string{}
	var names []string
	for _, kv := range proxy.Environment {
		env[val(kv.Name)] = val(kv.Value)
		names = append(names, val(kv.Name))
	}
	secrets := map[string]string{}
	for _, s := range proxy.Secrets {
		secrets[val(s.Name)] = val(s.ValueFrom)
		names = append(names, val(s.Name))
	}
	checkEnvNames(t, taskDefinitionFile, names)
	if _, ok := env["AGENTCORE_PROXY_CLIENT_SECRET"]; ok {
		t.Errorf("the client secret is a plain environment value; want it in secrets (valueFrom)")
	}
	from := secrets["AGENTCORE_PROXY_CLIENT_SECRET"]
	if !strings.HasPrefix(from, "arn:aws:secretsmanager:") && !strings.HasPrefix(from, "arn:aws:ssm:") {
		t.Errorf("AGENTCORE_PROXY_CLIENT_SECRET valueFrom = %q, want a Secrets Manager or SSM parameter ARN", from)
	}
	if !strings.Contains(from, "/app/mcp/") || !strings.Contains(from, "/cognito_secret") {
		t.Errorf("AGENTCORE_PROXY_CLIENT_SECRET valueFrom = %q, want the /app/mcp/NAME/cognito_secret the CloudFormation template creates", from)
	}

	listen := env["AGENTCORE_PROXY_LISTEN"]
	checkLoopback(t, "agentcore-proxy AGENTCORE_PROXY_LISTEN", listen)
	wantURL := "http://" + listen + "/mcp"
	if !slices.ContainsFunc(agent.Environment, func(kv types.KeyValuePair) bool { return val(kv.Value) == wantURL }) {
		t.Errorf("agent environment has no %s", wantURL)
	}

	for _, check := range []struct {
		what string
		ok   bool
	}{
		{what: `user "65532:65532"`, ok: val(proxy.User) == "65532:65532"},
		{what: "readonlyRootFilesystem true", ok: proxy.ReadonlyRootFilesystem != nil && *proxy.ReadonlyRootFilesystem},
		{what: "essential true", ok: proxy.Essential != nil && *proxy.Essential},
		{what: `healthCheck ["CMD","/agentcore-proxy","healthcheck"]`, ok: proxy.HealthCheck != nil && slices.Equal(proxy.HealthCheck.Command, []string{"CMD", "/agentcore-proxy", "healthcheck"})},
		{what: `command ["serve"]`, ok: slices.Equal(proxy.Command, []string{"serve"})},
	} {
		if !check.ok {
			t.Errorf("agentcore-proxy: want %s", check.what)
		}
	}
	if !slices.ContainsFunc(agent.DependsOn, func(d types.ContainerDependency) bool {
		return val(d.ContainerName) == "agentcore-proxy" && d.Condition == types.ContainerConditionHealthy
	}) {
		t.Errorf("agent dependsOn = %+v, want agentcore-proxy HEALTHY", agent.DependsOn)
	}
	drain, err := time.ParseDuration(env["AGENTCORE_PROXY_DRAIN_TIMEOUT"])
	if err != nil {
		t.Fatalf("AGENTCORE_PROXY_DRAIN_TIMEOUT: %v", err)
	}
	if proxy.StopTimeout == nil || time.Duration(*proxy.StopTimeout)*time.Second <= drain {
		t.Errorf("agentcore-proxy stopTimeout = %v, want more than the drain timeout %s", proxy.StopTimeout, drain)
	}
	for _, c := range in.ContainerDefinitions {
		if c.LogConfiguration == nil || c.LogConfiguration.LogDriver != types.LogDriverAwslogs {
			t.Errorf("container %s: want logConfiguration with awslogs", val(c.Name))
		}
		if c.ReadonlyRootFilesystem == nil || !*c.ReadonlyRootFilesystem {
			t.Errorf("container %s: want readonlyRootFilesystem true", val(c.Name))
		}
	}
}

func TestECSStrictness(t *testing.T) {
	// The exact-key check must catch a key in the wrong case, which
	// encoding/json alone would accept.
	var in ecs.RegisterTaskDefinitionInput
	raw := map[string]any{"Family": "x", "containerDefinitions": []any{map[string]any{"readOnlyRootFilesystem": true}}}
	errs := exactKeys("", raw, reflect.TypeOf(in))
	if len(errs) != 2 {
		t.Errorf("exactKeys(Family, readOnlyRootFilesystem) = %v, want 2 errors", errs)
	}
}
