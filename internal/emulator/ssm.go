package emulator

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// Reason codes of the SSM fake, in AWSRequest.Rejection.
const (
	ReasonParameterNotFound = "parameter_not_found"
	ReasonKMSDenied         = "kms_denied"
)

// ssmParameter is a parameter as GetParameter(s) returns it.
type ssmParameter struct {
	ARN              string
	DataType         string
	LastModifiedDate float64
	Name             string
	Type             string
	Value            string
	Version          int
}

// ssm answers AmazonSSM.GetParameter and AmazonSSM.GetParameters (AWS JSON 1.1).
func (a *AWS) ssm(cred AWSCredential, action string, body []byte) (any, *awsError) {
	var in struct {
		Name           string
		Names          []string
		WithDecryption bool
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, badRequest("the request body is not JSON")
	}
	switch action {
	case "GetParameter":
		if err := deniedError(accessDenied(cred, "ssm:GetParameter", a.parameterARN(in.Name))); err != nil {
			return nil, err
		}
		p, aerr := a.parameter(cred, in.Name, in.WithDecryption)
		if aerr != nil {
			return nil, aerr
		}
		if p == nil {
			// Documented: ParameterNotFound, 400; the SDK shows the code, the message is empty in the field.
			return nil, &awsError{http.StatusBadRequest, "ParameterNotFound", "", ReasonParameterNotFound}
		}
		return map[string]any{"Parameter": p}, nil
	case "GetParameters":
		out := struct {
			InvalidParameters []string
			Parameters        []ssmParameter
		}{InvalidParameters: []string{}, Parameters: []ssmParameter{}}
		for _, name := range in.Names {
			if err := deniedError(accessDenied(cred, "ssm:GetParameters", a.parameterARN(name))); err != nil {
				return nil, err
			}
			p, aerr := a.parameter(cred, name, in.WithDecryption)
			if aerr != nil {
				return nil, aerr
			}
			if p == nil {
				out.InvalidParameters = append(out.InvalidParameters, name)
				continue
			}
			out.Parameters = append(out.Parameters, *p)
		}
		return out, nil
	}
	return nil, &awsError{http.StatusBadRequest, "UnknownOperationException", "", "unknown_operation"}
}

func (a *AWS) parameterARN(name string) string {
	if len(name) > 0 && name[0] == '/' {
		name = name[1:]
	}
	return "arn:aws:ssm:" + a.cfg.Region + ":" + a.cfg.AccountID + ":parameter/" + name
}

// parameter returns the named parameter as SSM would, nil if there is none. A SecureString read
// without decryption returns its ciphertext; with decryption while KMS is broken it fails.
func (a *AWS) parameter(cred AWSCredential, name string, decrypt bool) (*ssmParameter, *awsError) {
	a.mu.Lock()
	p, ok := a.params[name]
	broken := a.kmsBroken
	a.mu.Unlock()
	if !ok {
		return nil, nil
	}
	out := &ssmParameter{ARN: a.parameterARN(name), DataType: "text", Name: name, Type: p.Type, Value: p.Value,
		Version: 1, LastModifiedDate: float64(time.Now().Unix())}
	if p.Type != "SecureString" {
		return out, nil
	}
	if !decrypt {
		sum := sha256.Sum256([]byte(p.Value))
		out.Value = base64.StdEncoding.EncodeToString(append([]byte("AQICAHh-emulated-ciphertext-"), sum[:]...))
		return out, nil
	}
	keyARN := "arn:aws:kms:" + a.cfg.Region + ":" + a.cfg.AccountID + ":key/0f9e8d7c-emul-4a7e-8000-000000000001"
	if err := accessDenied(cred, "kms:Decrypt", keyARN); broken || err != nil {
		// Chosen: SSM passes KMS's refusal on as AccessDeniedException naming kms:Decrypt (field
		// reports show this shape; the exact wording varies with the key policy).
		return nil, &awsError{http.StatusBadRequest, "AccessDeniedException", fmt.Sprintf(
			"User: %s is not authorized to perform: kms:Decrypt on resource: %s because no identity-based policy allows the kms:Decrypt action (Service: AWSKMS; Status Code: 400; Error Code: AccessDeniedException)",
			cred.ARN, keyARN), ReasonKMSDenied}
	}
	return out, nil
}
