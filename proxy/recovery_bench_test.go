package proxy_test

import (
	"slices"
	"testing"
	"time"
)

// BenchmarkSessionRecovery compares a tools/call on a live session with the
// first tools/call after the upstream lost the session (re-initialize,
// notifications/initialized, the call again), through the real proxy and
// emulator on loopback. It reports the medians of 20 tries each.
func BenchmarkSessionRecovery(b *testing.B) {
	rig := startRig(b, true, nil)
	cs := connectGo(b, rig.url, "2025-11-25")
	const tries = 20
	var normal, recovered []time.Duration
	for b.Loop() {
		normal, recovered = normal[:0], recovered[:0]
		for range tries {
			start := time.Now()
			if err := add(b, cs, 1, 2); err != nil {
				b.Fatal(err)
			}
			normal = append(normal, time.Since(start))
			rig.emu.EndSessions()
			start = time.Now()
			if err := add(b, cs, 1, 2); err != nil {
				b.Fatal(err)
			}
			recovered = append(recovered, time.Since(start))
		}
	}
	b.ReportMetric(float64(median(normal).Microseconds()), "normal-µs")
	b.ReportMetric(float64(median(recovered).Microseconds()), "after-loss-µs")
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
