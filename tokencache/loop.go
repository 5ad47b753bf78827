package tokencache

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/agentcore-proxy/agentcore-proxy/internal/redact"
	"golang.org/x/oauth2"
)

// run is the background loop. It alone performs fetches, which is what keeps
// exactly one in flight.
func (c *Cache) run() {
	defer close(c.done)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		if c.ctx.Err() != nil {
			c.shutdown()
			return
		}
		c.mu.Lock()
		cl, wait := c.nextLocked(c.cfg.Now())
		c.mu.Unlock()
		if cl != nil {
			c.fetch(cl)
			continue
		}
		var wake <-chan time.Time
		if wait >= 0 {
			timer.Reset(wait)
			wake = timer.C
		}
		select {
		case <-c.ctx.Done():
		case <-c.kick:
		case <-wake:
		}
		timer.Stop()
	}
}

// nextLocked returns the fetch to run now, or else how long to wait before
// looking again (negative: until woken).
func (c *Cache) nextLocked(now time.Time) (*call, time.Duration) {
	if c.pending != nil {
		return c.pending, 0
	}
	var at time.Time
	var trigger string
	switch {
	case c.failures > 0:
		at, trigger = c.retryAt, TriggerRetry
	case c.tok != nil:
		at, trigger = c.tok.refreshAt, TriggerAhead
	default:
		return nil, -1
	}
	if now.Before(at) {
		return nil, at.Sub(now)
	}
	c.pending = &call{trigger: trigger, done: make(chan struct{})}
	return c.pending, 0
}

// shutdown fails a queued fetch so that no caller waits for it forever.
func (c *Cache) shutdown() {
	c.mu.Lock()
	cl := c.pending
	c.pending = nil
	c.mu.Unlock()
	if cl != nil {
		cl.err = ErrClosed
		close(cl.done)
	}
}

// fetch runs cl, records its outcome and wakes its waiters.
func (c *Cache) fetch(cl *call) {
	start := c.cfg.Now()
	tok, err := c.retrieve()
	if err == nil {
		// Before anyone can send it, and before a check that may quote it.
		c.red.AddToken(tok.AccessToken)
	}
	if err == nil && c.cfg.Check != nil {
		if cerr := c.cfg.Check(tok.AccessToken); cerr != nil {
			tok, err = nil, fmt.Errorf("%w: %w", ErrTokenRejected, cerr)
		}
	}
	now := c.cfg.Now()
	res := FetchResult{Trigger: cl.trigger, Err: err, Duration: now.Sub(start)}

	c.mu.Lock()
	recovered := c.failures > 0
	fingerprint := ""
	switch {
	case err == nil:
		h := c.newHeld(tok, now)
		c.tok = h
		c.failures = 0
		cl.token = h.access
		fingerprint = h.fingerprint
		res.ExpiresAt = h.expiresAt
	case c.ctx.Err() != nil:
		// Shutting down: not a failure of the token endpoint.
		err = ErrClosed
		res.Err = err
		cl.err = err
	default:
		c.failures++
		c.retryAt = now.Add(retryDelay(c.failures))
		c.lastErr = err
		c.lastErrAt = now
		cl.err = err
	}
	c.pending = nil
	c.mu.Unlock()

	// Report before waking the waiters, so that metrics fed by OnFetch
	// already count this fetch when Token returns its outcome.
	c.logFetch(res, fingerprint, recovered, now)
	if c.cfg.OnFetch != nil {
		c.cfg.OnFetch(res)
	}
	close(cl.done)
}

// newHeld computes when a freshly fetched token stops being usable and when
// to refresh it.
func (c *Cache) newHeld(tok *oauth2.Token, fetchedAt time.Time) *held {
	lifetime := tok.Expiry.Sub(fetchedAt)
	margin := min(maxMargin, lifetime/10)
	usable := tok.Expiry.Add(-margin)
	ahead := float64(lifetime) * (c.cfg.RefreshAhead + c.cfg.Jitter*(2*randFloat()-1))
	refreshAt := fetchedAt.Add(time.Duration(ahead))
	if refreshAt.After(usable) {
		refreshAt = usable
	}
	// Validation keeps the refresh point after fetchedAt; the floor guards
	// the loop against refreshing without pause should rounding defeat it.
	if earliest := fetchedAt.Add(lifetime / 10); refreshAt.Before(earliest) {
		refreshAt = earliest
	}
	return &held{
		access:      tok.AccessToken,
		fingerprint: redact.Fingerprint(tok.AccessToken),
		fetchedAt:   fetchedAt,
		expiresAt:   tok.Expiry,
		usableUntil: usable,
		refreshAt:   refreshAt,
	}
}

// logFetch logs a success at debug level, a recovery at info and a failure
// at warn, each distinct failure at most once a minute.
func (c *Cache) logFetch(res FetchResult, fingerprint string, recovered bool, now time.Time) {
	attrs := []any{"trigger", res.Trigger, "token_url", c.origin(), "client_id", c.cfg.ClientID, "duration", res.Duration}
	switch {
	case res.Err == nil:
		attrs = append(attrs, "fingerprint", fingerprint, "expires_at", res.ExpiresAt)
		if recovered {
			c.log.Info("token fetch recovered", attrs...)
		} else {
			c.log.Debug("token fetched", attrs...)
		}
	case errors.Is(res.Err, ErrClosed):
	default:
		if c.limits.allow(res.Err.Error(), now) {
			c.log.Warn("token fetch failed", append(attrs, "err", res.Err)...)
		}
	}
}

// logLimiter lets each distinct message through at most once a minute.
// Messages that differ only in numbers count as the same, so that errors
// naming an ephemeral local port or a 502 after a 503 do not flood the log
// during an outage.
type logLimiter struct {
	last map[string]time.Time
}

// allow reports whether msg may be logged at now, and if so records it.
func (l *logLimiter) allow(msg string, now time.Time) bool {
	msg = strings.Map(func(r rune) rune {
		if '0' <= r && r <= '9' {
			return '#'
		}
		return r
	}, msg)
	for m, t := range l.last {
		if now.Sub(t) >= time.Minute {
			delete(l.last, m)
		}
	}
	if _, seen := l.last[msg]; seen {
		return false
	}
	l.last[msg] = now
	return true
}
