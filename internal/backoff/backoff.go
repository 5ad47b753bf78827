// Package backoff computes retry pauses for token fetches, key-set refreshes
// and upstream retries: exponential growth from a base, capped, with ±20%
// jitter so that a fleet of sidecars that failed together does not retry in
// lockstep.
package backoff

import (
	"math/rand/v2"
	"time"
)

// jitter is the fraction by which a pause varies either way.
const jitter = 0.2

// Policy is an exponential backoff: attempt 1 waits about Base, each later
// attempt twice as long, never more than Max (before jitter).
type Policy struct {
	Base, Max time.Duration
}

// Delay returns the pause before retry number attempt (1 for the first),
// jittered by ±20% and then kept within [Base·0.8, Max].
func (p Policy) Delay(attempt int) time.Duration {
	d := p.Base
	for i := 1; i < attempt && d < p.Max; i++ {
		d *= 2
	}
	return min(p.Max, Jitter(min(d, p.Max)))
}

// Jitter returns d varied by up to ±20%.
func Jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (1 - jitter + 2*jitter*rand.Float64()))
}
