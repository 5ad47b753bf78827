package e2e

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

// allLogs collects everything every proxy started by a test wrote, for the
// secret scan that runs after the whole suite.
var allLogs syncBuffer

// testSecrets are every client secret the tests hand to the proxy.
var testSecrets = []string{testClientSecret, "not-the-secret", "wrong-secret", "calc-secret", "greet-secret"}

// testClientIDs are the client ids the tests use, for the HTTP Basic forms of
// the secrets the scan looks for.
var testClientIDs = []string{testClientID}

func TestMain(m *testing.M) {
	cleanAWS := hermeticAWS()
	code := m.Run()
	cleanAWS()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goroutine leak after the suite: %v\n", err)
			code = 1
		}
	}
	if code == 0 {
		if problems := scanForSecrets(allLogs.String()); len(problems) > 0 {
			fmt.Fprintf(os.Stderr, "secret scan of %d bytes of logs failed:\n  %s\n", len(allLogs.String()), strings.Join(problems, "\n  "))
			code = 1
		} else {
			fmt.Fprintf(os.Stderr, "secret scan: %d bytes of logs from the whole suite hold no secret and no token\n", len(allLogs.String()))
		}
	}
	os.Exit(code)
}

// secretForms returns the encodings secret may be echoed in: plain,
// URL-escaped, and inside the HTTP Basic credentials of every test client
// (RFC 6749 §2.3.1 form-encodes id and secret first; both are looked for).
func secretForms(secret string) map[string]string {
	forms := map[string]string{"plain": secret, "query-escaped": url.QueryEscape(secret), "path-escaped": url.PathEscape(secret)}
	for _, id := range testClientIDs {
		for name, pair := range map[string]string{"": id + ":" + secret, " form-encoded": url.QueryEscape(id) + ":" + url.QueryEscape(secret)} {
			forms["basic of "+id+name] = base64.StdEncoding.EncodeToString([]byte(pair))
			forms["raw url basic of "+id+name] = base64.RawURLEncoding.EncodeToString([]byte(pair))
		}
	}
	return forms
}

// authHeaderRe finds an Authorization header with a credential; one whose
// token was replaced by its fingerprint label is no leak.
var authHeaderRe = regexp.MustCompile(`(?i)authorization: bearer (?:[^\[]|$)`)

// scanForSecrets lists the secrets and tokens found in logs.
func scanForSecrets(logs string) []string {
	var problems []string
	for _, s := range testSecrets {
		for form, v := range secretForms(s) {
			if strings.Contains(logs, v) {
				problems = append(problems, fmt.Sprintf("client secret %q (%s)", s, form))
			}
		}
	}
	if m := tokenRe.FindString(logs); m != "" {
		problems = append(problems, fmt.Sprintf("a bearer token %.16s...", m))
	}
	if authHeaderRe.MatchString(logs) {
		problems = append(problems, "an Authorization header")
	}
	return problems
}

// hermeticAWS keeps the developer's own AWS setup from every test, as
// awsEnv does for one: with --runtime-config auto a route to a runtime ARN
// reads the runtime with whatever credentials the process finds. It returns
// a function removing the empty config files.
func hermeticAWS() func() {
	for _, k := range awsEnvVars {
		os.Unsetenv(k)
	}
	dir, err := os.MkdirTemp("", "agentcore-proxy-e2e-aws-")
	if err != nil {
		panic(err)
	}
	for _, name := range []string{"config", "credentials"} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o600); err != nil {
			panic(err)
		}
	}
	os.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	os.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	return func() { os.RemoveAll(dir) }
}
