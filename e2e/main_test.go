package e2e

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

// allLogs collects everything every proxy started by a test wrote, for the
// secret scan that runs after the whole suite.
var allLogs syncBuffer

// testSecrets are every client secret the tests hand to the proxy.
var testSecrets = []string{testClientSecret, "not-the-secret", "wrong-secret", "calc-secret", "greet-secret"}

func TestMain(m *testing.M) {
	code := m.Run()
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

// scanForSecrets lists the secrets and tokens found in logs.
func scanForSecrets(logs string) []string {
	var problems []string
	for _, s := range testSecrets {
		if strings.Contains(logs, s) {
			problems = append(problems, fmt.Sprintf("client secret %q", s))
		}
	}
	if m := tokenRe.FindString(logs); m != "" {
		problems = append(problems, fmt.Sprintf("a bearer token %.16s...", m))
	}
	if strings.Contains(strings.ToLower(logs), "authorization: bearer ") {
		problems = append(problems, "an Authorization header")
	}
	return problems
}
