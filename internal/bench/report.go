package main

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

// printReport writes the tables a reader compares: load per connection
// count, then memory and start-up, then allocations per call.
func printReport(w io.Writer, res *results) {
	fmt.Fprintf(w, "\n== agentcore-proxy bench, %s\n", res.Date)
	fmt.Fprintf(w, "machine: %d CPUs, %s, Linux %s, %s, %s, %s\n", res.Machine.CPUs, res.Machine.CPUModel,
		res.Machine.Kernel, res.Machine.GoVersion, res.Machine.Wrk, res.Machine.Nginx)
	fmt.Fprintf(w, "load average at start and end: %s\n", strings.Join(res.Machine.LoadAvg, " / "))
	fmt.Fprintf(w, "load: wrk, POST tools/call of %d bytes, reply %d bytes, loopback; median of %d round(s) of %gs, contenders in turn\n",
		res.BodyBytes, res.ReplyBytes, res.Rounds, res.RoundSeconds)
	names := make([]string, 0, len(res.Contenders))
	for _, c := range res.Contenders {
		names = append(names, c.Name)
	}
	keys := make([]string, 0, len(res.Load))
	for k := range res.Load {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int { x, _ := strconv.Atoi(a); y, _ := strconv.Atoi(b); return x - y })
	for _, k := range keys {
		load := res.Load[k]
		fmt.Fprintf(w, "\n-- %s connection(s)\n", k)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		head := []string{"contender", "req/s"}
		for _, n := range names {
			head = append(head, "vs "+n)
		}
		head = append(head, "p50 µs", "p99 µs", "p50 added", "p99 added", "CPU µs/req", "")
		fmt.Fprintln(tw, strings.Join(head, "\t"))
		direct := load["direct"]
		for _, n := range names {
			ls := load[n]
			if ls == nil {
				continue
			}
			m := ls.Median
			row := []string{n, fmt.Sprintf("%.0f", m.ReqPerSec)}
			for _, other := range names {
				if o := load[other]; o != nil && o.Median.ReqPerSec > 0 {
					row = append(row, fmt.Sprintf("%.2f×", m.ReqPerSec/o.Median.ReqPerSec))
				} else {
					row = append(row, "-")
				}
			}
			row = append(row, fmt.Sprintf("%.0f", m.P50us), fmt.Sprintf("%.0f", m.P99us))
			if direct != nil && n != "direct" {
				row = append(row, fmt.Sprintf("%+.0f", m.P50us-direct.Median.P50us), fmt.Sprintf("%+.0f", m.P99us-direct.Median.P99us))
			} else {
				row = append(row, "-", "-")
			}
			cpu := fmt.Sprintf("%.1f", m.CPUusReq)
			if n == "direct" {
				cpu += " (upstream)"
			}
			row = append(row, cpu, "")
			fmt.Fprintln(tw, strings.Join(row, "\t"))
		}
		tw.Flush()
	}

	fmt.Fprintf(w, "\n-- start and memory (RSS; nginx: master + workers)\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "contender\tstart to ready\tidle\tpeak under load\twith %d SSE streams\t\n", res.Streams)
	ms := func(v float64) string {
		if v == 0 {
			return "-"
		}
		return fmt.Sprintf("%.1f ms", v)
	}
	mb := func(kb int64) string {
		if kb == 0 {
			return "-"
		}
		return fmt.Sprintf("%.1f MB", float64(kb)/1024)
	}
	for _, c := range res.Contenders {
		if c.Name == "direct" {
			continue
		}
		ready := ms(c.ReadyMs)
		if c.ReadyzMs > 0 {
			ready += fmt.Sprintf(" (token held: %s)", ms(c.ReadyzMs))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t\n", c.Name, ready, mb(c.RSSIdleKB), mb(c.RSSLoadKB), mb(c.RSSStreamsKB))
	}
	tw.Flush()

	if len(res.GoBench) > 0 {
		fmt.Fprintf(w, "\n-- Go benchmark, the whole handler chain (internal/server; in-process client and upstream, their cost included)\n")
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "benchmark\tns/op\tB/op\tallocs/op\t")
		var proxyB, upB *goBench
		for i, b := range res.GoBench {
			fmt.Fprintf(tw, "%s\t%.0f\t%d\t%d\t\n", b.Name, b.NsPerOp, b.BytesPerOp, b.AllocsPerOp)
			switch b.Name {
			case "BenchmarkServerCall":
				proxyB = &res.GoBench[i]
			case "BenchmarkDirectCall":
				upB = &res.GoBench[i]
			}
		}
		if proxyB != nil && upB != nil {
			fmt.Fprintf(tw, "the proxy's share\t%.0f\t%d\t%d\t\n", proxyB.NsPerOp-upB.NsPerOp,
				proxyB.BytesPerOp-upB.BytesPerOp, proxyB.AllocsPerOp-upB.AllocsPerOp)
		}
		tw.Flush()
	}
	fmt.Fprintf(w, "\ntoken requests during the whole run: %d (want 1 per agentcore-proxy process)\n", res.TokenRequests)
	if len(res.Problems) > 0 {
		fmt.Fprintf(w, "problems:\n  %s\n", strings.Join(res.Problems, "\n  "))
	}
}
