package main

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestBenchLine(t *testing.T) {
	out := "Running 1s test @ http://127.0.0.1:1/mcp\n  2 threads and 32 connections\n" +
		"BENCH requests=12345 duration_us=1000500 errors=2 non2xx=3 p50_us=410 p99_us=2750\n"
	m := benchLine.FindStringSubmatch(out)
	want := []string{"12345", "1000500", "2", "3", "410", "2750"}
	if m == nil || !slices.Equal(m[1:], want) {
		t.Errorf("benchLine on wrk's output = %q, want %q", m, want)
	}
}

func TestGoBenchLine(t *testing.T) {
	tests := []struct {
		line string
		want []string // name, ns/op, B/op, allocs/op; nil: no match
	}{
		{line: "BenchmarkProxyCall-2   	    8066	    474486 ns/op	   52870 B/op	     268 allocs/op",
			want: []string{"BenchmarkProxyCall", "474486", "52870", "268"}},
		{line: "BenchmarkUpstreamCall 	 200	 65512.5 ns/op	 8083 B/op	 91 allocs/op",
			want: []string{"BenchmarkUpstreamCall", "65512.5", "8083", "91"}},
		{line: "ok  	github.com/agentcore-proxy/agentcore-proxy/proxy	0.130s"},
	}
	for _, tc := range tests {
		m := goBenchLine.FindStringSubmatch(tc.line)
		if tc.want == nil {
			if m != nil {
				t.Errorf("goBenchLine on %q = %q, want no match", tc.line, m)
			}
			continue
		}
		if m == nil || !slices.Equal(m[1:], tc.want) {
			t.Errorf("goBenchLine on %q = %q, want %q", tc.line, m, tc.want)
		}
	}
}

func TestStatFieldsOfSelf(t *testing.T) {
	f := statFields(os.Getpid())
	if len(f) < 15 {
		t.Fatalf("statFields(self) has %d fields, want at least 15", len(f))
	}
	if f[0] != strconv.Itoa(os.Getpid()) || f[3] != strconv.Itoa(os.Getppid()) {
		t.Errorf("statFields(self) pid, ppid = %s, %s; want %d, %d", f[0], f[3], os.Getpid(), os.Getppid())
	}
	if rssKB([]int{os.Getpid()}) <= 0 {
		t.Errorf("rssKB(self) = %d, want > 0", rssKB([]int{os.Getpid()}))
	}
}

func TestMedianSample(t *testing.T) {
	tests := []struct {
		name string
		in   []sample
		want sample
	}{
		{name: "odd", in: []sample{{ReqPerSec: 3, P50us: 10}, {ReqPerSec: 1, P50us: 30}, {ReqPerSec: 2, P50us: 20}},
			want: sample{ReqPerSec: 2, P50us: 20}},
		{name: "even", in: []sample{{ReqPerSec: 4}, {ReqPerSec: 1}, {ReqPerSec: 2}, {ReqPerSec: 100}},
			want: sample{ReqPerSec: 3}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := medianSample(tc.in); got != tc.want {
				t.Errorf("medianSample(%v) = %+v, want %+v", tc.in, got, tc.want)
			}
		})
	}
}

// TestWrkScripts checks that only direct's script carries a bearer token:
// the proxies must add their own, and the upstream counts requests without.
func TestWrkScripts(t *testing.T) {
	withAuth, noAuth, err := writeWrkScripts(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path string
		want bool
	}{{withAuth, true}, {noAuth, false}} {
		b, err := os.ReadFile(tc.path)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(string(b), staticBearer); got != tc.want {
			t.Errorf("%s holds the bearer: %v, want %v", filepath.Base(tc.path), got, tc.want)
		}
		if !strings.Contains(string(b), callBody) || !strings.Contains(string(b), "done = function") {
			t.Errorf("%s lacks the body or the done hook:\n%s", filepath.Base(tc.path), b)
		}
	}
}

func TestPeakRSSOfSelf(t *testing.T) {
	if got := peakRSSKB([]int{os.Getpid()}); got <= 0 {
		t.Errorf("peakRSSKB(self) = %d, want > 0", got)
	}
	if got := peakRSSKB([]int{-1}); got != 0 {
		t.Errorf("peakRSSKB(no such process) = %d, want 0", got)
	}
}
