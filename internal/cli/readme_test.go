package cli

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/agentcore-proxy/agentcore-proxy/agentcore"
	"github.com/agentcore-proxy/agentcore-proxy/internal/config"
)

var update = flag.Bool("update", false, "rewrite README.md's generated sections")

const (
	readmePath   = "../../README.md"
	reasonsBegin = "<!-- reason tables: generated from agentcore's catalogue by go test ./internal/cli -run TestREADMEReasonTables -update -->\n"
	reasonsEnd   = "<!-- end of reason tables -->\n"
)

// reasonTables renders the agentcore catalogue as README's two tables,
// naming settings by their flags.
func reasonTables() string {
	names := func(s agentcore.Setting) string { return "`" + config.FlagNames(s) + "`" }
	var b, local strings.Builder
	var shared []string
	b.WriteString("Answers from AgentCore or the MCP server (status kept; `agentcore_proxy_upstream_errors_total`):\n\n")
	b.WriteString("| reason | status | cause | fix |\n| --- | --- | --- | --- |\n")
	local.WriteString("| reason | cause | fix |\n| --- | --- | --- |\n")
	for _, r := range agentcore.Catalogue() {
		fix := agentcore.Render(r.Fix, names)
		switch {
		case r.Upstream:
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", r.Code, r.Status, r.Cause, fix)
			if r.Local {
				shared = append(shared, "`"+r.Code+"`")
			}
		case r.Local:
			fmt.Fprintf(&local, "| `%s` | %s | %s |\n", r.Code, r.Cause, fix)
		}
	}
	fmt.Fprintf(&b, "\nTokens the proxy would not send (503, nothing reaches AgentCore; `agentcore_proxy_token_rejections_total`).\n"+
		"Claim failures use the codes above (%s), plus:\n\n", strings.Join(shared, ", "))
	b.WriteString(local.String())
	return b.String()
}

// TestREADMEReasonTables fails when README's reason tables and the agentcore
// catalogue disagree; -update rewrites the README from the catalogue.
func TestREADMEReasonTables(t *testing.T) {
	raw, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	start := strings.Index(readme, reasonsBegin)
	end := strings.Index(readme, reasonsEnd)
	if start < 0 || end < start {
		t.Fatalf("%s has no section between %q and %q", readmePath, reasonsBegin, reasonsEnd)
	}
	got := readme[start+len(reasonsBegin) : end]
	want := reasonTables()
	if got == want {
		return
	}
	if *update {
		if err := os.WriteFile(readmePath, []byte(readme[:start+len(reasonsBegin)]+want+readme[end:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("README.md's reason tables differ from agentcore.Catalogue(); run go test ./internal/cli -run TestREADMEReasonTables -update\ngot:\n%s\nwant:\n%s", got, want)
}
