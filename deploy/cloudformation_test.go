package deploy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

const (
	cognitoTemplate = "cloudformation/cognito-m2m.yaml"
	authorizerFile  = "cloudformation/agentcore-authorizer.json"
)

// The template is parsed with yaml.v3, turning each short-form intrinsic
// (!Ref, !Sub, !GetAtt, ...) into its long JSON form, then decoded strictly:
// the top level and every resource's Properties into structs that mirror
// the CloudFormation resource reference for the types used here. A type
// without a mirror fails the test. (github.com/awslabs/goformation/v7 is not
// served by the Go module proxy, and v4, the last version it serves, predates
// UserPoolTier and PreTokenGenerationConfig.)

type cfnTemplate struct {
	AWSTemplateFormatVersion string
	Description              string
	Parameters               map[string]struct {
		Type           string
		Description    string
		Default        any
		AllowedValues  []string
		AllowedPattern string
	}
	Conditions map[string]any
	Resources  map[string]cfnResource
	Outputs    map[string]struct {
		Description string
		Value       any
	}
}

type cfnResource struct {
	Type       string
	Condition  string
	DependsOn  any
	Properties json.RawMessage
}

type userPoolProps struct {
	UserPoolName          any
	UserPoolTier          any
	AdminCreateUserConfig struct{ AllowAdminCreateUserOnly bool }
	LambdaConfig          any
}

type userPoolDomainProps struct {
	Domain     any
	UserPoolId any
}

type resourceServerProps struct {
	UserPoolId any
	Identifier string
	Name       any
	Scopes     []struct{ ScopeName, ScopeDescription string }
}

type userPoolClientProps struct {
	UserPoolId                      any
	ClientName                      any
	GenerateSecret                  bool
	AllowedOAuthFlowsUserPoolClient bool
	AllowedOAuthFlows               []string
	AllowedOAuthScopes              []string
	SupportedIdentityProviders      []string
	AccessTokenValidity             int
	TokenValidityUnits              struct{ AccessToken, IdToken, RefreshToken string }
	EnableTokenRevocation           bool
}

type ssmParameterProps struct {
	Name, Type, Value, Description any
}

type secretProps struct {
	Name, Description, SecretString, KmsKeyId any
}

type roleProps struct {
	AssumeRolePolicyDocument any
	ManagedPolicyArns        []any
}

type functionProps struct {
	Description, Runtime, Handler, Role any
	Timeout, MemorySize                 int
	Environment                         struct{ Variables map[string]any }
	Code                                struct{ ZipFile string }
}

type permissionProps struct {
	Action, FunctionName, Principal, SourceArn any
}

// propertyTypes maps each resource type the template may use to a strict
// mirror of its properties.
var propertyTypes = map[string]func() any{
	"AWS::Cognito::UserPool":               func() any { return new(userPoolProps) },
	"AWS::Cognito::UserPoolDomain":         func() any { return new(userPoolDomainProps) },
	"AWS::Cognito::UserPoolResourceServer": func() any { return new(resourceServerProps) },
	"AWS::Cognito::UserPoolClient":         func() any { return new(userPoolClientProps) },
	"AWS::SSM::Parameter":                  func() any { return new(ssmParameterProps) },
	"AWS::SecretsManager::Secret":          func() any { return new(secretProps) },
	"AWS::IAM::Role":                       func() any { return new(roleProps) },
	"AWS::Lambda::Function":                func() any { return new(functionProps) },
	"AWS::Lambda::Permission":              func() any { return new(permissionProps) },
}

// intrinsic turns a short-form tag into its long form; the tags CloudFormation knows.
var intrinsics = map[string]string{
	"!Ref": "Ref", "!Condition": "Condition", "!Sub": "Fn::Sub", "!GetAtt": "Fn::GetAtt",
	"!If": "Fn::If", "!Equals": "Fn::Equals", "!Not": "Fn::Not", "!And": "Fn::And", "!Or": "Fn::Or",
	"!Join": "Fn::Join", "!Select": "Fn::Select", "!Split": "Fn::Split", "!GetAZs": "Fn::GetAZs",
	"!FindInMap": "Fn::FindInMap", "!Base64": "Fn::Base64", "!ImportValue": "Fn::ImportValue", "!Cidr": "Fn::Cidr",
}

// toValue converts a yaml.v3 node to JSON-able values, intrinsics in long form.
func toValue(n *yaml.Node) (any, error) {
	var v any
	switch n.Kind {
	case yaml.DocumentNode:
		return toValue(n.Content[0])
	case yaml.MappingNode:
		m := map[string]any{}
		for i := 0; i < len(n.Content); i += 2 {
			k := n.Content[i].Value
			if _, dup := m[k]; dup {
				return nil, fmt.Errorf("line %d: duplicate key %q", n.Content[i].Line, k)
			}
			e, err := toValue(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			m[k] = e
		}
		v = m
	case yaml.SequenceNode:
		s := []any{}
		for _, c := range n.Content {
			e, err := toValue(c)
			if err != nil {
				return nil, err
			}
			s = append(s, e)
		}
		v = s
	case yaml.ScalarNode:
		if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
			v = n.Value
		} else if err := n.Decode(&v); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("line %d: unsupported YAML node (aliases are not CloudFormation)", n.Line)
	}
	if !strings.HasPrefix(n.Tag, "!") || strings.HasPrefix(n.Tag, "!!") {
		return v, nil
	}
	fn, ok := intrinsics[n.Tag]
	if !ok {
		return nil, fmt.Errorf("line %d: unknown tag %s", n.Line, n.Tag)
	}
	if n.Tag == "!GetAtt" {
		if s, ok := v.(string); ok {
			res, attr, ok := strings.Cut(s, ".")
			if !ok {
				return nil, fmt.Errorf("line %d: !GetAtt %q: want Resource.Attribute", n.Line, s)
			}
			v = []any{res, attr}
		}
	}
	return map[string]any{fn: v}, nil
}

func loadTemplate(t *testing.T) (cfnTemplate, any) {
	t.Helper()
	b, err := os.ReadFile(cognitoTemplate)
	if err != nil {
		t.Fatal(err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		t.Fatalf("%s: %v", cognitoTemplate, err)
	}
	v, err := toValue(&root)
	if err != nil {
		t.Fatalf("%s: %v", cognitoTemplate, err)
	}
	j, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var tpl cfnTemplate
	strictJSON(t, cognitoTemplate, j, &tpl)
	return tpl, v
}

func strictJSON(t *testing.T, where string, b []byte, into any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		t.Fatalf("%s: strict decoding into %T: %v", where, into, err)
	}
}

// props decodes the Properties of the one resource of type typ.
func props[T any](t *testing.T, tpl cfnTemplate, typ string) (string, cfnResource, *T) {
	t.Helper()
	var name string
	for n, r := range tpl.Resources {
		if r.Type == typ {
			if name != "" {
				t.Fatalf("two %s resources: %s and %s", typ, name, n)
			}
			name = n
		}
	}
	if name == "" {
		t.Fatalf("no %s resource", typ)
	}
	p := new(T)
	strictJSON(t, cognitoTemplate+" "+name, tpl.Resources[name].Properties, p)
	return name, tpl.Resources[name], p
}

func TestCloudFormationParsesStrictly(t *testing.T) {
	tpl, raw := loadTemplate(t)
	if tpl.AWSTemplateFormatVersion != "2010-09-09" {
		t.Errorf("AWSTemplateFormatVersion = %q", tpl.AWSTemplateFormatVersion)
	}
	for name, r := range tpl.Resources {
		mk, ok := propertyTypes[r.Type]
		if !ok {
			t.Errorf("resource %s: type %s is not one this test knows", name, r.Type)
			continue
		}
		into := mk()
		strictJSON(t, cognitoTemplate+" "+name, r.Properties, into)
		// encoding/json matches names case-insensitively; CloudFormation does not.
		var keys map[string]json.RawMessage
		if err := json.Unmarshal(r.Properties, &keys); err != nil {
			t.Fatal(err)
		}
		for k := range keys {
			if _, ok := reflect.TypeOf(into).Elem().FieldByName(k); !ok {
				t.Errorf("resource %s: property %s is not spelled as in the %s reference", name, k, r.Type)
			}
		}
		if r.Condition != "" {
			if _, ok := tpl.Conditions[r.Condition]; !ok {
				t.Errorf("resource %s: Condition %s is not defined", name, r.Condition)
			}
		}
	}
	// Every Ref, GetAtt and ${...} names a parameter, a resource or a pseudo parameter.
	known := map[string]bool{"AWS::Region": true, "AWS::Partition": true, "AWS::AccountId": true, "AWS::StackName": true, "AWS::StackId": true, "AWS::URLSuffix": true, "AWS::NoValue": true}
	for n := range tpl.Parameters {
		known[n] = true
	}
	for n := range tpl.Resources {
		known[n] = true
	}
	walk(raw, func(fn string, arg any) {
		var refs []string
		switch fn {
		case "Ref":
			refs = []string{fmt.Sprint(arg)}
		case "Fn::GetAtt":
			if a, ok := arg.([]any); ok && len(a) == 2 {
				refs = []string{fmt.Sprint(a[0])}
			}
		case "Fn::Sub":
			if s, ok := arg.(string); ok {
				for _, m := range regexp.MustCompile(`\$\{([^}!]+)\}`).FindAllStringSubmatch(s, -1) {
					res, _, _ := strings.Cut(m[1], ".")
					refs = append(refs, res)
				}
			}
		case "Fn::If":
			if a, ok := arg.([]any); ok && len(a) == 3 {
				if _, ok := tpl.Conditions[fmt.Sprint(a[0])]; !ok {
					t.Errorf("Fn::If names an undefined condition %v", a[0])
				}
			}
		}
		for _, r := range refs {
			if !known[r] {
				t.Errorf("%s names %q: not a parameter, resource or pseudo parameter", fn, r)
			}
		}
	})
	for _, o := range []string{"DiscoveryUrl", "ClientId", "TokenEndpoint"} {
		if _, ok := tpl.Outputs[o]; !ok {
			t.Errorf("Outputs has no %s", o)
		}
	}
}

// walk calls f for each intrinsic function in v.
func walk(v any, f func(fn string, arg any)) {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			if k == "Ref" || strings.HasPrefix(k, "Fn::") {
				f(k, e)
			}
			walk(e, f)
		}
	case []any:
		for _, e := range v {
			walk(e, f)
		}
	}
}

func TestCognitoM2MClient(t *testing.T) {
	tpl, _ := loadTemplate(t)
	rsName, _, rs := props[resourceServerProps](t, tpl, "AWS::Cognito::UserPoolResourceServer")
	if rs.Identifier != "default-m2m-resource-server" {
		t.Errorf("resource server Identifier = %q, want default-m2m-resource-server", rs.Identifier)
	}
	var scopes []string
	for _, s := range rs.Scopes {
		scopes = append(scopes, rs.Identifier+"/"+s.ScopeName)
	}
	if !slices.Contains(scopes, "default-m2m-resource-server/read") {
		t.Errorf("resource server scopes = %v, want read", scopes)
	}

	_, res, c := props[userPoolClientProps](t, tpl, "AWS::Cognito::UserPoolClient")
	if !slices.Equal(c.AllowedOAuthFlows, []string{"client_credentials"}) {
		t.Errorf("AllowedOAuthFlows = %v, want only client_credentials", c.AllowedOAuthFlows)
	}
	if !c.GenerateSecret || !c.AllowedOAuthFlowsUserPoolClient {
		t.Errorf("GenerateSecret = %v, AllowedOAuthFlowsUserPoolClient = %v, want both true", c.GenerateSecret, c.AllowedOAuthFlowsUserPoolClient)
	}
	if len(c.AllowedOAuthScopes) == 0 {
		t.Errorf("AllowedOAuthScopes is empty")
	}
	for _, s := range c.AllowedOAuthScopes {
		if !slices.Contains(scopes, s) {
			t.Errorf("AllowedOAuthScopes has %q, not a scope of the resource server (%v)", s, scopes)
		}
	}
	if res.DependsOn != rsName && !slices.Contains(toStrings(res.DependsOn), rsName) {
		t.Errorf("the client's DependsOn = %v, want %s (its scopes must exist first)", res.DependsOn, rsName)
	}
	if c.AccessTokenValidity != 0 && (c.AccessTokenValidity < 5 || c.AccessTokenValidity > 1440) || c.TokenValidityUnits.AccessToken != "minutes" {
		t.Errorf("AccessTokenValidity = %d %s, want 5 to 1440 minutes", c.AccessTokenValidity, c.TokenValidityUnits.AccessToken)
	}
	_, _, d := props[userPoolDomainProps](t, tpl, "AWS::Cognito::UserPoolDomain")
	if d.Domain == nil {
		t.Errorf("the user pool domain has no Domain")
	}
}

func toStrings(v any) []string {
	var out []string
	if a, ok := v.([]any); ok {
		for _, e := range a {
			out = append(out, fmt.Sprint(e))
		}
	}
	return out
}

func TestCognitoSettingsInSSM(t *testing.T) {
	tpl, _ := loadTemplate(t)
	got := map[string]string{} // name -> SSM type or "secretsmanager"
	for name, r := range tpl.Resources {
		switch r.Type {
		case "AWS::SSM::Parameter":
			var p ssmParameterProps
			strictJSON(t, name, r.Properties, &p)
			got[subString(t, p.Name)] = fmt.Sprint(p.Type)
		case "AWS::SecretsManager::Secret":
			var p secretProps
			strictJSON(t, name, r.Properties, &p)
			got[subString(t, p.Name)] = "secretsmanager"
			want := map[string]any{"Fn::GetAtt": []any{"UserPoolClient", "ClientSecret"}}
			if fmt.Sprint(p.SecretString) != fmt.Sprint(want) {
				t.Errorf("secret %s SecretString = %v, want !GetAtt UserPoolClient.ClientSecret", name, p.SecretString)
			}
		}
	}
	want := map[string]string{
		"/app/mcp/${McpName}/machine_client_id":     "String",
		"/app/mcp/${McpName}/cognito_discovery_url": "String",
		"/app/mcp/${McpName}/cognito_secret":        "secretsmanager",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("settings = %v, want %v", got, want)
	}
}

// subString returns the template string of a !Sub value.
func subString(t *testing.T, v any) string {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		return fmt.Sprint(v)
	}
	s, ok := m["Fn::Sub"].(string)
	if !ok {
		t.Errorf("name %v: want a !Sub string", v)
	}
	return s
}

func TestPreTokenGenerationLambda(t *testing.T) {
	tpl, _ := loadTemplate(t)
	_, _, pool := props[userPoolProps](t, tpl, "AWS::Cognito::UserPool")
	cfg, _ := json.Marshal(pool.LambdaConfig)
	if !strings.Contains(string(cfg), `"Fn::If":["AddClaims",{"PreTokenGenerationConfig":{"LambdaArn":{"Fn::GetAtt":["PreTokenGenerationFunction","Arn"]},"LambdaVersion":"V3_0"}},{"Ref":"AWS::NoValue"}]`) {
		t.Errorf("UserPool LambdaConfig = %s, want V3_0 PreTokenGenerationConfig under the AddClaims condition", cfg)
	}
	for _, typ := range []string{"AWS::Lambda::Function", "AWS::Lambda::Permission", "AWS::IAM::Role"} {
		for name, r := range tpl.Resources {
			if r.Type == typ && r.Condition != "AddClaims" {
				t.Errorf("%s (%s) has Condition %q, want AddClaims", name, typ, r.Condition)
			}
		}
	}
	_, _, perm := props[permissionProps](t, tpl, "AWS::Lambda::Permission")
	if fmt.Sprint(perm.Principal) != "cognito-idp.amazonaws.com" {
		t.Errorf("Lambda permission principal = %v, want cognito-idp.amazonaws.com", perm.Principal)
	}
	_, _, fn := props[functionProps](t, tpl, "AWS::Lambda::Function")
	if len(fn.Code.ZipFile) > 4096 {
		t.Errorf("ZipFile is %d bytes; CloudFormation takes at most 4096", len(fn.Code.ZipFile))
	}

	// Run the handler on V3_0 events, where python3 is installed.
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed: the Lambda's code was not run")
	}
	for _, tc := range []struct {
		name, trigger, audience, want string
	}{
		{name: "m2m with audience", trigger: "TokenGeneration_ClientCredentials", audience: "my-api",
			want: `{"accessTokenGeneration": {"claimsToAddOrOverride": {"aud": "my-api"}}}`},
		{name: "m2m without audience", trigger: "TokenGeneration_ClientCredentials", want: `{}`},
		{name: "user sign-in", trigger: "TokenGeneration_HostedAuth",
			want: `{"idTokenGeneration": {"claimsToAddOrOverride": {"client_id": "abc123"}}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			script := fn.Code.ZipFile + `
import json, sys
event = {"version": "3", "triggerSource": sys.argv[1], "callerContext": {"clientId": "abc123"}, "request": {}, "response": {}}
print(json.dumps(handler(event, None)["response"]["claimsAndScopeOverrideDetails"], sort_keys=True))
`
			cmd := exec.Command(py, "-c", script, tc.trigger)
			cmd.Env = append(os.Environ(), "TOKEN_AUDIENCE="+tc.audience)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("python3 handler: %v\n%s", err, out)
			}
			if got := strings.TrimSpace(string(out)); got != tc.want {
				t.Errorf("handler(%s) = %s, want %s", tc.trigger, got, tc.want)
			}
		})
	}
}

// authorizer mirrors the runtime's authorizerConfiguration (CreateAgentRuntime).
type authorizer struct {
	AuthorizerConfiguration struct {
		CustomJWTAuthorizer struct {
			DiscoveryURL    string   `json:"discoveryUrl"`
			AllowedClients  []string `json:"allowedClients"`
			AllowedAudience []string `json:"allowedAudience"`
			AllowedScopes   []string `json:"allowedScopes"`
		} `json:"customJWTAuthorizer"`
	} `json:"authorizerConfiguration"`
}

func TestAuthorizerSnippet(t *testing.T) {
	b, err := os.ReadFile(authorizerFile)
	if err != nil {
		t.Fatal(err)
	}
	var a authorizer
	strictJSON(t, authorizerFile, b, &a)
	j := a.AuthorizerConfiguration.CustomJWTAuthorizer
	if !regexp.MustCompile(`^https://cognito-idp\.[a-z0-9-]+\.amazonaws\.com/[a-z0-9-]+_[A-Za-z0-9]+/\.well-known/openid-configuration$`).MatchString(j.DiscoveryURL) {
		t.Errorf("discoveryUrl = %q, want a Cognito user pool's discovery URL", j.DiscoveryURL)
	}
	if len(j.AllowedClients) != 1 || len(j.AllowedAudience) != 0 {
		t.Errorf("allowedClients = %v, allowedAudience = %v: want one client and no audience (Cognito access tokens have no aud)", j.AllowedClients, j.AllowedAudience)
	}
	// The same pool and client as the sidecar manifests.
	env := render(t).configMap.Data
	if env["AGENTCORE_PROXY_DISCOVERY_URL"] != j.DiscoveryURL || env["AGENTCORE_PROXY_CLIENT_ID"] != j.AllowedClients[0] {
		t.Errorf("configmap.yaml discovery URL and client id = %s %s, want the authorizer's %s %v",
			env["AGENTCORE_PROXY_DISCOVERY_URL"], env["AGENTCORE_PROXY_CLIENT_ID"], j.DiscoveryURL, j.AllowedClients)
	}
	// The template's AuthorizerConfiguration output has the same shape.
	tpl, _ := loadTemplate(t)
	out := subString(t, tpl.Outputs["AuthorizerConfiguration"].Value)
	var fromStack struct {
		CustomJWTAuthorizer json.RawMessage `json:"customJWTAuthorizer"`
	}
	strictJSON(t, "Outputs.AuthorizerConfiguration", []byte(out), &fromStack)
	var inner struct {
		DiscoveryURL   string   `json:"discoveryUrl"`
		AllowedClients []string `json:"allowedClients"`
	}
	strictJSON(t, "Outputs.AuthorizerConfiguration", fromStack.CustomJWTAuthorizer, &inner)
}
