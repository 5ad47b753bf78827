// Package cli implements the agentcore-proxy command: its subcommands, flags
// and environment variables. main only builds a signal context and calls Run.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/agentcore-proxy/agentcore-proxy/internal/redact"
)

// Version is stamped at build time with
// -ldflags "-X github.com/agentcore-proxy/agentcore-proxy/internal/cli.Version=v1.2.3".
var Version = ""

// version returns the stamped version, else the module version Go recorded,
// else "dev".
func version() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// ErrUsage marks a command line that could not be parsed; the message has
// already been printed with the usage.
var ErrUsage = errors.New("usage error")

// Env is the process environment as Run sees it.
type Env struct {
	Getenv func(string) string
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer

	// red receives every credential the command holds and cleans what it
	// prints and logs; Run makes it.
	red *redact.Redactor
}

const topUsage = `agentcore-proxy: a local proxy from any MCP client to MCP servers on AWS Bedrock AgentCore Runtime.

Usage:
  agentcore-proxy serve [flags]    proxy http://127.0.0.1:8080/mcp to an AgentCore runtime
  agentcore-proxy stdio [flags]    serve one route to a client that launches it (MCP over stdin/stdout)
  agentcore-proxy demo [flags]     run the proxy against an embedded AgentCore + Cognito emulator
  agentcore-proxy doctor [flags]   check every link from configuration to tools/list, with fixes
  agentcore-proxy token [flags]    print a fresh access token (--decode: its claims and check result)
  agentcore-proxy healthcheck      exit 0 if a running proxy is healthy (for container HEALTHCHECK)
  agentcore-proxy version          print the version

Run "agentcore-proxy COMMAND --help" for a command's flags. Every flag can
also be set as AGENTCORE_PROXY_<FLAG_IN_UPPER_SNAKE>, e.g. AGENTCORE_PROXY_RUNTIME_ARN.
`

// Run runs the command line args (without the program name).
// Its error is cleaned of the credentials the command held.
func Run(ctx context.Context, args []string, env Env) error {
	env.red = redact.New()
	err := run(ctx, args, env)
	if err == nil {
		return nil
	}
	if msg := env.red.Redact(err.Error()); msg != err.Error() {
		return redactedError{msg: msg, err: err}
	}
	return err
}

// redactedError is an error whose message held a credential; errors.Is and
// errors.As still see the original.
type redactedError struct {
	msg string
	err error
}

func (e redactedError) Error() string { return e.msg }
func (e redactedError) Unwrap() error { return e.err }

func run(ctx context.Context, args []string, env Env) error {
	if len(args) == 0 {
		fmt.Fprint(env.Stderr, topUsage)
		return ErrUsage
	}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "serve":
		return runServe(ctx, rest, env)
	case "stdio":
		return runStdio(ctx, rest, env)
	case "demo":
		return runDemo(ctx, rest, env)
	case "token":
		return runToken(ctx, rest, env)
	case "doctor":
		return runDoctor(ctx, rest, env)
	case "healthcheck":
		return runHealthcheck(ctx, rest, env)
	case "version":
		fs := flag.NewFlagSet("version", flag.ContinueOnError)
		if err := parse(fs, rest, env, "agentcore-proxy version\n\nPrints the version and the Go version it was built with.\n"); err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "agentcore-proxy %s (%s %s/%s)\n", version(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return nil
	case "help", "-h", "-help", "--help":
		fmt.Fprint(env.Stdout, topUsage)
		return nil
	default:
		fmt.Fprintf(env.Stderr, "agentcore-proxy: unknown command %q\n\n%s", cmd, topUsage)
		return ErrUsage
	}
}

// parse parses args into fs, then fills every flag not given on the command
// line from its AGENTCORE_PROXY_* environment variable. --help prints usage
// to stdout and returns flag.ErrHelp.
func parse(fs *flag.FlagSet, args []string, env Env, usage string) error {
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	printUsage := func(w io.Writer) {
		fmt.Fprint(w, usage)
		if hasFlags(fs) {
			fmt.Fprint(w, "\nFlags (each also read from the environment variable shown):\n")
			fs.SetOutput(w)
			fs.VisitAll(func(f *flag.Flag) {
				name, help := flag.UnquoteUsage(f)
				fmt.Fprintf(w, "  --%s %s\n    \t%s", f.Name, name, strings.ReplaceAll(help, "\n", "\n    \t"))
				if f.DefValue != "" && f.DefValue != "[]" && f.DefValue != "false" {
					fmt.Fprintf(w, " (default %s)", f.DefValue)
				}
				fmt.Fprintf(w, "\n    \t[%s]\n", envName(f.Name))
			})
			fs.SetOutput(io.Discard)
		}
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage(env.Stdout)
			return flag.ErrHelp
		}
		fmt.Fprintf(env.Stderr, "agentcore-proxy %s: %v (see --help)\n", fs.Name(), err)
		return ErrUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(env.Stderr, "agentcore-proxy %s: unexpected argument %q (flags start with --; see --help)\n", fs.Name(), fs.Arg(0))
		return ErrUsage
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		v := env.Getenv(envName(f.Name))
		if given[f.Name] || v == "" {
			return
		}
		values := []string{v}
		if _, ok := f.Value.(*listFlag); ok {
			values = strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' })
		}
		for _, one := range values {
			if err := fs.Set(f.Name, one); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: %v (it sets --%s)", envName(f.Name), v, err, f.Name))
			}
		}
	})
	return errors.Join(errs...)
}

func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

// envName returns the environment variable for a flag: client-id →
// AGENTCORE_PROXY_CLIENT_ID.
func envName(flagName string) string {
	return "AGENTCORE_PROXY_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// optionalFlag is a string flag that tells "not given" from "given empty".
type optionalFlag struct {
	value string
	set   bool
}

func (o *optionalFlag) String() string { return o.value }
func (o *optionalFlag) Set(v string) error {
	o.value, o.set = v, true
	return nil
}

// boolFlag is a boolean flag that tells "not given" from "given": nil
// until set. def is the value when not given, for --help.
type boolFlag struct {
	value *bool
	def   bool
}

func (b *boolFlag) String() string {
	if b == nil || b.value == nil {
		return strconv.FormatBool(b != nil && b.def)
	}
	return strconv.FormatBool(*b.value)
}

func (b *boolFlag) Set(v string) error {
	on, err := strconv.ParseBool(v)
	if err != nil {
		return errors.New("want true or false")
	}
	b.value = &on
	return nil
}

// IsBoolFlag lets --name stand for --name=true.
func (b *boolFlag) IsBoolFlag() bool { return true }

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, " ") }
func (l *listFlag) Set(v string) error {
	*l = append(*l, v)
	return nil
}
