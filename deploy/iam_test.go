package deploy

import (
	"bytes"
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// policyDocument is an IAM policy in the one shape this kit uses: arrays for Action and Resource,
// no NotAction or NotResource. Decoded strictly, so a misspelt key fails.
type policyDocument struct {
	Version   string
	Statement []policyStatement
}

type policyStatement struct {
	Sid       string
	Effect    string
	Principal map[string]string         `json:",omitempty"`
	Action    []string                  // IAM actions
	Resource  []string                  `json:",omitempty"`
	Condition map[string]map[string]any `json:",omitempty"`
}

func loadPolicy(t *testing.T, path string) policyDocument {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc policyDocument
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("strict decoding of %s: %v", path, err)
	}
	// encoding/json matches keys case-insensitively; IAM does not.
	for _, key := range regexp.MustCompile(`"([A-Za-z]+)":`).FindAllStringSubmatch(string(b), -1) {
		if k := key[1]; slices.Contains([]string{"version", "statement", "sid", "effect", "principal", "action", "resource", "condition"}, strings.ToLower(k)) &&
			k != strings.ToUpper(k[:1])+strings.ToLower(k[1:2])+k[2:] {
			t.Errorf("%s: key %q is not spelt as IAM spells it", path, k)
		}
	}
	if doc.Version != "2012-10-17" {
		t.Errorf("%s: Version = %q, want 2012-10-17 (policy variables and conditions need it)", path, doc.Version)
	}
	sids := map[string]bool{}
	for _, s := range doc.Statement {
		if s.Effect != "Allow" || s.Sid == "" || sids[s.Sid] || len(s.Action) == 0 {
			t.Errorf("%s: statement %+v: want Effect Allow, a unique Sid and actions", path, s)
		}
		sids[s.Sid] = true
	}
	return doc
}

// TestTaskRolePolicy checks the least-privilege policy of the proxy's role (ECS task role or EKS
// IRSA role): exactly the actions the proxy calls, on ARNs of the right shape, never "*" except for
// sts:GetWebIdentityToken, which has no resource type and is narrowed by its token's audience and
// lifetime instead.
func TestTaskRolePolicy(t *testing.T) {
	doc := loadPolicy(t, "iam/agentcore-proxy-policy.json")
	arnFor := map[string]*regexp.Regexp{
		"bedrock-agentcore:InvokeAgentRuntime": regexp.MustCompile(`^arn:aws:bedrock-agentcore:[a-z0-9-]+:\d{12}:runtime/[A-Za-z0-9_-]+(/runtime-endpoint/\*)?$`),
		"bedrock-agentcore:GetAgentRuntime":    regexp.MustCompile(`^arn:aws:bedrock-agentcore:[a-z0-9-]+:\d{12}:runtime/[A-Za-z0-9_-]+$`),
		"ssm:GetParameter":                     regexp.MustCompile(`^arn:aws:ssm:[a-z0-9-]+:\d{12}:parameter/[A-Za-z0-9_/.-]+/\*$`),
		"ssm:GetParameters":                    regexp.MustCompile(`^arn:aws:ssm:[a-z0-9-]+:\d{12}:parameter/[A-Za-z0-9_/.-]+/\*$`),
		"secretsmanager:GetSecretValue":        regexp.MustCompile(`^arn:aws:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9_/+=.@-]+-\*$`),
		"kms:Decrypt":                          regexp.MustCompile(`^arn:aws:kms:[a-z0-9-]+:\d{12}:key/[0-9a-f-]{36}$`),
		"sts:GetWebIdentityToken":              regexp.MustCompile(`^\*$`),
	}
	var actions []string
	for _, s := range doc.Statement {
		if s.Principal != nil {
			t.Errorf("statement %s has a Principal: an identity policy has none", s.Sid)
		}
		for _, a := range s.Action {
			actions = append(actions, a)
			re, ok := arnFor[a]
			if !ok {
				t.Errorf("statement %s allows %s, which the proxy never calls", s.Sid, a)
				continue
			}
			for _, r := range s.Resource {
				if !re.MatchString(r) {
					t.Errorf("statement %s: resource %q for %s does not match %s", s.Sid, r, a, re)
				}
			}
		}
		if slices.Contains(s.Action, "sts:GetWebIdentityToken") {
			aud, _ := s.Condition["ForAllValues:StringEquals"]["sts:IdentityTokenAudience"].([]any)
			_, lifetime := s.Condition["NumericLessThanEquals"]["sts:DurationSeconds"]
			if len(s.Action) != 1 || len(aud) == 0 || !lifetime {
				t.Errorf("statement %s: sts:GetWebIdentityToken alone, narrowed by sts:IdentityTokenAudience and sts:DurationSeconds, want; got %+v", s.Sid, s)
			}
		}
		if slices.Contains(s.Action, "kms:Decrypt") {
			via, _ := s.Condition["StringEquals"]["kms:ViaService"].([]any)
			if len(via) != 2 || !strings.HasPrefix(via[0].(string), "ssm.") || !strings.HasPrefix(via[1].(string), "secretsmanager.") {
				t.Errorf("statement %s: kms:Decrypt without a kms:ViaService condition for SSM and Secrets Manager: %v", s.Sid, s.Condition)
			}
		}
	}
	slices.Sort(actions)
	want := []string{"bedrock-agentcore:GetAgentRuntime", "bedrock-agentcore:InvokeAgentRuntime", "kms:Decrypt", "secretsmanager:GetSecretValue", "ssm:GetParameter", "ssm:GetParameters", "sts:GetWebIdentityToken"}
	if !slices.Equal(actions, want) {
		t.Errorf("actions = %v, want %v", actions, want)
	}
}

// TestRoleTrustPolicies checks that the ECS trust names the tasks service and the ECS task
// definition's role, and that the IRSA trust pins the service account the kustomize base annotates.
func TestRoleTrustPolicies(t *testing.T) {
	ecsTrust := loadPolicy(t, "iam/ecs-task-role-trust.json")
	if s := ecsTrust.Statement[0]; s.Principal["Service"] != "ecs-tasks.amazonaws.com" || !slices.Equal(s.Action, []string{"sts:AssumeRole"}) {
		t.Errorf("ECS trust = %+v, want ecs-tasks.amazonaws.com allowed sts:AssumeRole", s)
	}
	td := loadTaskDefinition(t)
	if got := *td.TaskRoleArn; !strings.HasSuffix(got, ":role/mcp-agent-task") {
		t.Errorf("taskRoleArn = %q, want the role the kit's policy is for (mcp-agent-task)", got)
	}

	irsa := loadPolicy(t, "iam/eks-irsa-role-trust.json")
	s := irsa.Statement[0]
	if !slices.Equal(s.Action, []string{"sts:AssumeRoleWithWebIdentity"}) || !strings.Contains(s.Principal["Federated"], ":oidc-provider/oidc.eks.") {
		t.Errorf("IRSA trust = %+v, want an EKS OIDC provider allowed sts:AssumeRoleWithWebIdentity", s)
	}
	r := render(t)
	var sub, aud string
	for k, v := range s.Condition["StringEquals"] {
		switch {
		case strings.HasSuffix(k, ":sub"):
			sub, _ = v.(string)
		case strings.HasSuffix(k, ":aud"):
			aud, _ = v.(string)
		}
	}
	ns := r.serviceAccount.Namespace
	if ns == "" {
		ns = "default"
	}
	if want := "system:serviceaccount:" + ns + ":" + r.serviceAccount.Name; sub != want || aud != "sts.amazonaws.com" {
		t.Errorf("IRSA trust sub = %q, aud = %q; want %q and sts.amazonaws.com", sub, aud, want)
	}
	if got := r.serviceAccount.Annotations["eks.amazonaws.com/role-arn"]; got != *td.TaskRoleArn {
		t.Errorf("service account annotation eks.amazonaws.com/role-arn = %q, want the same role as the ECS task (%q)", got, *td.TaskRoleArn)
	}
}
