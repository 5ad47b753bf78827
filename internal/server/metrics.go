package server

import (
	"net/http"
	"runtime"
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/agentcore-proxy/agentcore-proxy/agentcore"
	"github.com/agentcore-proxy/agentcore-proxy/proxy"
	"github.com/agentcore-proxy/agentcore-proxy/tokencache"
)

// durationBuckets span 1 ms to 60 s: MCP calls range from a cached ping to
// a long tool run.
var durationBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

// metrics are the proxy's Prometheus series, on a private registry. Every
// label is bounded: route names come from the configuration, methods from
// proxy.MethodLabel, reasons and triggers from fixed lists, status codes
// from HTTP, and tool names only behind a flag with a cap.
type metrics struct {
	registerer      prometheus.Registerer
	gatherer        prometheus.Gatherer
	requests        *prometheus.CounterVec
	duration        *prometheus.HistogramVec
	ttfb            *prometheus.HistogramVec
	inflight        *prometheus.GaugeVec
	openStreams     *prometheus.GaugeVec
	upstreamErrors  *prometheus.CounterVec
	tokenRejections *prometheus.CounterVec
	tokenFetches    *prometheus.CounterVec
	tokenFetchTime  *prometheus.HistogramVec
	tokenExpiry     *prometheus.GaugeVec
	tokenRefreshes  *prometheus.CounterVec
	jwksRefreshes   *prometheus.CounterVec
	toolCalls       *prometheus.CounterVec
	recoveries      *prometheus.CounterVec

	// maxTools caps distinct tool names per route; 0 disables tool_calls_total.
	maxTools int
	toolsMu  sync.Mutex
	tools    map[string]map[string]bool // route -> names seen
}

// otherTool is the tool label past the cap.
const otherTool = "other"

// newMetrics registers the series with opts.Registerer, or with a private
// registry that also holds the Go and process collectors.
func newMetrics(opts Options) *metrics {
	reg, gatherer := opts.Registerer, opts.Gatherer
	if reg == nil {
		r := prometheus.NewRegistry()
		r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		reg, gatherer = r, r
	}
	if g, ok := reg.(prometheus.Gatherer); ok && gatherer == nil {
		gatherer = g
	}
	f := promauto.With(reg)
	f.NewGauge(prometheus.GaugeOpts{
		Name:        "agentcore_proxy_build_info",
		Help:        "Always 1; the labels say which build runs.",
		ConstLabels: prometheus.Labels{"version": opts.Version, "goversion": runtime.Version()},
	}).Set(1)
	route := []string{"route"}
	return &metrics{
		registerer: reg,
		gatherer:   gatherer,
		maxTools:   opts.MaxToolNames,
		tools:      map[string]map[string]bool{},
		requests: f.NewCounterVec(prometheus.CounterOpts{
			Name: "agentcore_proxy_requests_total",
			Help: "Answered requests by route, MCP method (none for GET and DELETE) and HTTP status.",
		}, []string{"route", "mcp_method", "code"}),
		duration: f.NewHistogramVec(prometheus.HistogramOpts{
			Name: "agentcore_proxy_request_duration_seconds", Buckets: durationBuckets,
			Help: "Time from request to the end of the answer (the end of the stream for event streams).",
		}, []string{"route", "mcp_method"}),
		ttfb: f.NewHistogramVec(prometheus.HistogramOpts{
			Name: "agentcore_proxy_time_to_first_byte_seconds", Buckets: durationBuckets,
			Help: "Time from request to the answer's headers, streamed or not.",
		}, []string{"route", "mcp_method"}),
		inflight: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "agentcore_proxy_inflight_requests", Help: "Requests being handled.",
		}, route),
		openStreams: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "agentcore_proxy_open_streams", Help: "Event-stream answers in progress.",
		}, route),
		upstreamErrors: f.NewCounterVec(prometheus.CounterOpts{
			Name: "agentcore_proxy_upstream_errors_total",
			Help: "Upstream error answers the proxy explained, by route and diagnosis reason.",
		}, []string{"route", "reason"}),
		tokenRejections: f.NewCounterVec(prometheus.CounterOpts{
			Name: "agentcore_proxy_token_rejections_total",
			Help: "Requests answered without calling the upstream because no token that would pass could be obtained, by route and reason.",
		}, []string{"route", "reason"}),
		tokenFetches: f.NewCounterVec(prometheus.CounterOpts{
			Name: "agentcore_proxy_token_fetches_total", Help: "Token fetches by route and result (success or error).",
		}, []string{"route", "result"}),
		tokenFetchTime: f.NewHistogramVec(prometheus.HistogramOpts{
			Name: "agentcore_proxy_token_fetch_duration_seconds", Buckets: durationBuckets,
			Help: "Time to fetch (and check) a token, retries included.",
		}, route),
		tokenExpiry: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "agentcore_proxy_token_expiry_timestamp_seconds", Help: "Unix time the route's current token expires; 0 when it has none.",
		}, route),
		tokenRefreshes: f.NewCounterVec(prometheus.CounterOpts{
			Name: "agentcore_proxy_token_refreshes_total",
			Help: "Token fetches by trigger: cold (none held), ahead (background refresh), on_401 (the upstream refused it), retry (after a failure).",
		}, []string{"route", "trigger"}),
		jwksRefreshes: f.NewCounterVec(prometheus.CounterOpts{
			Name: "agentcore_proxy_jwks_refreshes_total",
			Help: "Fetches of the authorizer's key set (jwks_uri), by route and result (success or error).",
		}, []string{"route", "result"}),
		toolCalls: f.NewCounterVec(prometheus.CounterOpts{
			Name: "agentcore_proxy_tool_calls_total",
			Help: "tools/call requests by tool name (only when tool names are counted; names past the cap count as other).",
		}, []string{"route", "tool"}),
		recoveries: f.NewCounterVec(prometheus.CounterOpts{
			Name: "agentcore_proxy_session_recoveries_total",
			Help: "Upstream MCP sessions lost (404) and re-initialized, by route and result: recovered, failed, lost_again, not_replayable.",
		}, []string{"route", "result"}),
	}
}

// observe records one answered request.
func (m *metrics) observe(s proxy.Summary) {
	m.requests.WithLabelValues(s.Route, s.MCPMethod, statusLabel(s.Status)).Inc()
	m.duration.WithLabelValues(s.Route, s.MCPMethod).Observe(s.Duration.Seconds())
	if s.Status != proxy.StatusClientGone {
		m.ttfb.WithLabelValues(s.Route, s.MCPMethod).Observe(s.TTFB.Seconds())
	}
	if m.maxTools > 0 && s.MCPMethod == "tools/call" && s.Tool != "" {
		m.toolCalls.WithLabelValues(s.Route, m.toolLabel(s.Route, s.Tool)).Inc()
	}
}

// toolLabel returns name while the route has seen fewer than maxTools
// distinct names, else "other".
func (m *metrics) toolLabel(route, name string) string {
	m.toolsMu.Lock()
	defer m.toolsMu.Unlock()
	seen := m.tools[route]
	if seen == nil {
		seen = map[string]bool{}
		m.tools[route] = seen
	}
	if seen[name] {
		return name
	}
	if len(seen) >= m.maxTools || len(name) > 64 {
		return otherTool
	}
	seen[name] = true
	return name
}

// onDiagnosis returns the proxy hook that counts reasons for route.
func (m *metrics) onDiagnosis(route string) func(string, bool) {
	return func(reason string, fromUpstream bool) {
		// Labels come from the catalogue only, whatever a TokenSource says.
		if _, ok := agentcore.Lookup(reason); !ok {
			reason = agentcore.ReasonUpstreamOther
		}
		if fromUpstream {
			m.upstreamErrors.WithLabelValues(route, reason).Inc()
		} else {
			m.tokenRejections.WithLabelValues(route, reason).Inc()
		}
	}
}

// onStream returns the proxy hook that counts open streams of route.
func (m *metrics) onStream(route string) func(bool) {
	g := m.openStreams.WithLabelValues(route)
	return func(open bool) {
		if open {
			g.Inc()
		} else {
			g.Dec()
		}
	}
}

// onFetch returns the token cache hook for route.
func (m *metrics) onFetch(route string) func(tokencache.FetchResult) {
	return func(r tokencache.FetchResult) {
		result := "success"
		if r.Err != nil {
			result = "error"
		} else {
			m.tokenExpiry.WithLabelValues(route).Set(float64(r.ExpiresAt.Unix()))
		}
		m.tokenFetches.WithLabelValues(route, result).Inc()
		m.tokenFetchTime.WithLabelValues(route).Observe(r.Duration.Seconds())
		m.tokenRefreshes.WithLabelValues(route, r.Trigger).Inc()
	}
}

// onJWKSRefresh returns the jwtcheck hook that counts key-set fetches.
func (m *metrics) onJWKSRefresh(route string) func(error) {
	return func(err error) {
		result := "success"
		if err != nil {
			result = "error"
		}
		m.jwksRefreshes.WithLabelValues(route, result).Inc()
	}
}

func (m *metrics) handler() http.Handler {
	if m.gatherer == nil {
		return http.NotFoundHandler()
	}
	// Registry adds promhttp's own error counter to the exposition.
	return promhttp.HandlerFor(m.gatherer, promhttp.HandlerOpts{Registry: m.registerer})
}

// statusLabels are the code labels of the statuses HTTP defines, made once
// so that counting a request allocates nothing.
var statusLabels = func() (l [600]string) {
	for code := 100; code < len(l); code++ {
		l[code] = strconv.Itoa(code)
	}
	return l
}()

func statusLabel(code int) string {
	if code >= 100 && code < len(statusLabels) {
		return statusLabels[code]
	}
	return strconv.Itoa(code)
}
