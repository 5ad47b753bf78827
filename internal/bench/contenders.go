package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// staticBearer is what the baseline and nginx send upstream; the upstream
// checks only that a bearer token is there.
const staticBearer = "Bearer bench-static-token"

// contender is one way to reach the upstream.
type contender struct {
	name string
	url  string // where wrk and the stream clients send requests
	// pids returns the processes whose CPU and memory count for this
	// contender (nginx: master and workers); nil for direct, whose cost is
	// the upstream's, in the bench process itself.
	pids    func() []int
	cmd     *exec.Cmd
	ready   time.Duration // from process start to the first 200 from /healthz
	readyz  time.Duration // agentcore-proxy: to the first 200 from /readyz (token held)
	stopped chan struct{}
}

func (c *contender) stop() {
	if c.cmd == nil || c.cmd.Process == nil {
		return
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.stopped:
	case <-time.After(10 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.stopped
	}
}

// freePort asks the kernel for a free loopback port. The port is closed
// again before the contender binds it; on loopback the window is harmless.
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// startProcess starts cmd with its output in dir/name.log and waits until
// GET url answers 200, bounded by 20 s.
func startProcess(name, dir string, cmd *exec.Cmd, healthURL string) (*contender, error) {
	logf, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	c := &contender{name: name, cmd: cmd, stopped: make(chan struct{})}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(c.stopped)
	}()
	c.pids = func() []int { return []int{cmd.Process.Pid} }
	d, err := pollOK(healthURL, start, c.stopped)
	if err != nil {
		c.stop()
		return nil, fmt.Errorf("%s: %w (log: %s)", name, err, logf.Name())
	}
	c.ready = d
	return c, nil
}

// pollOK polls url until it answers 200 and returns the time since start.
func pollOK(url string, start time.Time, exited <-chan struct{}) (time.Duration, error) {
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := start.Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return 0, errors.New("exited before it was ready")
		default:
		}
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(start), nil
			}
		}
		time.Sleep(time.Millisecond)
	}
	return 0, fmt.Errorf("no 200 from %s within 20s", url)
}

func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AGENTCORE_PROXY_") && !strings.HasPrefix(kv, "GODEBUG=") && !strings.HasPrefix(kv, "GOGC=") && !strings.HasPrefix(kv, "GOMEMLIMIT=") {
			env = append(env, kv)
		}
	}
	return env
}

// startBaseline runs this program again in -mode baseline.
func startBaseline(dir, upstreamURL string) (*contender, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, "-mode", "baseline", "-listen", addr, "-upstream", upstreamURL)
	cmd.Env = childEnv()
	c, err := startProcess("httputil", dir, cmd, "http://"+addr+"/healthz")
	if err != nil {
		return nil, err
	}
	c.url = "http://" + addr + "/mcp"
	return c, nil
}

// runBaseline is the plain reverse proxy anyone can write: a static bearer,
// a transport that keeps enough idle connections for 32 clients, nothing
// else.
func runBaseline(listen, upstreamURL string) error {
	target, err := url.Parse(upstreamURL)
	if err != nil {
		return err
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 64
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = target.Host
			pr.Out.Header.Set("Authorization", staticBearer)
		},
		Transport: transport,
	}
	srv := &http.Server{Addr: listen, Handler: rp, ReadHeaderTimeout: 10 * time.Second}
	return srv.ListenAndServe()
}

const nginxConf = `daemon off;
master_process on;
worker_processes auto;
worker_rlimit_nofile 16384;
pid {{DIR}}/nginx.pid;
error_log {{DIR}}/nginx-error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path {{DIR}}/client_body;
  proxy_temp_path {{DIR}}/proxy;
  fastcgi_temp_path {{DIR}}/fastcgi;
  uwsgi_temp_path {{DIR}}/uwsgi;
  scgi_temp_path {{DIR}}/scgi;
  upstream mcp {
    server {{UPSTREAM}};
    keepalive 64;
  }
  server {
    listen {{LISTEN}};
    location / {
      proxy_pass http://mcp;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Authorization "{{BEARER}}";
      proxy_buffering off;
      proxy_read_timeout 1h;
    }
  }
}
`

// nginxPath returns the nginx binary, or "" when it is not installed.
func nginxPath() string {
	for _, p := range []string{"/usr/sbin/nginx"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("nginx"); err == nil {
		return p
	}
	return ""
}

// startNginx runs nginx in the foreground with a generated configuration:
// a static Authorization header, upstream keep-alive, no buffering (SSE).
func startNginx(dir, bin, upstreamURL string) (*contender, error) {
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	ndir := filepath.Join(dir, "nginx")
	if err := os.MkdirAll(ndir, 0o755); err != nil {
		return nil, err
	}
	conf := strings.NewReplacer("{{DIR}}", ndir, "{{UPSTREAM}}", strings.TrimPrefix(upstreamURL, "http://"),
		"{{LISTEN}}", addr, "{{BEARER}}", staticBearer).Replace(nginxConf)
	confPath := filepath.Join(ndir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "-p", ndir, "-c", confPath, "-e", filepath.Join(ndir, "nginx-error.log"))
	c, err := startProcess("nginx", dir, cmd, "http://"+addr+"/healthz")
	if err != nil {
		return nil, err
	}
	master := cmd.Process.Pid
	c.pids = func() []int { return append([]int{master}, childrenOf(master)...) }
	c.url = "http://" + addr + "/mcp"
	return c, nil
}

// startAgentcoreProxy runs the binary built from this repository with its
// defaults, the emulator as its identity provider.
func startAgentcoreProxy(ctx context.Context, name, dir, bin, upstreamURL, discoveryURL, clientID, secret string, env []string) (*contender, error) {
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, bin, "serve", "--listen", addr,
		"--upstream-url", upstreamURL+"/mcp", "--discovery-url", discoveryURL, "--client-id", clientID)
	cmd.Env = append(append(childEnv(), env...), "AGENTCORE_PROXY_CLIENT_SECRET="+secret)
	c, err := startProcess(name, dir, cmd, "http://"+addr+"/healthz")
	if err != nil {
		return nil, err
	}
	// The start measured above excludes the first token fetch; /readyz
	// turns 200 once a token is held.
	start := time.Now().Add(-c.ready)
	if c.readyz, err = pollOK("http://"+addr+"/readyz", start, c.stopped); err != nil {
		c.stop()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	c.url = "http://" + addr + "/mcp"
	return c, nil
}
