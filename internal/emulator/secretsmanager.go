package emulator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// ReasonSecretNotFound is the Secrets Manager fake's reason code for an unknown secret.
const ReasonSecretNotFound = "secret_not_found"

// secretsManager answers secretsmanager.GetSecretValue (AWS JSON 1.1).
func (a *AWS) secretsManager(cred AWSCredential, action string, body []byte) (any, *awsError) {
	if action != "GetSecretValue" {
		return nil, &awsError{http.StatusBadRequest, "UnknownOperationException", "", "unknown_operation"}
	}
	var in struct{ SecretId string }
	if err := json.Unmarshal(body, &in); err != nil || in.SecretId == "" {
		return nil, badRequest("SecretId is required")
	}
	name := a.secretName(in.SecretId)
	if err := deniedError(accessDenied(cred, "secretsmanager:GetSecretValue", a.secretARN(name))); err != nil {
		return nil, err
	}
	a.mu.Lock()
	s, ok := a.secrets[name]
	version := a.versions[name]
	a.mu.Unlock()
	if !ok {
		// Documented message.
		return nil, &awsError{http.StatusBadRequest, "ResourceNotFoundException", "Secrets Manager can't find the specified secret.", ReasonSecretNotFound}
	}
	return map[string]any{
		"ARN":           a.secretARN(name),
		"Name":          name,
		"SecretString":  s.SecretString,
		"VersionId":     fmt.Sprintf("00000000-0000-4000-8000-%012d", version),
		"VersionStages": []string{"AWSCURRENT"},
		"CreatedDate":   float64(time.Now().Unix()),
	}, nil
}

// secretARN is the secret's ARN; real ones end in a random 6-character suffix, ours in "-EMUL8R".
func (a *AWS) secretARN(name string) string {
	return "arn:aws:secretsmanager:" + a.cfg.Region + ":" + a.cfg.AccountID + ":secret:" + name + "-EMUL8R"
}

// secretName accepts a name or the ARN secretARN gives.
func (a *AWS) secretName(id string) string {
	if rest, ok := strings.CutPrefix(id, "arn:aws:secretsmanager:"+a.cfg.Region+":"+a.cfg.AccountID+":secret:"); ok {
		return strings.TrimSuffix(rest, "-EMUL8R")
	}
	return id
}
