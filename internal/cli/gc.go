package cli

import (
	"runtime/debug"
)

// A sidecar's heap is small and its work is many short requests, so the
// default GOGC=100 collects far too often: under load GC was the largest
// single cost (make bench, same run: GOGC=400 gave 1.8× the requests per
// second of GOGC=100 at 32 connections, and 0.8× the CPU per request). A
// soft limit keeps the larger GOGC from letting a big heap grow fourfold.
const (
	sidecarGCPercent   = 400
	sidecarMemoryLimit = 128 << 20
)

// tuneGC applies the sidecar's GC settings unless the user set GOGC or
// GOMEMLIMIT, which always win.
func tuneGC(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(sidecarGCPercent)
	}
	if getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(sidecarMemoryLimit)
	}
}
