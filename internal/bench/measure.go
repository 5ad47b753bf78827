package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// wrkScript sends the tool call; the done hook prints what the bench reads.
const wrkScript = `wrk.method = "POST"
wrk.body = '{{BODY}}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json, text/event-stream"
{{AUTH}}
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH requests=%d duration_us=%d errors=%d non2xx=%d p50_us=%d p99_us=%d\n",
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99)))
end
`

// writeWrkScripts writes the script with and without an Authorization
// header (direct needs one; the proxies add theirs).
func writeWrkScripts(dir string) (withAuth, without string, err error) {
	for _, s := range []struct {
		path       *string
		name, auth string
	}{{&withAuth, "call-direct.lua", `wrk.headers["Authorization"] = "` + staticBearer + `"`}, {&without, "call.lua", ""}} {
		*s.path = filepath.Join(dir, s.name)
		body := strings.NewReplacer("{{BODY}}", callBody, "{{AUTH}}", s.auth).Replace(wrkScript)
		if err := os.WriteFile(*s.path, []byte(body), 0o644); err != nil {
			return "", "", err
		}
	}
	return withAuth, without, nil
}

// sample is one wrk run against one contender.
type sample struct {
	Requests  int64   `json:"requests"`
	ReqPerSec float64 `json:"req_per_sec"`
	Errors    int64   `json:"errors"`
	Non2xx    int64   `json:"non_2xx"`
	P50us     float64 `json:"p50_us"`
	P99us     float64 `json:"p99_us"`
	CPUusReq  float64 `json:"cpu_us_per_req"`
	PeakRSSkB int64   `json:"peak_rss_kb"`
}

var benchLine = regexp.MustCompile(`BENCH requests=(\d+) duration_us=(\d+) errors=(\d+) non2xx=(\d+) p50_us=(\d+) p99_us=(\d+)`)

// runWrk loads url with conns connections for d, sampling the CPU time and
// RSS of pids.
func runWrk(ctx context.Context, script, url string, conns int, d time.Duration, pids func() []int) (sample, error) {
	threads := min(conns, 2)
	secs := max(1, int(d.Round(time.Second)/time.Second))
	cmd := exec.CommandContext(ctx, "wrk", "-t", strconv.Itoa(threads), "-c", strconv.Itoa(conns),
		"-d", strconv.Itoa(secs)+"s", "--timeout", "5s", "-s", script, url)
	var ps []int
	if pids != nil {
		ps = pids()
	} else {
		ps = []int{os.Getpid()}
	}
	cpu0 := cpuTicks(ps)
	peak := atomic.Int64{}
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			if r := rssKB(ps); r > peak.Load() {
				peak.Store(r)
			}
			select {
			case <-stopSampling:
				return
			case <-t.C:
			}
		}
	}()
	out, err := cmd.CombinedOutput()
	cpu1 := cpuTicks(ps)
	close(stopSampling)
	<-sampled
	if err != nil {
		return sample{}, fmt.Errorf("wrk: %w: %s", err, out)
	}
	m := benchLine.FindStringSubmatch(string(out))
	if m == nil {
		return sample{}, fmt.Errorf("wrk: no BENCH line in: %s", out)
	}
	n := func(i int) int64 { v, _ := strconv.ParseInt(m[i], 10, 64); return v }
	s := sample{Requests: n(1), Errors: n(3), Non2xx: n(4), P50us: float64(n(5)), P99us: float64(n(6)), PeakRSSkB: peak.Load()}
	if dur := n(2); dur > 0 {
		s.ReqPerSec = float64(s.Requests) / (float64(dur) / 1e6)
	}
	if s.Requests > 0 {
		s.CPUusReq = float64(cpu1-cpu0) * (1e6 / clockTicks) / float64(s.Requests)
	}
	return s, nil
}

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat;
// 100 on every Linux this runs on.
const clockTicks = 100

// cpuTicks is the sum of utime+stime of pids.
func cpuTicks(pids []int) int64 {
	var sum int64
	for _, pid := range pids {
		f := statFields(pid)
		if len(f) < 15 {
			continue
		}
		u, _ := strconv.ParseInt(f[13], 10, 64)
		s, _ := strconv.ParseInt(f[14], 10, 64)
		sum += u + s
	}
	return sum
}

// statFields returns /proc/PID/stat split into fields, the command name
// (which may hold spaces) as one.
func statFields(pid int) []string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil
	}
	return append([]string{s[:strings.IndexByte(s, ' ')], s[strings.IndexByte(s, '(') : i+1]}, strings.Fields(s[i+1:])...)
}

// childrenOf lists the processes whose parent is pid.
func childrenOf(pid int) []int {
	entries, _ := os.ReadDir("/proc")
	var kids []int
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if f := statFields(p); len(f) > 3 && f[3] == strconv.Itoa(pid) {
			kids = append(kids, p)
		}
	}
	return kids
}

// rssKB is the sum of VmRSS of pids, in kB.
func rssKB(pids []int) int64 {
	var sum int64
	for _, pid := range pids {
		f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
				v, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
				sum += v
			}
		}
		f.Close()
	}
	return sum
}

// oneCall sends one tool call and checks the reply.
func oneCall(url string, auth bool) error {
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(callBody))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if auth {
		req.Header.Set("Authorization", staticBearer)
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"result"`) {
		return fmt.Errorf("tool call: %s: %.300s", resp.Status, body)
	}
	return nil
}

// holdStreams opens n SSE streams to url, waits until each has delivered
// its first event, reads the RSS of pids, then closes them and waits until
// the upstream has seen them all end. Bounded by 60 s.
func holdStreams(url string, n int, pids []int, up *upstream) (rss int64, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	holdCtx, release := context.WithCancel(ctx)
	defer release()
	transport := &http.Transport{DisableKeepAlives: true, MaxConnsPerHost: 0}
	defer transport.CloseIdleConnections()
	var (
		opened  sync.WaitGroup
		done    sync.WaitGroup
		failed  atomic.Int64
		errOnce sync.Once
		first   error
	)
	opened.Add(n)
	for range n {
		done.Add(1)
		go func() {
			defer done.Done()
			ok := false
			defer func() {
				if !ok {
					failed.Add(1)
					opened.Done()
				}
			}()
			req, _ := http.NewRequestWithContext(holdCtx, http.MethodGet, url, nil)
			req.Header.Set("Accept", "text/event-stream")
			resp, err := transport.RoundTrip(req)
			if err != nil {
				errOnce.Do(func() { first = err })
				return
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				errOnce.Do(func() { first = fmt.Errorf("stream: %s", resp.Status) })
				return
			}
			br := bufio.NewReader(resp.Body)
			for {
				line, err := br.ReadString('\n')
				if err != nil {
					errOnce.Do(func() { first = fmt.Errorf("stream: %w", err) })
					return
				}
				if line == "\n" || line == "\r\n" {
					break
				}
			}
			ok = true
			opened.Done()
			<-holdCtx.Done()
		}()
	}
	opened.Wait()
	if f := failed.Load(); f > 0 {
		release()
		done.Wait()
		return 0, fmt.Errorf("%d of %d streams failed, first: %w", f, n, first)
	}
	// Let the process settle after the burst of connections.
	time.Sleep(500 * time.Millisecond)
	if open := up.openStreams.Load(); open < int64(n) {
		err = fmt.Errorf("upstream sees %d open streams, want %d", open, n)
	}
	rss = rssKB(pids)
	release()
	done.Wait()
	for up.openStreams.Load() > 0 && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	if ctx.Err() != nil && err == nil {
		err = errors.New("streams did not end upstream within 60s of closing them")
	}
	return rss, err
}

// goBench is the result of the Go benchmarks in package proxy.
type goBench struct {
	Name        string  `json:"name"`
	NsPerOp     float64 `json:"ns_per_op"`
	BytesPerOp  int64   `json:"bytes_per_op"`
	AllocsPerOp int64   `json:"allocs_per_op"`
}

var goBenchLine = regexp.MustCompile(`^(Benchmark\w+)(?:-\d+)?\s+\d+\s+([\d.]+) ns/op\s+(\d+) B/op\s+(\d+) allocs/op`)

// runGoBench runs BenchmarkServerCall (the whole handler chain) and its
// reference in repo/internal/server.
func runGoBench(ctx context.Context, repo, benchtime string) ([]goBench, error) {
	cmd := exec.CommandContext(ctx, "go", "test", "-run", "^$", "-bench", "^(BenchmarkServerCall|BenchmarkDirectCall)$",
		"-benchmem", "-benchtime", benchtime, "./internal/server")
	cmd.Dir = repo
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("go test -bench: %w: %s", err, out)
	}
	var res []goBench
	for _, line := range strings.Split(string(out), "\n") {
		m := goBenchLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		ns, _ := strconv.ParseFloat(m[2], 64)
		b, _ := strconv.ParseInt(m[3], 10, 64)
		a, _ := strconv.ParseInt(m[4], 10, 64)
		res = append(res, goBench{Name: m[1], NsPerOp: ns, BytesPerOp: b, AllocsPerOp: a})
	}
	if len(res) == 0 {
		return nil, fmt.Errorf("go test -bench: no results in: %s", out)
	}
	return res, nil
}
