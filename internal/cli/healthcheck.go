package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

const healthcheckUsage = `agentcore-proxy healthcheck: exit 0 if the proxy answers its health check.

Usage:
  agentcore-proxy healthcheck [--url http://127.0.0.1:8080/healthz]

For a container's HEALTHCHECK (a scratch image has no curl): GETs the URL
with a 3 s timeout and exits 0 on 200, 1 otherwise. The default URL follows
--listen (and AGENTCORE_PROXY_LISTEN, so it matches the serving process in
the same container); with --ready it checks /readyz instead.
`

func runHealthcheck(ctx context.Context, args []string, env Env) error {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:8080", "the proxy's `host:port` (only to build the default --url)")
	url := fs.String("url", "", "the `URL` to check (default http://LISTEN/healthz)")
	ready := fs.Bool("ready", false, "check /readyz (a token is held) instead of /healthz")
	if err := parse(fs, args, env, healthcheckUsage); err != nil {
		return err
	}
	target := *url
	if target == "" {
		host := *listen
		if h, p, ok := strings.Cut(host, ":"); ok && (h == "" || h == "0.0.0.0") {
			host = "127.0.0.1:" + p
		}
		path := "/healthz"
		if *ready {
			path = "/readyz"
		}
		target = "http://" + host + path
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return fmt.Errorf("--url %q: %w", target, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("health check %s: %w", target, err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("health check %s: status %d", target, resp.StatusCode)
	}
	fmt.Fprintf(env.Stdout, "ok %s\n", target)
	return nil
}
