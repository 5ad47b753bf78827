// Command bench measures agentcore-proxy side by side with a direct call to
// the upstream, a plain httputil.ReverseProxy and nginx, in one run, on
// loopback: throughput and latency under wrk at 1 and 32 connections, CPU
// per request, memory idle, under load and with many open SSE streams, time
// to ready, allocations per proxied call, and token requests for the whole
// run. Run it from the repository root: make bench (or make bench-smoke for
// a short run that only checks every contender answers).
//
// Contenders take turns round by round, each round starting with the next
// one, so that drift on a shared machine hits all alike; figures are the
// medians over the rounds.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/agentcore-proxy/agentcore-proxy/internal/emulator"
)

type options struct {
	rounds    int
	duration  time.Duration
	warmup    time.Duration
	conns     []int
	streams   int
	out       string
	repo      string
	proxyBin  string
	baseBin   string
	proxyEnv  []string
	baseEnv   []string
	only      []string
	benchtime string
	keep      bool
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	var o options
	mode := fs.String("mode", "", "internal: baseline runs the plain httputil.ReverseProxy")
	listen := fs.String("listen", "", "internal: -mode baseline listen address")
	upstreamURL := fs.String("upstream", "", "internal: -mode baseline upstream URL")
	smoke := fs.Bool("smoke", false, "a short run (1 round of 1 s, 50 streams) that checks every contender answers")
	fs.IntVar(&o.rounds, "rounds", 3, "rounds per contender and connection count")
	fs.DurationVar(&o.duration, "duration", 3*time.Second, "length of one round (whole seconds)")
	fs.DurationVar(&o.warmup, "warmup", time.Second, "warm-up load per contender before the rounds")
	connsFlag := fs.String("conns", "1,32", "connection counts, comma-separated")
	fs.IntVar(&o.streams, "streams", 1000, "SSE streams held open through each proxy for the memory figure")
	fs.StringVar(&o.out, "out", "", "where to write the JSON results (default bench-results.json in the run's temp dir)")
	fs.StringVar(&o.repo, "repo", ".", "repository root: where agentcore-proxy is built and the Go benchmark runs")
	fs.StringVar(&o.proxyBin, "proxy-bin", "", "an agentcore-proxy binary to measure instead of building one from -repo")
	fs.StringVar(&o.baseBin, "base-bin", "", "another agentcore-proxy binary (e.g. built from an older commit) measured in the same run\nas contender agentcore-proxy@base, for before/after ratios")
	fs.Func("proxy-env", "`KEY=VALUE` set for the agentcore-proxy contender only (repeatable), e.g. GOGC=200", func(v string) error {
		if !strings.Contains(v, "=") {
			return fmt.Errorf("want KEY=VALUE")
		}
		o.proxyEnv = append(o.proxyEnv, v)
		return nil
	})
	fs.Func("base-env", "`KEY=VALUE` set for the agentcore-proxy@base contender only (repeatable); with -base-bin\nthe same binary as -proxy-bin, it compares settings such as GOGC", func(v string) error {
		if !strings.Contains(v, "=") {
			return fmt.Errorf("want KEY=VALUE")
		}
		o.baseEnv = append(o.baseEnv, v)
		return nil
	})
	onlyFlag := fs.String("only", "", "contenders to run, comma-separated (direct, httputil, nginx, agentcore-proxy); default all")
	fs.StringVar(&o.benchtime, "benchtime", "1s", "go test -benchtime for the allocation benchmark")
	fs.BoolVar(&o.keep, "keep", false, "keep the temp dir (logs, configs) after the run")
	stdioCalls := fs.Int("stdio", 0, "instead: N sequential tools/call through agentcore-proxy stdio and through mcp-remote (needs Node and npm ci --prefix e2e/npm)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *mode == "baseline" {
		return runBaseline(*listen, *upstreamURL)
	}
	if *mode != "" {
		return fmt.Errorf("-mode %q: unknown (want baseline or nothing)", *mode)
	}
	if *stdioCalls > 0 {
		return runStdioBench(ctx, &o, *stdioCalls, stdout)
	}
	if *smoke {
		o.rounds, o.duration, o.warmup, o.streams, o.benchtime = 1, time.Second, 0, 50, "200x"
	}
	for _, s := range strings.Split(*connsFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return fmt.Errorf("-conns %q: want positive integers separated by commas, e.g. 1,32", *connsFlag)
		}
		o.conns = append(o.conns, n)
	}
	if *onlyFlag != "" {
		for _, name := range strings.Split(*onlyFlag, ",") {
			if !slices.Contains([]string{"direct", "httputil", "nginx", "agentcore-proxy"}, name) {
				return fmt.Errorf("-only %q: unknown contender %q (want direct, httputil, nginx or agentcore-proxy)", *onlyFlag, name)
			}
			o.only = append(o.only, name)
		}
	}
	res, err := measure(ctx, &o, stdout)
	if res != nil {
		printReport(stdout, res)
		if werr := writeJSON(o.out, res); werr != nil {
			err = errors.Join(err, werr)
		} else {
			fmt.Fprintf(stdout, "\nJSON results: %s\n", o.out)
		}
	}
	return err
}

// results is everything one run measured; it is also the JSON file.
type results struct {
	Date          string                          `json:"date"`
	Machine       machine                         `json:"machine"`
	Rounds        int                             `json:"rounds"`
	RoundSeconds  float64                         `json:"round_seconds"`
	BodyBytes     int                             `json:"request_body_bytes"`
	ReplyBytes    int                             `json:"reply_body_bytes"`
	Contenders    []*contenderResult              `json:"contenders"`
	Load          map[string]map[string]*loadStat `json:"load"` // by connection count, then contender
	Streams       int                             `json:"streams"`
	GoBench       []goBench                       `json:"go_bench,omitempty"`
	TokenRequests int                             `json:"token_requests"`
	Problems      []string                        `json:"problems,omitempty"`
}

type machine struct {
	CPUs      int    `json:"cpus"`
	CPUModel  string `json:"cpu_model"`
	Kernel    string `json:"kernel"`
	GoVersion string `json:"go_version"`
	Wrk       string `json:"wrk"`
	Nginx     string `json:"nginx"`
	// LoadAvg is /proc/loadavg at the start and at the end of the run: the
	// machine may be shared, and the ratios are what to compare then.
	LoadAvg []string `json:"loadavg"`
}

type contenderResult struct {
	Name         string  `json:"name"`
	ReadyMs      float64 `json:"ready_ms,omitempty"`
	ReadyzMs     float64 `json:"readyz_ms,omitempty"`
	RSSIdleKB    int64   `json:"rss_idle_kb,omitempty"`
	RSSLoadKB    int64   `json:"rss_load_peak_kb,omitempty"`
	RSSStreamsKB int64   `json:"rss_streams_kb,omitempty"`
}

type loadStat struct {
	Median  sample   `json:"median"`
	Samples []sample `json:"samples"`
}

func measure(ctx context.Context, o *options, stdout io.Writer) (*results, error) {
	if _, err := exec.LookPath("wrk"); err != nil {
		return nil, errors.New("wrk: not installed (apt-get install wrk, or make deps)")
	}
	dir, err := os.MkdirTemp("", "agentcore-proxy-bench-")
	if err != nil {
		return nil, err
	}
	if o.out == "" {
		o.out = filepath.Join(dir, "bench-results.json")
		o.keep = true
	}
	if !o.keep {
		defer os.RemoveAll(dir)
	}
	res := &results{
		Date: time.Now().UTC().Format(time.RFC3339), Machine: describeMachine(),
		Rounds: o.rounds, RoundSeconds: o.duration.Seconds(), BodyBytes: len(callBody), ReplyBytes: len(callReply),
		Load: map[string]map[string]*loadStat{}, Streams: o.streams,
	}
	problem := func(format string, a ...any) {
		msg := fmt.Sprintf(format, a...)
		res.Problems = append(res.Problems, msg)
		fmt.Fprintln(stdout, "PROBLEM:", msg)
	}
	want := func(name string) bool { return len(o.only) == 0 || slices.Contains(o.only, name) }

	up, err := startUpstream()
	if err != nil {
		return nil, err
	}
	defer up.close()
	emu, err := emulator.Start(ctx, emulator.Config{})
	if err != nil {
		return nil, err
	}
	defer emu.Close()

	bin := o.proxyBin
	if bin == "" && want("agentcore-proxy") {
		bin = filepath.Join(dir, "agentcore-proxy")
		defer os.Remove(bin)
		fmt.Fprintln(stdout, "building agentcore-proxy ...")
		build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", bin, ".")
		build.Dir = o.repo
		if out, err := build.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("go build: %w: %s", err, out)
		}
	}
	withAuth, noAuth, err := writeWrkScripts(dir)
	if err != nil {
		return nil, err
	}

	var cs []*contender
	defer func() {
		for _, c := range cs {
			c.stop()
		}
	}()
	if want("direct") {
		cs = append(cs, &contender{name: "direct", url: up.url + "/mcp"})
	}
	if want("httputil") {
		c, err := startBaseline(dir, up.url)
		if err != nil {
			return nil, err
		}
		cs = append(cs, c)
	}
	if want("nginx") {
		if nb := nginxPath(); nb == "" {
			fmt.Fprintln(stdout, "nginx: not installed (apt-get install nginx-light); measuring without it")
		} else {
			c, err := startNginx(dir, nb, up.url)
			if err != nil {
				return nil, err
			}
			cs = append(cs, c)
		}
	}
	if want("agentcore-proxy") {
		c, err := startAgentcoreProxy(ctx, "agentcore-proxy", dir, bin, up.url, emu.DiscoveryURL(), "demo-client-id", "demo-client-secret", o.proxyEnv)
		if err != nil {
			return nil, err
		}
		cs = append(cs, c)
	}
	if o.baseBin != "" {
		c, err := startAgentcoreProxy(ctx, "agentcore-proxy@base", dir, o.baseBin, up.url, emu.DiscoveryURL(), "demo-client-id", "demo-client-secret", o.baseEnv)
		if err != nil {
			return nil, err
		}
		cs = append(cs, c)
	}

	byName := map[string]*contenderResult{}
	for _, c := range cs {
		cr := &contenderResult{Name: c.name}
		byName[c.name] = cr
		res.Contenders = append(res.Contenders, cr)
		if err := oneCall(c.url, c.pids == nil); err != nil {
			return res, fmt.Errorf("%s did not answer a tool call: %w", c.name, err)
		}
		if c.pids != nil {
			cr.ReadyMs = float64(c.ready.Microseconds()) / 1000
			cr.ReadyzMs = float64(c.readyz.Microseconds()) / 1000
			cr.RSSIdleKB = rssKB(c.pids())
		}
	}
	if up.unauthorized.Load() != 0 {
		problem("the upstream saw %d requests without a bearer token", up.unauthorized.Load())
	}

	if o.warmup > 0 {
		fmt.Fprintf(stdout, "warming up (%v each at 32 connections) ...\n", o.warmup)
		for _, c := range cs {
			if _, err := runWrk(ctx, scriptFor(c, withAuth, noAuth), c.url, 32, o.warmup, c.pids); err != nil {
				return res, fmt.Errorf("%s: %w", c.name, err)
			}
		}
	}
	for _, conns := range o.conns {
		key := strconv.Itoa(conns)
		res.Load[key] = map[string]*loadStat{}
		for r := range o.rounds {
			fmt.Fprintf(stdout, "%d connections, round %d of %d ...\n", conns, r+1, o.rounds)
			for i := range cs {
				c := cs[(i+r)%len(cs)]
				s, err := runWrk(ctx, scriptFor(c, withAuth, noAuth), c.url, conns, o.duration, c.pids)
				if err != nil {
					return res, fmt.Errorf("%s: %w", c.name, err)
				}
				if s.Requests == 0 {
					problem("%s answered no request at %d connections", c.name, conns)
				}
				if s.Errors > 0 || s.Non2xx > 0 {
					problem("%s at %d connections: %d socket errors, %d non-2xx answers", c.name, conns, s.Errors, s.Non2xx)
				}
				ls := res.Load[key][c.name]
				if ls == nil {
					ls = &loadStat{}
					res.Load[key][c.name] = ls
				}
				ls.Samples = append(ls.Samples, s)
			}
		}
		for name, ls := range res.Load[key] {
			ls.Median = medianSample(ls.Samples)
			if cr := byName[name]; cr != nil && conns == slices.Max(o.conns) {
				for _, s := range ls.Samples {
					cr.RSSLoadKB = max(cr.RSSLoadKB, s.PeakRSSkB)
				}
			}
		}
	}
	// The bench process is no proxy: its peak is not reported.
	if cr := byName["direct"]; cr != nil {
		cr.RSSLoadKB = 0
	}

	if o.streams > 0 {
		for _, c := range cs {
			if c.pids == nil {
				continue
			}
			fmt.Fprintf(stdout, "%d SSE streams through %s ...\n", o.streams, c.name)
			rss, err := holdStreams(c.url, o.streams, c.pids(), up)
			if err != nil {
				problem("%s with %d streams: %v", c.name, o.streams, err)
			}
			byName[c.name].RSSStreamsKB = rss
		}
	}

	if want("agentcore-proxy") {
		fmt.Fprintln(stdout, "go test -bench BenchmarkServerCall ./internal/server ...")
		gb, err := runGoBench(ctx, o.repo, o.benchtime)
		if err != nil {
			problem("%v", err)
		}
		res.GoBench = gb
		res.TokenRequests = emu.Stats().TokenRequests
		// One token per agentcore-proxy process for the whole run.
		if want := 1 + min(len(o.baseBin), 1); res.TokenRequests != want {
			problem("agentcore-proxy made %d token requests during the run, want %d (one per process)", res.TokenRequests, want)
		}
	}
	res.Machine.LoadAvg = append(res.Machine.LoadAvg, loadAvg())
	if len(res.Problems) > 0 {
		return res, fmt.Errorf("%d problems (see above)", len(res.Problems))
	}
	return res, nil
}

func scriptFor(c *contender, withAuth, noAuth string) string {
	if c.pids == nil {
		return withAuth
	}
	return noAuth
}

// medianSample takes the median of each figure on its own.
func medianSample(ss []sample) sample {
	med := func(f func(sample) float64) float64 {
		v := make([]float64, len(ss))
		for i, s := range ss {
			v[i] = f(s)
		}
		slices.Sort(v)
		if len(v)%2 == 1 {
			return v[len(v)/2]
		}
		return (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	return sample{
		Requests:  int64(med(func(s sample) float64 { return float64(s.Requests) })),
		ReqPerSec: med(func(s sample) float64 { return s.ReqPerSec }),
		Errors:    int64(med(func(s sample) float64 { return float64(s.Errors) })),
		Non2xx:    int64(med(func(s sample) float64 { return float64(s.Non2xx) })),
		P50us:     med(func(s sample) float64 { return s.P50us }),
		P99us:     med(func(s sample) float64 { return s.P99us }),
		CPUusReq:  med(func(s sample) float64 { return s.CPUusReq }),
		PeakRSSkB: int64(med(func(s sample) float64 { return float64(s.PeakRSSkB) })),
	}
}

func describeMachine() machine {
	m := machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), LoadAvg: []string{loadAvg()}}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if out, err := exec.Command("wrk", "-v").CombinedOutput(); len(out) > 0 || err == nil {
		m.Wrk, _, _ = strings.Cut(strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0]), " Copyright")
	}
	if nb := nginxPath(); nb != "" {
		if out, err := exec.Command(nb, "-v").CombinedOutput(); err == nil {
			m.Nginx = strings.TrimSpace(string(out))
		}
	} else {
		m.Nginx = "not installed"
	}
	return m
}

func loadAvg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

func writeJSON(path string, res *results) error {
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
