package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/agentcore-proxy/agentcore-proxy/internal/config"
	"github.com/agentcore-proxy/agentcore-proxy/internal/doctor"
)

const doctorUsage = `agentcore-proxy doctor: check every link from the configuration to tools/list.

Usage:
  agentcore-proxy doctor [route flags | --config FILE [--route NAME]] [--json]

Takes the same route flags as serve (or --config) and walks the chain for
each route, printing ✓ or ✗ with the fix: configuration → runtime ARN →
discovery → token → authorizer rules → the runtime's protected-resource
metadata → MCP initialize and tools/list through the proxy. The token is
never printed: a fingerprint identifies it. Exits 0 only when every step
passes.
`

// errDoctor makes doctor exit 1 after printing its report.
var errDoctor = errors.New("doctor found problems (see above)")

func runDoctor(ctx context.Context, args []string, env Env) error {
	fs := flag.NewFlagSet("doctor", flag.ContinueOnError)
	var rfl routeFlags
	rfl.register(fs)
	routeName := fs.String("route", "", "with --config: check only this route (default: every route)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	timeout := fs.Duration("timeout", 2*time.Minute, "give up after this long")
	if err := parse(fs, args, env, doctorUsage); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	var reports []doctor.RouteReport
	_, routes, err := rfl.load(fs, "127.0.0.1:0", env)
	if err == nil && *routeName != "" {
		var r config.Resolved
		r, err = pickRoute(routes, *routeName)
		routes = []config.Resolved{r}
	}
	if err != nil {
		reports = append(reports, doctor.RouteReport{Route: cmp.Or(*routeName, "(configuration)"), Steps: []doctor.Step{{Name: "configuration", Detail: env.red.Redact(err.Error())}}})
	} else {
		// The handler doctor checks is shaped as serve's is by default.
		serve := serveDefaults()
		serve.red = env.red
		so := serve.serverOptions(nil)
		opts := doctor.Options{Version: version(), Redactor: env.red, Route: so.RouteDeps(), Transport: so.Transport}
		for _, r := range routes {
			reports = append(reports, doctor.Check(ctx, r, len(routes), opts))
		}
	}
	ok := true
	for _, rep := range reports {
		ok = ok && rep.OK
	}
	if *asJSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		enc.Encode(map[string]any{"ok": ok, "routes": reports})
	} else {
		printReports(env.Stdout, reports)
	}
	if !ok {
		return errDoctor
	}
	return nil
}

// printReports writes the checklists for a terminal.
func printReports(w io.Writer, reports []doctor.RouteReport) {
	for i, rep := range reports {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "route %s\n", rep.Route)
		for _, s := range rep.Steps {
			mark := "✓"
			switch {
			case s.Skipped:
				mark = "·"
			case !s.OK:
				mark = "✗"
			case s.Warning:
				mark = "!"
			}
			lines := strings.Split(s.Detail, "\n")
			fmt.Fprintf(w, "  %s %s: %s\n", mark, s.Name, lines[0])
			for _, l := range lines[1:] {
				fmt.Fprintf(w, "      %s\n", l)
			}
		}
	}
}
