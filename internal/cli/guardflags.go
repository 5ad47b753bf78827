package cli

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"

	"github.com/agentcore-proxy/agentcore-proxy/agentcore"
	"github.com/agentcore-proxy/agentcore-proxy/internal/config"
	"github.com/agentcore-proxy/agentcore-proxy/internal/server"
	"github.com/agentcore-proxy/agentcore-proxy/proxy"
)

// minInboundToken is the shortest inbound token accepted.
const minInboundToken = 16

// readInboundToken reads and checks the token file.
func readInboundToken(file string) ([]byte, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("--inbound-token-file %q: %w", file, unwrap(err))
	}
	tok := strings.TrimSpace(string(b))
	if len(tok) < minInboundToken || strings.ContainsAny(tok, " \t\r\n") {
		return nil, fmt.Errorf("--inbound-token-file %q: the token must be one line of at least %d characters without spaces (e.g. openssl rand -hex 32 > FILE)", file, minInboundToken)
	}
	sum := sha256.Sum256([]byte(tok))
	return sum[:], nil
}

// guardFlags are the serve flags of the inbound guard.
type guardFlags struct {
	allowedHosts, allowedOrigins listFlag
	inboundTokenFile             string
	insecureNoInboundAuth        bool
}

// newGuard checks the guard flags and builds the guard for a listen address, refusing a non-loopback
// TCP address without an inbound credential unless the user insisted.
func (f *guardFlags) newGuard(listen string) (*server.Guard, []string, error) {
	origins, errs := f.origins()
	g := server.GuardConfig{AllowedHosts: f.allowedHosts, AllowedOrigins: origins, Names: guardNames}
	var warnings []string
	if f.inboundTokenFile != "" {
		sum, err := readInboundToken(f.inboundTokenFile)
		if err != nil {
			errs = append(errs, err)
		}
		g.TokenSHA256 = sum
		if e := (config.SecretFile{Setting: "--inbound-token-file", Path: f.inboundTokenFile, Holds: "the token clients must send"}).Exposure(); e != "" {
			warnings = append(warnings, e)
		}
	}
	network, addr := server.ListenNetwork(listen)
	switch {
	case network == "unix":
		g.AnyHost = true
	case isLoopbackListen(addr):
	case f.inboundTokenFile != "":
		g.AnyHost = true
	case f.insecureNoInboundAuth:
		warnings = append(warnings, fmt.Sprintf("listening on %s without an inbound credential (--insecure-no-inbound-auth): anything that reaches this address acts with the agent's identity", addr))
	default:
		errs = append(errs, fmt.Errorf("--listen %q is not a loopback address: whoever reaches it would act with the agent's identity; give --inbound-token-file FILE (clients send it in %s), or listen on unix:/path, or 127.0.0.1 (--insecure-no-inbound-auth skips this check)", listen, proxy.HeaderInboundToken))
	}
	return server.NewGuard(g), warnings, errors.Join(errs...)
}

// metricsGuard builds the guard of --metrics-listen: loopback names, IP
// literals and --allowed-host names as Host, pages on this machine and
// --allowed-origin as Origin, no inbound token (scrapers send none).
// newGuard reports bad values of these flags.
func (f *guardFlags) metricsGuard() *server.Guard {
	origins, _ := f.origins()
	return server.NewGuard(server.GuardConfig{AllowedHosts: f.allowedHosts, AllowedOrigins: origins, Metrics: true, Names: guardNames})
}

// guardNames names the guard's settings by their flags.
func guardNames(s agentcore.Setting) string {
	switch s {
	case server.SettingAllowedHost:
		return "--allowed-host"
	case server.SettingAllowedOrigin:
		return "--allowed-origin"
	case server.SettingInboundTokenFile:
		return "--inbound-token-file"
	}
	return config.FlagNames(s)
}

// origins returns the --allowed-origin values as scheme://host, with an
// error for each that is not one.
func (f *guardFlags) origins() ([]string, []error) {
	var origins []string
	var errs []error
	for _, o := range f.allowedOrigins {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			errs = append(errs, fmt.Errorf("--allowed-origin %q: want scheme://host[:port], e.g. https://app.example.com", o))
			continue
		}
		origins = append(origins, u.Scheme+"://"+u.Host)
	}
	return origins, errs
}

// isLoopbackListen reports whether a TCP listen address binds loopback
// only. An empty host (":8080") binds every interface.
func isLoopbackListen(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	return err == nil && host != "" && proxy.IsLoopbackHost(host)
}
