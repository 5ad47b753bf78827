// Tests of the monitoring assets: the Prometheus rules and scrape example in
// prometheus/ and the Grafana dashboard in grafana/, checked against the
// series list in testdata/metrics.txt. They live in their own module so that
// the proxy's go.mod stays lean; promtool (Debian package prometheus) checks
// the PromQL.
package deploy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

const (
	alertsFile     = "prometheus/alerts.yaml"
	alertTestsFile = "prometheus/alerts_test.yaml"
	scrapeFile     = "prometheus/scrape.yaml"
	dashboardFile  = "grafana/agentcore-proxy.json"
	metricsFile    = "testdata/metrics.txt"
	metricPrefix   = "agentcore_proxy_"
)

// wantAlerts are the alerts the README promises.
var wantAlerts = []string{
	"AgentCoreProxyDown",
	"AgentCoreProxyTokenFetchFailing",
	"AgentCoreProxyTokenExpiringWithoutRefresh",
	"AgentCoreProxyAuthErrors",
	"AgentCoreProxyHighLatency",
	"AgentCoreProxyUpstreamErrors",
	"AgentCoreProxyJWKSRefreshFailing",
}

// metric is one line of testdata/metrics.txt.
type metric struct {
	typ    string
	labels []string
}

func loadMetrics(t *testing.T) map[string]metric {
	t.Helper()
	f, err := os.Open(metricsFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ms := map[string]metric{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		if len(fields) < 2 || !slices.Contains([]string{"counter", "gauge", "histogram"}, fields[1]) {
			t.Fatalf("%s:%d: want NAME counter|gauge|histogram LABEL..., got %q", metricsFile, n, sc.Text())
		}
		ms[fields[0]] = metric{typ: fields[1], labels: fields[2:]}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return ms
}

// promtool runs promtool with args and fails the test with its output if it
// does not succeed.
func promtool(t *testing.T, args ...string) {
	t.Helper()
	bin, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf(`exec.LookPath("promtool") = %v; install it with apt-get install --no-install-recommends prometheus`, err)
	}
	out, err := exec.CommandContext(t.Context(), bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// TestPromtool has promtool check the rules and the scrape example and run
// the rules' unit tests.
func TestPromtool(t *testing.T) {
	for _, args := range [][]string{
		{"check", "rules", alertsFile},
		{"test", "rules", alertTestsFile},
		{"check", "config", scrapeFile},
	} {
		t.Run(strings.Join(args[:2], "_"), func(t *testing.T) { promtool(t, args...) })
	}
}

// ruleFile mirrors Prometheus's rule file format; decoding with KnownFields
// rejects a misspelt key that Prometheus would also reject.
type ruleFile struct {
	Groups []struct {
		Name     string `yaml:"name"`
		Interval string `yaml:"interval"`
		Rules    []rule `yaml:"rules"`
	} `yaml:"groups"`
}

type rule struct {
	Record        string            `yaml:"record"`
	Alert         string            `yaml:"alert"`
	Expr          string            `yaml:"expr"`
	For           string            `yaml:"for"`
	KeepFiringFor string            `yaml:"keep_firing_for"`
	Labels        map[string]string `yaml:"labels"`
	Annotations   map[string]string `yaml:"annotations"`
}

// ruleTests mirrors the parts of promtool's unit test format this test reads.
type ruleTests struct {
	Tests []struct {
		AlertRuleTest []struct {
			AlertName string           `yaml:"alertname"`
			ExpAlerts []map[string]any `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
	} `yaml:"tests"`
}

func decodeYAML(t *testing.T, name string, v any, strict bool) {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(strict)
	if err := dec.Decode(v); err != nil {
		t.Fatalf("decoding %s: %v", name, err)
	}
}

// TestAlertRules checks what promtool does not: every promised alert exists,
// waits (for), has a severity and says what to do, uses only exported series,
// and has a unit test in which it fires.
func TestAlertRules(t *testing.T) {
	metrics := loadMetrics(t)
	var rf ruleFile
	decodeYAML(t, alertsFile, &rf, true)
	var tests ruleTests
	decodeYAML(t, alertTestsFile, &tests, false)
	fires := map[string]bool{}
	for _, tc := range tests.Tests {
		for _, at := range tc.AlertRuleTest {
			if len(at.ExpAlerts) > 0 {
				fires[at.AlertName] = true
			}
		}
	}

	seen := map[string]bool{}
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			seen[r.Alert] = true
			t.Run(r.Alert, func(t *testing.T) {
				if r.For == "" {
					t.Errorf("for is empty; want a duration, so that one bad scrape does not page")
				}
				if s := r.Labels["severity"]; s != "critical" && s != "warning" {
					t.Errorf("labels.severity = %q, want critical or warning", s)
				}
				for _, a := range []string{"summary", "description"} {
					if strings.TrimSpace(r.Annotations[a]) == "" {
						t.Errorf("annotations.%s is empty", a)
					}
				}
				for _, err := range checkExpr(r.Expr, metrics) {
					t.Error(err)
				}
				if !fires[r.Alert] {
					t.Errorf("%s has no case in which it fires", alertTestsFile)
				}
			})
		}
	}
	for _, name := range wantAlerts {
		if !seen[name] {
			t.Errorf("%s has no alert %s", alertsFile, name)
		}
	}
}

var (
	stringLit = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	// A series name and its label matchers, if any. Only names with the
	// prefixes of testdata/metrics.txt count: PromQL has no other marker.
	selector = regexp.MustCompile(`\b((?:agentcore_proxy|go|process)_[a-z_]+|up)\b(\s*\{([^}]*)\})?`)
	matcher  = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)`)
)

// usedMetrics returns the names of the series expr selects.
func usedMetrics(expr string) []string {
	var names []string
	for _, m := range selector.FindAllStringSubmatch(stringLit.ReplaceAllString(expr, `""`), -1) {
		names = append(names, m[1])
	}
	return names
}

// checkExpr reports the series expr selects that are not in metrics, and
// label matchers that name a label the series does not have. Label names in
// by, without, on and ignoring clauses are left to the unit tests.
func checkExpr(expr string, metrics map[string]metric) []error {
	var errs []error
	for _, m := range selector.FindAllStringSubmatch(stringLit.ReplaceAllString(expr, `""`), -1) {
		name, base, suffix := m[1], m[1], ""
		for _, s := range []string{"_bucket", "_sum", "_count"} {
			if b, ok := strings.CutSuffix(name, s); ok && metrics[b].typ == "histogram" {
				base, suffix = b, s
			}
		}
		md, ok := metrics[base]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("%s: not in %s", name, metricsFile))
			continue
		case md.typ == "histogram" && suffix == "":
			errs = append(errs, fmt.Errorf("%s: a histogram has only _bucket, _sum and _count series", name))
			continue
		}
		allowed := append([]string{"job", "instance"}, md.labels...)
		if suffix == "_bucket" {
			allowed = append(allowed, "le")
		}
		for _, lm := range matcher.FindAllStringSubmatch(m[3], -1) {
			if !slices.Contains(allowed, lm[1]) {
				errs = append(errs, fmt.Errorf("%s{%s}: %s has no label %s (labels: %s)",
					name, strings.TrimSpace(m[3]), base, lm[1], strings.Join(allowed, ", ")))
			}
		}
	}
	return errs
}

// dashboard mirrors the parts of a Grafana dashboard this file sets; decoding
// with DisallowUnknownFields catches a key at the wrong level.
type dashboard struct {
	Annotations          struct{ List []json.RawMessage } `json:"annotations"`
	Description          string                           `json:"description"`
	Editable             bool                             `json:"editable"`
	FiscalYearStartMonth int                              `json:"fiscalYearStartMonth"`
	GraphTooltip         int                              `json:"graphTooltip"`
	ID                   *int                             `json:"id"`
	Links                []json.RawMessage                `json:"links"`
	Panels               []panel                          `json:"panels"`
	Refresh              string                           `json:"refresh"`
	SchemaVersion        int                              `json:"schemaVersion"`
	Tags                 []string                         `json:"tags"`
	Templating           struct{ List []variable }        `json:"templating"`
	Time                 struct{ From, To string }        `json:"time"`
	Timepicker           json.RawMessage                  `json:"timepicker"`
	Timezone             string                           `json:"timezone"`
	Title                string                           `json:"title"`
	UID                  string                           `json:"uid"`
	Version              int                              `json:"version"`
	WeekStart            string                           `json:"weekStart"`
}

type panel struct {
	Type            string                   `json:"type"`
	Title           string                   `json:"title"`
	Description     string                   `json:"description"`
	ID              int                      `json:"id"`
	Collapsed       bool                     `json:"collapsed"`
	GridPos         struct{ H, W, X, Y int } `json:"gridPos"`
	Panels          []panel                  `json:"panels"`
	Datasource      *datasourceRef           `json:"datasource"`
	FieldConfig     json.RawMessage          `json:"fieldConfig"`
	Options         json.RawMessage          `json:"options"`
	Targets         []target                 `json:"targets"`
	Transformations json.RawMessage          `json:"transformations"`
}

type target struct {
	Datasource   *datasourceRef `json:"datasource"`
	RefID        string         `json:"refId"`
	Expr         string         `json:"expr"`
	LegendFormat string         `json:"legendFormat"`
	Range        bool           `json:"range"`
	Instant      bool           `json:"instant"`
	Format       string         `json:"format"`
}

type datasourceRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type variable struct {
	Name       string            `json:"name"`
	Label      string            `json:"label"`
	Type       string            `json:"type"`
	Query      json.RawMessage   `json:"query"`
	Datasource *datasourceRef    `json:"datasource"`
	Definition string            `json:"definition"`
	Current    json.RawMessage   `json:"current"`
	Hide       int               `json:"hide"`
	IncludeAll bool              `json:"includeAll"`
	AllValue   string            `json:"allValue"`
	Multi      bool              `json:"multi"`
	Options    []json.RawMessage `json:"options"`
	Refresh    int               `json:"refresh"`
	Regex      string            `json:"regex"`
	Sort       int               `json:"sort"`
}

// corePanels are the panel types Grafana ships; anything else needs a plugin.
var corePanels = []string{"row", "timeseries", "stat", "table", "gauge", "bargauge", "text", "heatmap"}

var wantDatasource = datasourceRef{Type: "prometheus", UID: "${datasource}"}

func loadDashboard(t *testing.T) dashboard {
	t.Helper()
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := noDuplicateKeys(json.NewDecoder(bytes.NewReader(b))); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var d dashboard
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("decoding %s: %v", dashboardFile, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		t.Fatalf("%s: data after the dashboard object", dashboardFile)
	}
	return d
}

// noDuplicateKeys reports an object key given twice, which encoding/json
// accepts silently (the last one wins).
func noDuplicateKeys(dec *json.Decoder) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch tok {
	case json.Delim('{'):
		keys := map[string]bool{}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return err
			}
			if keys[k.(string)] {
				return fmt.Errorf("key %q given twice in one object", k)
			}
			keys[k.(string)] = true
			if err := noDuplicateKeys(dec); err != nil {
				return fmt.Errorf("%s: %w", k, err)
			}
		}
		_, err = dec.Token()
	case json.Delim('['):
		for dec.More() {
			if err := noDuplicateKeys(dec); err != nil {
				return err
			}
		}
		_, err = dec.Token()
	}
	return err
}

// allPanels returns the dashboard's panels, those of collapsed rows included.
func allPanels(d dashboard) []panel {
	var ps []panel
	for _, p := range d.Panels {
		ps = append(ps, p)
		ps = append(ps, p.Panels...)
	}
	return ps
}

// TestDashboard checks the dashboard's settings, variables, data sources,
// layout and series.
func TestDashboard(t *testing.T) {
	d := loadDashboard(t)
	metrics := loadMetrics(t)
	if d.Title != "agentcore-proxy" || d.UID == "" || d.SchemaVersion < 39 {
		t.Errorf("title, uid, schemaVersion = %q, %q, %d; want agentcore-proxy, set, >= 39", d.Title, d.UID, d.SchemaVersion)
	}

	vars := map[string]variable{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v
	}
	if v := vars["datasource"]; v.Type != "datasource" || string(v.Query) != `"prometheus"` {
		t.Errorf("variable datasource: type %q, query %s; want datasource, \"prometheus\"", v.Type, v.Query)
	}
	const routeQuery = "label_values(agentcore_proxy_requests_total, route)"
	if v := vars["route"]; v.Type != "query" || v.Definition != routeQuery || !v.Multi || !v.IncludeAll ||
		v.Datasource == nil || *v.Datasource != wantDatasource || !bytes.Contains(v.Query, []byte(routeQuery)) {
		t.Errorf("variable route = %+v; want a multi-select query variable with All, %s from ${datasource}", v, routeQuery)
	}

	used := map[string]bool{}
	ids := map[int]string{}
	var cells [][24]string // cells[y][x] is the title of the panel covering it
	for _, p := range allPanels(d) {
		if other, ok := ids[p.ID]; ok {
			t.Errorf("panels %q and %q share id %d", other, p.Title, p.ID)
		}
		ids[p.ID] = p.Title
		if !slices.Contains(corePanels, p.Type) {
			t.Errorf("panel %q: type %q needs a plugin; want one of %v", p.Title, p.Type, corePanels)
		}
		g := p.GridPos
		if g.W <= 0 || g.H <= 0 || g.X < 0 || g.Y < 0 || g.X+g.W > 24 {
			t.Errorf("panel %q: gridPos %+v outside the 24-column grid", p.Title, g)
			continue
		}
		for y := g.Y; y < g.Y+g.H; y++ {
			for len(cells) <= y {
				cells = append(cells, [24]string{})
			}
			for x := g.X; x < g.X+g.W; x++ {
				if other := cells[y][x]; other != "" {
					t.Errorf("panels %q and %q overlap at x=%d y=%d", other, p.Title, x, y)
				}
				cells[y][x] = p.Title
			}
		}
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || *p.Datasource != wantDatasource {
			t.Errorf("panel %q: datasource %v, want %v", p.Title, p.Datasource, wantDatasource)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no targets", p.Title)
		}
		for _, tg := range p.Targets {
			if tg.Datasource == nil || *tg.Datasource != wantDatasource {
				t.Errorf("panel %q target %s: datasource %v, want %v", p.Title, tg.RefID, tg.Datasource, wantDatasource)
			}
			for _, err := range checkExpr(tg.Expr, metrics) {
				t.Errorf("panel %q target %s: %v", p.Title, tg.RefID, err)
			}
			for _, name := range usedMetrics(tg.Expr) {
				used[name] = true
			}
		}
	}
	for name, m := range metrics {
		if !strings.HasPrefix(name, metricPrefix) {
			continue
		}
		ok := used[name]
		if m.typ == "histogram" {
			ok = used[name+"_bucket"]
		}
		if !ok {
			t.Errorf("no panel shows %s", name)
		}
	}
}

// grafanaVars replaces the variables the dashboard's queries use with values
// Prometheus accepts; a "$" left afterwards is an unknown variable.
var grafanaVars = strings.NewReplacer(
	"$__rate_interval", "1m",
	"$__interval", "1m",
	"$__range", "1h",
	"$route", ".*",
)

// TestDashboardQueries has promtool parse every dashboard query, as
// recording rules in a scratch rule file.
func TestDashboardQueries(t *testing.T) {
	d := loadDashboard(t)
	type recording struct {
		Record string `yaml:"record"`
		Expr   string `yaml:"expr"`
	}
	var rules []recording
	for _, p := range allPanels(d) {
		for _, tg := range p.Targets {
			expr := grafanaVars.Replace(tg.Expr)
			if strings.Contains(expr, "$") {
				t.Errorf("panel %q target %s: unknown variable in %q", p.Title, tg.RefID, tg.Expr)
				continue
			}
			rules = append(rules, recording{Record: fmt.Sprintf("dashboard:panel_%d_%s", p.ID, tg.RefID), Expr: expr})
		}
	}
	if len(rules) == 0 {
		t.Fatalf("%s has no queries", dashboardFile)
	}
	b, err := yaml.Marshal(map[string]any{"groups": []any{map[string]any{"name": "dashboard", "rules": rules}}})
	if err != nil {
		t.Fatal(err)
	}
	name := filepath.Join(t.TempDir(), "dashboard-queries.yaml")
	if err := os.WriteFile(name, b, 0o600); err != nil {
		t.Fatal(err)
	}
	promtool(t, "check", "rules", name)
}

// TestCheckExpr shows that the series check catches the mistakes it is for.
func TestCheckExpr(t *testing.T) {
	metrics := map[string]metric{
		"agentcore_proxy_requests_total":           {typ: "counter", labels: []string{"route", "code"}},
		"agentcore_proxy_request_duration_seconds": {typ: "histogram", labels: []string{"route"}},
	}
	for _, tc := range []struct {
		name, expr string
		wantErrs   int
	}{
		{name: "known series and labels", expr: `sum by (code) (rate(agentcore_proxy_requests_total{route=~"$route", code=~"5.."}[5m]))`},
		{name: "histogram bucket with le", expr: `histogram_quantile(0.9, rate(agentcore_proxy_request_duration_seconds_bucket{le="1"}[5m]))`},
		{name: "label values are not series", expr: `agentcore_proxy_requests_total{route="agentcore_proxy_nope"}`},
		{name: "unknown series", expr: `rate(agentcore_proxy_request_total[5m])`, wantErrs: 1},
		{name: "histogram without suffix", expr: `agentcore_proxy_request_duration_seconds`, wantErrs: 1},
		{name: "unknown label", expr: `agentcore_proxy_requests_total{status="500"}`, wantErrs: 1},
		{name: "le on a counter", expr: `agentcore_proxy_requests_total{le="1"}`, wantErrs: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if errs := checkExpr(tc.expr, metrics); len(errs) != tc.wantErrs {
				t.Errorf("checkExpr(%q) = %v, want %d errors", tc.expr, errors.Join(errs...), tc.wantErrs)
			}
		})
	}
}
