package statuspage

import (
	_ "embed"
	"fmt"
	"html/template"
	"strconv"
	"time"
	"unicode/utf8"
)

//go:embed page.html.tmpl
var pageSource string

// pageTmpl is parsed once; html/template escapes every value by context.
var pageTmpl = template.Must(template.New("page").Parse(pageSource))

// maxMessageRunes bounds a failure message on the page so one upstream body
// cannot swamp it; /status carries the whole message.
const maxMessageRunes = 300

// view is what the template shows: Status with times and states already
// put into words, so the template only lays them out.
type view struct {
	Version, GoVersion string
	Ready              bool
	Uptime             string
	StartedAt, Now     string
	Routes             []routeView
	Failures           []failureView
	FailuresDropped    int
}

// routeView is one route card.
type routeView struct {
	Name, Path, Target string
	Auth               bool
	Signing            string
	TokenState         string
	TokenClass         string // ok, warn, bad or muted
	FetchedAt          string
	Fingerprint        string
	Claims             string
	LastError          string
	LastErrorAt        string
	Discovery          *Discovery
	Runtime            *Runtime
	Lifecycle          string // the runtime's session lifecycle, in words
	Requests, Errors   int64
	Recovery           string // session recovery: off, or its counts
	RecoveryClass      string // muted, ok or warn
}

// failureView is one row of the failures table.
type failureView struct {
	Clock, Full       string
	Route             string
	Status            int
	StatusClass       string
	MCPMethod, Reason string
	Message, Session  string
}

func cmpOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// newView puts s into words. Times are shown in the zone of s.Now: the
// proxy runs on the reader's machine, so that is the reader's zone.
func newView(s Status) view {
	now := s.Now
	if now.IsZero() {
		now = time.Now()
	}
	loc := now.Location()
	v := view{
		Version:   s.Version,
		GoVersion: s.GoVersion,
		Ready:     s.Ready,
		Uptime:    humanDuration(now.Sub(s.StartedAt)),
		StartedAt: stamp(s.StartedAt.In(loc)),
		Now:       stamp(now),
	}
	for _, r := range s.Routes {
		v.Routes = append(v.Routes, newRouteView(r, now))
	}
	fs := capFailures(s.Failures)
	v.FailuresDropped = len(s.Failures) - len(fs)
	for _, f := range fs {
		v.Failures = append(v.Failures, failureView{
			Clock:       clock(f.Time.In(loc), now),
			Full:        f.Time.In(loc).Format(time.RFC3339Nano),
			Route:       f.Route,
			Status:      f.Status,
			StatusClass: statusClass(f.Status),
			MCPMethod:   f.MCPMethod,
			Reason:      f.Reason,
			Message:     truncate(f.Message, maxMessageRunes),
			Session:     f.Session,
		})
	}
	return v
}

func newRouteView(r Route, now time.Time) routeView {
	rv := routeView{
		Name: r.Name, Path: r.Path, Target: r.Target, Auth: r.Auth, Signing: r.Signing,
		Requests: r.Requests, Errors: r.Errors, Discovery: r.Discovery, Runtime: r.Runtime,
	}
	if rt := r.Runtime; rt != nil {
		idle, most := time.Duration(rt.IdleTimeoutSeconds)*time.Second, time.Duration(rt.MaxLifetimeSeconds)*time.Second
		rv.Lifecycle = "sessions idle out after " + humanDuration(cmpOr(idle, 15*time.Minute)) + ", live at most " + humanDuration(cmpOr(most, 8*time.Hour))
	}
	rv.TokenState, rv.TokenClass = tokenState(r, now)
	rv.Recovery, rv.RecoveryClass = recoveryState(r)
	if t := r.Token; t != nil {
		rv.Fingerprint, rv.Claims, rv.LastError = t.Fingerprint, t.Claims, t.LastError
		if !t.FetchedAt.IsZero() {
			rv.FetchedAt = clock(t.FetchedAt.In(now.Location()), now) + " (" + humanDuration(now.Sub(t.FetchedAt)) + " ago)"
		}
		if t.LastError != "" && !t.LastErrorAt.IsZero() {
			rv.LastErrorAt = clock(t.LastErrorAt.In(now.Location()), now) + " (" + humanDuration(now.Sub(t.LastErrorAt)) + " ago)"
		}
	}
	return rv
}

// tokenState says in a few words whether r can authenticate, and which CSS
// class colours that. The words contain "valid", "invalid" or "no token",
// which tests and people scanning the page rely on.
func tokenState(r Route, now time.Time) (text, class string) {
	t := r.Token
	switch {
	case r.Signing != "" && t == nil:
		return "no token: requests are signed with AWS SigV4", "ok"
	case !r.Auth && t == nil:
		return "no token (route without auth)", "muted"
	case t == nil:
		return "✗ no token yet", "bad"
	case t.Valid:
		text = "✓ valid"
		if !t.ExpiresAt.IsZero() {
			text += " until " + clock(t.ExpiresAt.In(now.Location()), now)
		}
		text += " (" + strconv.FormatInt(t.SecondsLeft, 10) + "s left)"
		if t.SecondsLeft < 60 {
			return text, "warn"
		}
		return text, "ok"
	case !t.ExpiresAt.IsZero() && !t.ExpiresAt.After(now):
		return "✗ invalid (expired " + clock(t.ExpiresAt.In(now.Location()), now) + ")", "bad"
	default:
		return "✗ invalid", "bad"
	}
}

// recoveryState says in a few words whether r recovers lost upstream
// sessions and how that went.
func recoveryState(r Route) (text, class string) {
	if !r.SessionRecovery {
		return "off", "muted"
	}
	n := r.Recoveries
	bad := n["failed"] + n["lost_again"] + n["not_replayable"]
	text = fmt.Sprintf("on · %d recovered, %d failed, %d lost again, %d not replayable",
		n["recovered"], n["failed"], n["lost_again"], n["not_replayable"])
	if bad > 0 {
		return text, "warn"
	}
	return text, "ok"
}

// statusClass colours an HTTP status: server-side trouble red, the rest amber.
func statusClass(code int) string {
	if code >= 500 {
		return "bad"
	}
	return "warn"
}

// stamp is a full timestamp for the header and footer.
func stamp(t time.Time) string {
	if t.IsZero() {
		return "unknown"
	}
	return t.Format("2006-01-02 15:04:05 MST")
}

// clock is t's time of day, with the date too when t is not on now's day.
func clock(t, now time.Time) string {
	if t.IsZero() {
		return "never"
	}
	if y, m, d := t.Date(); y == now.Year() && m == now.Month() && d == now.Day() {
		return t.Format("15:04:05")
	}
	return t.Format("Jan 2 15:04:05")
}

// humanDuration is d to the two largest units, for uptime and ages.
func humanDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int64(d / time.Second)
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm %02ds", s/60, s%60)
	case s < 86400:
		return fmt.Sprintf("%dh %02dm", s/3600, s%3600/60)
	default:
		return fmt.Sprintf("%dd %dh", s/86400, s%86400/3600)
	}
}

// truncate shortens s to at most n runes, marking the cut with an ellipsis.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
