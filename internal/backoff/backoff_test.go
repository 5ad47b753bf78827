package backoff

import (
	"testing"
	"time"
)

func TestDelay(t *testing.T) {
	p := Policy{Base: time.Second, Max: 30 * time.Second}
	for attempt := 1; attempt <= 100; attempt++ {
		want := min(p.Max, p.Base<<min(attempt-1, 10))
		lo, hi := time.Duration(float64(want)*0.8), min(p.Max, time.Duration(float64(want)*1.2))
		for range 50 {
			if got := p.Delay(attempt); got < lo || got > hi {
				t.Fatalf("Delay(%d) = %v, want within [%v, %v]", attempt, got, lo, hi)
			}
		}
	}
}

func TestJitterSpreads(t *testing.T) {
	seen := map[time.Duration]bool{}
	for range 100 {
		seen[Jitter(time.Second)] = true
	}
	if len(seen) < 50 {
		t.Errorf("Jitter gave %d distinct pauses in 100 tries, want them spread", len(seen))
	}
}
