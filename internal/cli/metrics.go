package cli

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the proxy's Prometheus series, on a private registry. Labels
// are bounded: route names come from the configuration and reasons from
// fixed lists.
type metrics struct {
	reg             *prometheus.Registry
	upstreamErrors  *prometheus.CounterVec
	tokenRejections *prometheus.CounterVec
	jwksRefreshes   *prometheus.CounterVec
}

func newMetrics() *metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	f := promauto.With(reg)
	return &metrics{
		reg: reg,
		upstreamErrors: f.NewCounterVec(prometheus.CounterOpts{
			Name: "agentcore_proxy_upstream_errors_total",
			Help: "Upstream error answers the proxy explained, by route and diagnosis reason.",
		}, []string{"route", "reason"}),
		tokenRejections: f.NewCounterVec(prometheus.CounterOpts{
			Name: "agentcore_proxy_token_rejections_total",
			Help: "Requests answered without calling the upstream because no token that would pass could be obtained, by route and reason.",
		}, []string{"route", "reason"}),
		jwksRefreshes: f.NewCounterVec(prometheus.CounterOpts{
			Name: "agentcore_proxy_jwks_refreshes_total",
			Help: "Fetches of the authorizer's key set (jwks_uri), by route and result (success or error).",
		}, []string{"route", "result"}),
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

// onDiagnosis returns the proxy hook that counts reasons for route.
func (m *metrics) onDiagnosis(route string) func(string, bool) {
	return func(reason string, fromUpstream bool) {
		if fromUpstream {
			m.upstreamErrors.WithLabelValues(route, reason).Inc()
		} else {
			m.tokenRejections.WithLabelValues(route, reason).Inc()
		}
	}
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}
