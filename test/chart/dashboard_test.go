package chart

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// The sources of the metric names the dashboard may read. Vector's and the NATS exporter's are not in this
// module: their names were read in those projects' sources at the commits given.
const (
	dashSrcOperator = "operator: internal/controller/metrics.go"
	dashSrcCanary   = "issue 24 canary (internal/controller, being added)"
	// The operator's controller is named "auditpipeline" (internal/controller/auditpipeline_controller.go).
	dashSrcControllerRuntime = "controller-runtime (the version of go.mod): pkg/internal/controller/metrics/metrics.go"
	// The prometheus_exporter sink serves the internal_metrics source's metrics with its namespace, vector_.
	// Tags: component_id, component_kind, component_type (every component metric), error_type and stage
	// (errors), intentional (discarded), buffer_id and stage (buffers). The namespace and pod labels come
	// from the user's scrape, as the chart's AuditAgentEventsDropped alert assumes. vector_buffer_size_events
	// replaced vector_buffer_events (Vector 0.53, which later removed the old name); the pipelines run 0.59.
	dashSrcVector = "Vector internal_metrics: vectordotdev/vector website/cue/reference/components/sources/" +
		"internal_metrics.cue at c3445d42d2799eb9afe102b71cba7ae96a80942b"
	// Served with -jsz=consumers (or -jsz=all) and without -prefix, which renames jetstream_. Labels: the
	// server's, account, account_name, account_id, stream_name, stream_leader, is_stream_leader,
	// stream_raft_group, consumer_name, consumer_leader, is_consumer_leader, consumer_desc.
	dashSrcNATSExporter = "prometheus-nats-exporter: nats-io/prometheus-nats-exporter collector/jsz.go at " +
		"2fdbfd7eb2cab72b377ff74b8eb2e32702a65eec (v0.20.1 and later)"
)

// dashboardMetric is a series name the dashboard may read: where it comes from, and one series as Prometheus
// stores it (its exporter's labels and the scrape's) with values in promtool's expanding notation, every
// minute, on which each panel's expressions must return something.
type dashboardMetric struct {
	source string
	labels map[string]string
	values string
}

// Example series of each exporter, with the labels of its scrape.
var (
	// dashOperatorScrape are the target labels of the chart's ServiceMonitor; honorLabels keeps the pipelines' own
	// namespace label on the pipeline metrics.
	dashOperatorScrape = map[string]string{"job": "auditpipeline-operator-metrics", "instance": "10.0.0.5:8443",
		"pod": "auditpipeline-operator-6c9f7-x2x9k", "namespace": "auditpipeline-system"}
	dashPipeline = map[string]string{"namespace": "audit", "name": "main"}
	dashAgentPod = map[string]string{"job": "vector", "instance": "10.1.0.7:9598", "namespace": "audit",
		"pod": "main-collector-x2x9k"}
	dashAggregatorPod = map[string]string{"job": "vector", "instance": "10.1.0.9:9598", "namespace": "audit",
		"pod": "main-aggregator-0"}
	dashConsumerLabels = map[string]string{"job": "nats-exporter", "instance": "10.2.0.3:7777",
		"server_id": "NDCQ3XW", "server_name": "nats-0", "cluster": "nats", "domain": "", "meta_leader": "nats-0",
		"is_meta_leader": "true", "account": "AUDIT", "account_name": "AUDIT", "account_id": "AUDIT",
		"stream_name": "AUDIT_EVENTS", "stream_leader": "nats-0", "is_stream_leader": "true",
		"stream_raft_group": "S-R3F-x1", "consumer_name": "clickhouse-ingest", "consumer_leader": "nats-0",
		"is_consumer_leader": "true", "consumer_desc": ""}
)

// unionLabels returns the union of label sets, later ones winning.
func unionLabels(sets ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, s := range sets {
		maps.Copy(out, s)
	}
	return out
}

func dashPipelineSeries(extra map[string]string) map[string]string {
	return unionLabels(dashOperatorScrape, dashPipeline, extra)
}

func dashVectorComponent(pod map[string]string, id, kind, typ string, extra map[string]string) map[string]string {
	return unionLabels(pod, map[string]string{"component_id": id, "component_kind": kind, "component_type": typ}, extra)
}

// dashboardMetrics are the only series names the dashboard may read; each one is read by some panel.
var dashboardMetrics = map[string]dashboardMetric{
	"auditpipeline_condition": {dashSrcOperator,
		dashPipelineSeries(map[string]string{"type": "Ready", "status": "True"}), "1x30"},
	"auditpipeline_schema_version": {dashSrcOperator, dashPipelineSeries(nil), "7x30"},

	"auditpipeline_canary_sent_total": {dashSrcCanary, dashPipelineSeries(nil), "0+1x30"},
	"auditpipeline_canary_seen_total": {dashSrcCanary, dashPipelineSeries(nil), "0+1x30"},
	"auditpipeline_canary_lost_total": {dashSrcCanary, dashPipelineSeries(nil), "0x30"},
	// The histogram's buckets; the example has one bucket besides +Inf (the others are alike).
	"auditpipeline_canary_latency_seconds_bucket": {dashSrcCanary, dashPipelineSeries(map[string]string{"le": "10"}), "0+1x30"},
	"auditpipeline_events_newest_timestamp_seconds": {dashSrcCanary,
		dashPipelineSeries(map[string]string{"cluster": "prod-eu-1"}), "0+60x30"},
	"auditpipeline_events_recent": {dashSrcCanary, dashPipelineSeries(nil), "1200x30"},

	"controller_runtime_reconcile_total": {dashSrcControllerRuntime,
		unionLabels(dashOperatorScrape, map[string]string{"controller": "auditpipeline", "result": "success"}), "0+10x30"},
	"controller_runtime_reconcile_errors_total": {dashSrcControllerRuntime,
		unionLabels(dashOperatorScrape, map[string]string{"controller": "auditpipeline"}), "0+1x30"},

	"vector_component_sent_events_total": {dashSrcVector,
		dashVectorComponent(dashAgentPod, "jetstream", "sink", "nats", nil), "0+600x30"},
	"vector_component_errors_total": {dashSrcVector, dashVectorComponent(dashAggregatorPod, "clickhouse", "sink", "clickhouse",
		map[string]string{"error_type": "request_failed", "stage": "sending"}), "0+1x30"},
	"vector_component_discarded_events_total": {dashSrcVector, dashVectorComponent(dashAggregatorPod, "keep_stages", "transform",
		"filter", map[string]string{"intentional": "true"}), "0+50x30"},
	"vector_buffer_size_events": {dashSrcVector, dashVectorComponent(dashAgentPod, "jetstream", "sink", "nats",
		map[string]string{"buffer_id": "jetstream", "stage": "0"}), "0+10x30"},

	"jetstream_consumer_num_pending":     {dashSrcNATSExporter, dashConsumerLabels, "0+100x30"},
	"jetstream_consumer_num_ack_pending": {dashSrcNATSExporter, dashConsumerLabels, "500x30"},
	"jetstream_consumer_num_redelivered": {dashSrcNATSExporter, dashConsumerLabels, "0x30"},
}

// dashExtraSeries adds series the list's one example per name does not cover: the +Inf bucket of the canary's
// histogram, and the aggregator's inserts (the list's example of vector_component_sent_events_total is the
// agent's).
var dashExtraSeries = []promSeries{
	{selector("auditpipeline_canary_latency_seconds_bucket", dashPipelineSeries(map[string]string{"le": "+Inf"})), "0+1x30"},
	{selector("vector_component_sent_events_total", dashVectorComponent(dashAggregatorPod, "clickhouse", "sink", "clickhouse", nil)),
		"0+500x30"},
}

// grafanaDashboard is what the test reads of the dashboard's JSON.
type (
	grafanaDashboard struct {
		UID           string `json:"uid"`
		Title         string `json:"title"`
		SchemaVersion int    `json:"schemaVersion"`
		Templating    struct {
			List []grafanaVariable `json:"list"`
		} `json:"templating"`
		Panels []grafanaPanel `json:"panels"`
	}
	grafanaVariable struct {
		Name       string             `json:"name"`
		Type       string             `json:"type"`
		Query      any                `json:"query"`
		Datasource *grafanaDatasource `json:"datasource"`
	}
	grafanaDatasource struct {
		Type string `json:"type"`
		UID  string `json:"uid"`
	}
	grafanaPanel struct {
		ID          int                `json:"id"`
		Type        string             `json:"type"`
		Title       string             `json:"title"`
		Description string             `json:"description"`
		GridPos     *gridPos           `json:"gridPos"`
		Datasource  *grafanaDatasource `json:"datasource"`
		Targets     []grafanaTarget    `json:"targets"`
		Panels      []grafanaPanel     `json:"panels"`
	}
	gridPos struct {
		H, W, X, Y int
	}
	grafanaTarget struct {
		RefID      string             `json:"refId"`
		Expr       string             `json:"expr"`
		Datasource *grafanaDatasource `json:"datasource"`
	}
)

// dashboardRelease renders the dashboard into a namespace of its own, with a folder annotation.
var dashboardRelease = release{name: "dash", namespace: "chart-dashboard", args: []string{
	"--set", "dashboard.enabled=true", "--set", "dashboard.annotations.grafana_folder=Audit"}}

const dashboardKey = "auditpipeline.json"

// TestDashboardConfigMap installs the chart with the dashboard on: the API server accepts the ConfigMap, which
// carries the Grafana sidecar's label and the folder annotation, and holds the chart's dashboard file as it is.
// By default there is no dashboard, and dashboard.namespace moves it.
func TestDashboardConfigMap(t *testing.T) {
	objs := dashboardRelease.install(t)
	name := dashboardRelease.name + "-auditpipeline-operator-dashboard"
	rendered := find(t, objs, "ConfigMap", name)
	if rendered.GetLabels()["grafana_dashboard"] != "1" || rendered.GetAnnotations()["grafana_folder"] != "Audit" {
		t.Errorf("labels %v annotations %v: want grafana_dashboard=1 and grafana_folder=Audit", rendered.GetLabels(),
			rendered.GetAnnotations())
	}
	var cm corev1.ConfigMap
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: dashboardRelease.namespace, Name: name}, &cm); err != nil {
		t.Fatal(err)
	}
	file, err := os.ReadFile(filepath.Join(chartDir, "dashboards", dashboardKey))
	if err != nil {
		t.Fatal(err)
	}
	if len(cm.Data) != 1 || cm.Data[dashboardKey] != strings.TrimSpace(string(file)) {
		t.Errorf("the ConfigMap's data (keys %v) is not dashboards/%s", slices.Collect(maps.Keys(cm.Data)), dashboardKey)
	}

	for _, o := range (release{name: "dash-off", namespace: "chart-dashboard-off"}).render(t) {
		if o.GetKind() == "ConfigMap" {
			t.Errorf("the default values render ConfigMap %s", o.GetName())
		}
	}
	moved := release{name: "dash-moved", namespace: "chart-dashboard", args: []string{
		"--set", "dashboard.enabled=true", "--set", "dashboard.namespace=monitoring"}}
	if ns := find(t, moved.render(t), "ConfigMap", "dash-moved-auditpipeline-operator-dashboard").GetNamespace(); ns != "monitoring" {
		t.Errorf("dashboard.namespace=monitoring: the ConfigMap is in %q", ns)
	}
}

// TestDashboardJSON checks the dashboard as Grafana reads it: a schema version and a uid, the datasource
// variable (type datasource, Prometheus) that every panel and query uses, the namespace and pipeline variables
// from the operator's metric labels, and panels that each have a title, a description and a place on the
// 24-column grid that no other panel takes. Each panel is described in docs/install.md.
func TestDashboardJSON(t *testing.T) {
	d := renderedDashboard(t)
	if d.SchemaVersion == 0 || d.UID == "" || d.Title == "" {
		t.Errorf("schemaVersion %d uid %q title %q", d.SchemaVersion, d.UID, d.Title)
	}
	vars := map[string]grafanaVariable{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v
	}
	if ds := vars["datasource"]; ds.Type != "datasource" || ds.Query != "prometheus" {
		t.Errorf("variable datasource: type %q query %v, want a datasource variable of Prometheus", ds.Type, ds.Query)
	}
	for name, want := range map[string]string{
		"namespace": "label_values(auditpipeline_condition, namespace)",
		"pipeline":  `label_values(auditpipeline_condition{namespace=~"$namespace"}, name)`,
	} {
		if v := vars[name]; v.Type != "query" || v.Query != want || !usesDatasourceVariable(v.Datasource) {
			t.Errorf("variable %s: %+v, want a query %q of $datasource", name, v, want)
		}
	}

	docs := dashboardDocs(t)
	ids := map[int]bool{}
	var placed []gridPos
	for _, p := range allGrafanaPanels(d.Panels) {
		switch {
		case p.Title == "" || p.Description == "":
			t.Errorf("panel %d (%q) has no title or no description", p.ID, p.Title)
		case p.GridPos == nil || p.GridPos.W <= 0 || p.GridPos.H <= 0 || p.GridPos.X < 0 || p.GridPos.Y < 0 ||
			p.GridPos.X+p.GridPos.W > 24:
			t.Errorf("panel %q: gridPos %+v is not on the 24-column grid", p.Title, p.GridPos)
		}
		if ids[p.ID] {
			t.Errorf("panel %q: id %d is taken", p.Title, p.ID)
		}
		ids[p.ID] = true
		if p.GridPos != nil {
			for _, q := range placed {
				if gridOverlap(*p.GridPos, q) {
					t.Errorf("panel %q at %+v overlaps the panel at %+v", p.Title, *p.GridPos, q)
				}
			}
			placed = append(placed, *p.GridPos)
		}
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 || !usesDatasourceVariable(p.Datasource) {
			t.Errorf("panel %q: %d queries, datasource %+v: want queries of $datasource", p.Title, len(p.Targets), p.Datasource)
		}
		for _, tg := range p.Targets {
			if tg.Expr == "" || !usesDatasourceVariable(tg.Datasource) {
				t.Errorf("panel %q query %s: expr %q datasource %+v", p.Title, tg.RefID, tg.Expr, tg.Datasource)
			}
		}
		if !strings.Contains(docs, "\n- **"+p.Title+"**: ") {
			t.Errorf("docs/install.md does not describe panel %q (an item \"- **%s**: ...\")", p.Title, p.Title)
		}
	}
}

// TestDashboardQueries parses every PromQL expression of the dashboard with Prometheus's parser (promtool,
// hack/tools/promtool.sh), with the Grafana variables replaced by values they take, and checks that every
// series name it reads is in dashboardMetrics, whose names are the ones their exporters export. It then evaluates
// each expression with Prometheus's engine (promtool test rules) on one example series of each known metric:
// each returns a result, so its label matchers and groupings fit the labels the exporters give.
func TestDashboardQueries(t *testing.T) {
	promtool := promtoolBinary(t)
	checkDashboardMetricSources(t)
	d := renderedDashboard(t)

	read := map[string]bool{}
	var tests []dashExprTest
	for _, v := range d.Templating.List {
		q, _ := v.Query.(string)
		if v.Type != "query" {
			continue
		}
		m := grafanaLabelValuesQuery.FindStringSubmatch(q)
		if m == nil {
			t.Errorf("variable %s: query %q is no label_values(selector, label)", v.Name, q)
			continue
		}
		for _, vars := range dashVariableValues {
			for _, name := range promqlSeriesNames(t, promtool, "variable "+v.Name, substituteGrafanaVariables(t, m[1], vars)) {
				read[name] = true
				if k, ok := dashboardMetrics[name]; ok && k.labels[m[2]] == "" {
					t.Errorf("variable %s: %s has no label %s (%s)", v.Name, name, m[2], k.source)
				}
			}
		}
	}
	for _, p := range allGrafanaPanels(d.Panels) {
		for _, tg := range p.Targets {
			where := fmt.Sprintf("panel %q query %s", p.Title, tg.RefID)
			for i, vars := range dashVariableValues {
				expr := substituteGrafanaVariables(t, tg.Expr, vars)
				for _, name := range promqlSeriesNames(t, promtool, where, expr) {
					read[name] = true
				}
				tests = append(tests, dashExprTest{name: fmt.Sprintf("%s, variables %d", where, i), expr: expr})
			}
		}
	}
	for name := range read {
		if _, ok := dashboardMetrics[name]; !ok {
			t.Errorf("the dashboard reads %s, which is not among the known metrics", name)
		}
	}
	for name := range dashboardMetrics {
		if !read[name] {
			t.Errorf("known metric %s is read by no panel: remove it from dashboardMetrics", name)
		}
	}
	if t.Failed() {
		return
	}
	evaluateDashboardExprs(t, promtool, tests)
}

// dashVariableValues are the values the dashboard's variables are tried with: one pipeline, and "All" (the
// variables' allValue). $__rate_interval is Grafana's own.
var dashVariableValues = []map[string]string{
	{"namespace": "audit", "pipeline": "main", "consumer": "clickhouse-ingest", "__rate_interval": "5m"},
	{"namespace": ".*", "pipeline": ".*", "consumer": ".*", "__rate_interval": "2m"},
}

// grafanaVariableRef is a Grafana variable in a query: $name or ${name}. $1 (a label_replace reference) is not.
var grafanaVariableRef = regexp.MustCompile(`\$(\{[A-Za-z_][A-Za-z0-9_]*\}|[A-Za-z_][A-Za-z0-9_]*)`)

// substituteGrafanaVariables replaces the Grafana variables in expr with vars; a variable not in vars fails the test.
func substituteGrafanaVariables(t *testing.T, expr string, vars map[string]string) string {
	t.Helper()
	return grafanaVariableRef.ReplaceAllStringFunc(expr, func(ref string) string {
		name := strings.Trim(ref[1:], "{}")
		v, ok := vars[name]
		if !ok {
			t.Errorf("%q uses variable $%s, which the test does not know", expr, name)
		}
		return v
	})
}

var grafanaLabelValuesQuery = regexp.MustCompile(`^label_values\((.+),\s*([a-zA-Z_][a-zA-Z0-9_]*)\)$`)

// dashProbeLabel is added by promtool to every vector selector of an expression, so that each can be found in
// what it prints.
const dashProbeLabel = "zz_dashboard_probe"

// promqlSeriesNames parses expr with Prometheus's parser (promtool promql label-matchers set, which parses it,
// adds dashProbeLabel to every vector selector and prints it again) and returns the metric name of each
// selector. A selector without a metric name fails the test.
func promqlSeriesNames(t *testing.T, promtool, where, expr string) []string {
	t.Helper()
	out, err := exec.Command(promtool, "--experimental", "promql", "label-matchers", "set", expr, dashProbeLabel, "x").CombinedOutput()
	if err != nil {
		t.Errorf("%s: %q does not parse: %v\n%s", where, expr, err, out)
		return nil
	}
	var names []string
	selectors := probedSelectors(string(out))
	for _, s := range selectors {
		if s.name == "" {
			t.Errorf("%s: selector {%s} has no metric name", where, s.matchers)
		}
		names = append(names, s.name)
	}
	if n := strings.Count(string(out), dashProbeLabel+`="x"`); n != len(selectors) {
		t.Errorf("%s: found %d selectors in %q, promtool marked %d", where, len(selectors), out, n)
	}
	return names
}

type probedSelector struct{ name, matchers string }

// probedSelectors finds the selectors marked with dashProbeLabel in PromQL as Prometheus prints it: a name
// and {matchers}, outside string literals.
func probedSelectors(promql string) []probedSelector {
	var out []probedSelector
	for i := 0; i < len(promql); i++ {
		switch c := promql[i]; {
		case c == '"' || c == '\'' || c == '`':
			i = skipPromQLString(promql, i)
		case c == '{':
			start := i
			for start > 0 && isPromQLNameByte(promql[start-1]) {
				start--
			}
			end := i + 1
			for end < len(promql) && promql[end] != '}' {
				if q := promql[end]; q == '"' || q == '\'' || q == '`' {
					end = skipPromQLString(promql, end)
				}
				end++
			}
			matchers := promql[i+1 : min(end, len(promql))]
			if strings.Contains(matchers, dashProbeLabel+`="x"`) {
				out = append(out, probedSelector{name: promql[start:i], matchers: matchers})
			}
			i = end
		}
	}
	return out
}

// skipPromQLString returns the index of the quote that closes the string literal opened at i.
func skipPromQLString(s string, i int) int {
	quote := s[i]
	for j := i + 1; j < len(s); j++ {
		switch {
		case s[j] == '\\' && quote != '`':
			j++
		case s[j] == quote:
			return j
		}
	}
	return len(s)
}

func isPromQLNameByte(c byte) bool {
	return c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// goMetricName is a metric the operator or controller-runtime defines: Name: "..." in its source.
var goMetricName = regexp.MustCompile(`Name:\s+"([a-zA-Z_:][a-zA-Z0-9_:]*)"`)

// checkDashboardMetricSources checks the known metrics of the operator, its canary and controller-runtime against
// their sources: the metric, or the histogram whose bucket it is, is defined there.
func checkDashboardMetricSources(t *testing.T) {
	t.Helper()
	operator, err := filepath.Glob(filepath.Join(env.Root, "internal", "controller", "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "sigs.k8s.io/controller-runtime")
	cmd.Dir = env.Root
	dir, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -m sigs.k8s.io/controller-runtime: %v", err)
	}
	files := map[string][]string{
		dashSrcOperator:          operator,
		dashSrcCanary:            operator,
		dashSrcControllerRuntime: {filepath.Join(strings.TrimSpace(string(dir)), "pkg", "internal", "controller", "metrics", "metrics.go")},
	}
	defined := map[string]map[string]bool{}
	for source, paths := range files {
		defined[source] = map[string]bool{}
		for _, path := range paths {
			if strings.HasSuffix(path, "_test.go") {
				continue
			}
			text, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range goMetricName.FindAllStringSubmatch(string(text), -1) {
				defined[source][m[1]] = true
			}
		}
	}
	for name, k := range dashboardMetrics {
		names, ok := defined[k.source]
		if ok && !names[name] && !names[strings.TrimSuffix(name, "_bucket")] {
			t.Errorf("%s is not defined in %s", name, k.source)
		}
	}
}

// dashExprTest is one dashboard expression to evaluate, named for promtool's output.
type dashExprTest struct{ name, expr string }

// evaluateDashboardExprs runs each expression at 30m over the example series with promtool, expecting a result: the
// expression is wrapped so that it returns 1 when it returns anything, else 0.
func evaluateDashboardExprs(t *testing.T, promtool string, tests []dashExprTest) {
	t.Helper()
	series := append([]promSeries{}, dashExtraSeries...)
	for _, name := range slices.Sorted(maps.Keys(dashboardMetrics)) {
		k := dashboardMetrics[name]
		series = append(series, promSeries{selector(name, k.labels), k.values})
	}
	file := promTestFile{RuleFiles: []string{}, EvaluationInterval: "1m"}
	for _, tc := range tests {
		file.Tests = append(file.Tests, promTest{Name: tc.name, Interval: "1m", InputSeries: series,
			ExprTests: []promExprTest{{Expr: fmt.Sprintf("(count(%s) > bool 0) or vector(0)", tc.expr), EvalTime: "30m",
				ExpSamples: []promSampleResult{{Labels: "{}", Value: 1}}}}})
	}
	dir := t.TempDir()
	writeYAML(t, filepath.Join(dir, "tests.yaml"), file)
	cmd := exec.Command(promtool, "test", "rules", "tests.yaml")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool test rules: an expression returns nothing on the example series: %v\n%s", err, out)
	}
}

// renderedDashboard renders dashboardRelease and decodes the dashboard of its ConfigMap.
func renderedDashboard(t *testing.T) grafanaDashboard {
	t.Helper()
	cm := find(t, dashboardRelease.render(t), "ConfigMap", dashboardRelease.name+"-auditpipeline-operator-dashboard")
	data, _ := cm.Object["data"].(map[string]any)
	text, _ := data[dashboardKey].(string)
	dec := json.NewDecoder(strings.NewReader(text))
	var d grafanaDashboard
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("the dashboard is not JSON: %v", err)
	}
	if dec.More() {
		t.Fatal("the dashboard has more than one JSON value")
	}
	return d
}

// allGrafanaPanels flattens the panels, with those of collapsed rows.
func allGrafanaPanels(panels []grafanaPanel) []grafanaPanel {
	var out []grafanaPanel
	for _, p := range panels {
		out = append(out, p)
		out = append(out, allGrafanaPanels(p.Panels)...)
	}
	return out
}

func usesDatasourceVariable(ds *grafanaDatasource) bool {
	return ds != nil && ds.Type == "prometheus" && (ds.UID == "${datasource}" || ds.UID == "$datasource")
}

func gridOverlap(a, b gridPos) bool {
	return a.X < b.X+b.W && b.X < a.X+a.W && a.Y < b.Y+b.H && b.Y < a.Y+a.H
}

// dashboardDocs is the Dashboard section of docs/install.md.
func dashboardDocs(t *testing.T) string {
	t.Helper()
	text, err := os.ReadFile(filepath.Join(env.Root, "docs", "install.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(text), "\n### Dashboard\n")
	if !ok {
		t.Fatal("docs/install.md has no section ### Dashboard")
	}
	if next := strings.Index(section, "\n## "); next >= 0 {
		section = section[:next]
	}
	return section
}
