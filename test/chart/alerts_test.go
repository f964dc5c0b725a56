package chart

import (
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/testenv"
)

// The files of `promtool test rules`: series given as Prometheus's expanding notation, and the alerts
// expected to fire at an evaluation time, with their labels and annotations exactly.
type (
	promTestFile struct {
		RuleFiles          []string   `json:"rule_files"`
		EvaluationInterval string     `json:"evaluation_interval"`
		Tests              []promTest `json:"tests"`
	}
	promTest struct {
		Name        string          `json:"name"`
		Interval    string          `json:"interval"`
		InputSeries []promSeries    `json:"input_series"`
		AlertTests  []promAlertTest `json:"alert_rule_test,omitempty"`
		ExprTests   []promExprTest  `json:"promql_expr_test,omitempty"`
	}
	// promExprTest is what an expression returns at a time (dashboard_test.go).
	promExprTest struct {
		Expr       string             `json:"expr"`
		EvalTime   string             `json:"eval_time"`
		ExpSamples []promSampleResult `json:"exp_samples"`
	}
	promSampleResult struct {
		Labels string  `json:"labels"`
		Value  float64 `json:"value"`
	}
	promSeries struct {
		Series string `json:"series"`
		Values string `json:"values"`
	}
	promAlertTest struct {
		EvalTime  string      `json:"eval_time"`
		Alertname string      `json:"alertname"`
		Alerts    []promAlert `json:"exp_alerts"`
	}
	promAlert struct {
		Labels      map[string]string `json:"exp_labels"`
		Annotations map[string]string `json:"exp_annotations"`
	}
)

// alertScenario is what some series make the chart's alerts do: at each check, exactly the alerts listed
// fire (none when the list is empty).
type alertScenario struct {
	name   string
	series []promSeries
	checks []alertCheck
}

type alertCheck struct {
	at     string
	alert  string
	firing []firing
}

// firing is one alert expected: the labels of its expression's result (the rule's own labels are added by
// the test) and its value as Prometheus's humanize prints it ("" when no annotation shows the value).
type firing struct {
	labels map[string]string
	value  string
}

// alertsRelease renders every alert: consumerLag is off by default, and alertLabels are added to each.
var alertsRelease = release{name: "alerts-eval", namespace: "chart-alerts-eval", args: append(append([]string{},
	withMonitoring...),
	"--set", "prometheusRule.alerts.consumerLag.enabled=true",
	"--set", "prometheusRule.alerts.consumerLag.threshold=1000",
	"--set", "prometheusRule.alerts.consumerLag.window=10m",
	"--set", "prometheusRule.alerts.agentEventsDropped.enabled=true",
	"--set", "prometheusRule.alertLabels.team=platform")}

// pipeline are the labels of one pipeline's auditpipeline_condition series for a condition and status.
func pipeline(name, typ, status string) map[string]string {
	return map[string]string{"namespace": "audit", "name": name, "type": typ, "status": status}
}

// selector writes labels as a Prometheus series selector.
func selector(metric string, labels map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		parts = append(parts, fmt.Sprintf("%s=%q", k, labels[k]))
	}
	return metric + "{" + strings.Join(parts, ",") + "}"
}

// The series of one kube-apiserver: apiserver_audit_event_total exists from its start (a counter without
// labels); apiserver_audit_error_total{plugin} only from the plugin's first error.
var apiserver = map[string]string{"instance": "10.0.0.1:6443", "job": "apiserver"}

func auditErrors(plugin string) map[string]string {
	l := maps.Clone(apiserver)
	l["plugin"] = plugin
	return l
}

func lost(plugin string) map[string]string {
	return map[string]string{"instance": apiserver["instance"], "plugin": plugin}
}

func alertScenarios() []alertScenario {
	ready, notReady := pipeline("steady", "Ready", "True"), pipeline("broken", "Ready", "True")
	stalled := pipeline("broken", "Stalled", "True")
	schema := pipeline("broken", "SchemaReady", "False")
	reconcile := map[string]string{"controller": "auditpipeline", "namespace": alertsRelease.namespace, "pod": "operator-0"}
	otherOperator := map[string]string{"controller": "auditpipeline", "namespace": "elsewhere", "pod": "operator-0"}
	consumer := func(name, leader string) map[string]string {
		return map[string]string{"account": "AUDIT", "stream_name": "AUDIT_EVENTS", "consumer_name": name,
			"is_consumer_leader": leader}
	}
	events := promSeries{selector("apiserver_audit_event_total", apiserver), "0+100x60"}
	agent := map[string]string{"namespace": "audit", "pod": "collector-x2x9", "instance": "10.1.0.7:9598", "job": "collector"}
	uptime := promSeries{selector("vector_uptime_seconds", agent), "0+60x60"}
	discarded := func(component, intentional string) string {
		l := maps.Clone(agent)
		l["component_id"], l["component_kind"], l["component_type"], l["intentional"] = component, "transform", "remap", intentional
		return selector("vector_component_discarded_events_total", l)
	}
	dropped := func(component string) map[string]string {
		return map[string]string{"namespace": agent["namespace"], "pod": agent["pod"], "instance": agent["instance"], "component_id": component}
	}
	canaryOf := func(name string) map[string]string { return map[string]string{"namespace": "audit", "name": name} }
	fresh := map[string]string{"namespace": "audit", "name": "steady", "cluster": "c1"}
	stale := map[string]string{"namespace": "audit", "name": "quiet", "cluster": "c2"}
	return []alertScenario{{
		name: "canaries sent and none seen",
		series: []promSeries{
			{selector("auditpipeline_canary_sent_total", canaryOf("steady")), "0+1x40"},
			{selector("auditpipeline_canary_seen_total", canaryOf("steady")), "0+1x40"},
			{selector("auditpipeline_canary_sent_total", canaryOf("quiet")), "0+1x40"},
			{selector("auditpipeline_canary_seen_total", canaryOf("quiet")), "3x40"},
		},
		checks: []alertCheck{
			{at: "4m", alert: "AuditPipelineEventsNotFlowing"}, // pending
			{at: "12m", alert: "AuditPipelineEventsNotFlowing", firing: []firing{{labels: canaryOf("quiet")}}},
		},
	}, {
		name:   "EventsFlowing False for 5m",
		series: []promSeries{{selector("auditpipeline_condition", pipeline("quiet", "EventsFlowing", "False")), "0x5 1x20"}},
		checks: []alertCheck{
			{at: "8m", alert: "AuditPipelineCanaryLate"},
			{at: "12m", alert: "AuditPipelineCanaryLate", firing: []firing{{labels: pipeline("quiet", "EventsFlowing", "False")}}},
		},
	}, {
		name:   "a canary lost",
		series: []promSeries{{selector("auditpipeline_canary_lost_total", canaryOf("quiet")), "0x20 1x30"}},
		checks: []alertCheck{
			{at: "15m", alert: "AuditPipelineCanaryLost"},
			{at: "25m", alert: "AuditPipelineCanaryLost", firing: []firing{{labels: canaryOf("quiet"), value: "1"}}},
			{at: "40m", alert: "AuditPipelineCanaryLost"}, // none lost within the window
		},
	}, {
		// The gauge holds the unix time of the newest event; series times start at 0 here.
		name: "the newest event older than 900 s",
		series: []promSeries{
			{selector("auditpipeline_events_newest_timestamp_seconds", fresh), "0+60x40"},
			{selector("auditpipeline_events_newest_timestamp_seconds", stale), "0x40"},
		},
		checks: []alertCheck{
			{at: "14m", alert: "AuditPipelineFreshnessStale"},
			{at: "25m", alert: "AuditPipelineFreshnessStale", firing: []firing{{labels: stale, value: "1.5k"}}},
		},
	}, {
		// Vector creates the counter at its first drop; a filter of the aggregator's drops on purpose.
		name: "the first events the agent drops, and later ones",
		series: []promSeries{uptime,
			{discarded("prepare_event", "true"), "_x20 1x20 3x20"},
			{discarded("keep_stages", "true"), "0+50x60"},
		},
		checks: []alertCheck{
			{at: "15m", alert: "AuditAgentEventsDropped"},
			{at: "22m", alert: "AuditAgentEventsDropped", firing: []firing{{labels: dropped("prepare_event"), value: "1"}}},
			{at: "35m", alert: "AuditAgentEventsDropped"}, // nothing dropped within the window
			{at: "45m", alert: "AuditAgentEventsDropped", firing: []firing{{labels: dropped("prepare_event"), value: "2.222"}}},
		},
	}, {
		// Prometheus starts where the agent dropped events long ago.
		name:   "old drops when Prometheus starts",
		series: []promSeries{uptime, {discarded("split_event_list", "true"), "4x60"}},
		checks: []alertCheck{
			{at: "1m", alert: "AuditAgentEventsDropped"},
			{at: "5m", alert: "AuditAgentEventsDropped"},
			{at: "25m", alert: "AuditAgentEventsDropped"},
		},
	}, {
		name: "a pipeline not Ready for 15m",
		series: []promSeries{
			{selector("auditpipeline_condition", ready), "1x40"},
			{selector("auditpipeline_condition", notReady), "1x5 0x35"},
		},
		checks: []alertCheck{
			{at: "15m", alert: "AuditPipelineNotReady"}, // pending: not True since 6m
			{at: "22m", alert: "AuditPipelineNotReady", firing: []firing{{labels: notReady}}},
		},
	}, {
		name:   "a pipeline Stalled for 5m",
		series: []promSeries{{selector("auditpipeline_condition", stalled), "0x5 1x20"}},
		checks: []alertCheck{
			{at: "8m", alert: "AuditPipelineStalled"},
			{at: "12m", alert: "AuditPipelineStalled", firing: []firing{{labels: stalled}}},
		},
	}, {
		name:   "migrations failing for 15m",
		series: []promSeries{{selector("auditpipeline_condition", schema), "0x5 1x30"}},
		checks: []alertCheck{
			{at: "15m", alert: "AuditPipelineSchemaStalled"},
			{at: "22m", alert: "AuditPipelineSchemaStalled", firing: []firing{{labels: schema}}},
		},
	}, {
		name: "reconcile errors of this release's operator for 15m",
		series: []promSeries{
			{selector("controller_runtime_reconcile_errors_total", reconcile), "0+1x40"},
			{selector("controller_runtime_reconcile_errors_total", otherOperator), "0+1x40"},
		},
		checks: []alertCheck{
			{at: "10m", alert: "AuditPipelineReconcileErrors"},
			{at: "25m", alert: "AuditPipelineReconcileErrors", firing: []firing{{
				labels: map[string]string{"namespace": reconcile["namespace"], "pod": reconcile["pod"]},
				value:  "16.67m", // one error a minute, per second
			}}},
		},
	}, {
		name: "a growing backlog above the threshold for 15m",
		series: []promSeries{
			{selector("jetstream_consumer_num_pending", consumer("clickhouse-ingest", "true")), "0+100x60"},
			// the same consumer on a server that is not its leader, and a large backlog that shrinks
			{selector("jetstream_consumer_num_pending", consumer("clickhouse-ingest", "false")), "0+100x60"},
			{selector("jetstream_consumer_num_pending", consumer("other", "true")), "9000-100x60"},
		},
		checks: []alertCheck{
			{at: "20m", alert: "AuditPipelineConsumerLag"}, // above 1000 since 11m: pending
			{at: "30m", alert: "AuditPipelineConsumerLag", firing: []firing{{
				labels: consumer("clickhouse-ingest", "true"), value: "3k"}}},
		},
	}, {
		// kube-apiserver creates the series at its first error, already at the number of events lost.
		name:   "the first events an API server loses",
		series: []promSeries{events, {selector("apiserver_audit_error_total", auditErrors("webhook")), "_x20 400x40"}},
		checks: []alertCheck{
			{at: "15m", alert: "AuditWebhookEventsLost"},
			{at: "21m", alert: "AuditWebhookEventsLost", firing: []firing{{labels: lost("webhook"), value: "400"}}},
			{at: "29m", alert: "AuditWebhookEventsLost", firing: []firing{{labels: lost("webhook"), value: "400"}}},
			{at: "32m", alert: "AuditWebhookEventsLost"}, // nothing lost for more than the window
		},
	}, {
		name: "later losses",
		series: []promSeries{events,
			{selector("apiserver_audit_error_total", auditErrors("buffered")), "0x30 600x30"},
			{selector("apiserver_audit_error_total", auditErrors("truncate")), "0x30 3x30"},
		},
		checks: []alertCheck{
			{at: "25m", alert: "AuditWebhookEventsLost"},
			{at: "35m", alert: "AuditWebhookEventsLost", firing: []firing{
				{labels: lost("buffered"), value: "600"},
				{labels: lost("truncate"), value: "3"},
			}},
			{at: "41m", alert: "AuditWebhookEventsLost"}, // nothing lost within the window

		},
	}, {
		// Until Prometheus has scraped the API server for a window, it cannot tell a new series from an old
		// one: the first loss soon after it starts is reported late, once it can.
		name:   "a first loss soon after Prometheus starts",
		series: []promSeries{events, {selector("apiserver_audit_error_total", auditErrors("webhook")), "_x3 400x30"}},
		checks: []alertCheck{
			{at: "5m", alert: "AuditWebhookEventsLost"},
			{at: "12m", alert: "AuditWebhookEventsLost", firing: []firing{{labels: lost("webhook"), value: "400"}}},
			{at: "14m", alert: "AuditWebhookEventsLost"},
		},
	}, {
		// The API server restarts at 30m, under the same instance, and counts again from nothing.
		name: "losses after the API server restarts",
		series: []promSeries{
			{selector("apiserver_audit_event_total", apiserver), "0+100x29 stale 0+100x30"},
			{selector("apiserver_audit_error_total", auditErrors("webhook")), "400x29 stale _x5 200x25"},
		},
		checks: []alertCheck{
			{at: "33m", alert: "AuditWebhookEventsLost"}, // old errors, none since the restart
			// increase() sees the reset, and extrapolates 9m of samples to the window's 10m
			{at: "37m", alert: "AuditWebhookEventsLost", firing: []firing{{labels: lost("webhook"), value: "222.2"}}},
			// the errors' series is new since 31m, when the API server's was scraped
			{at: "41m", alert: "AuditWebhookEventsLost", firing: []firing{{labels: lost("webhook"), value: "200"}}},
			{at: "47m", alert: "AuditWebhookEventsLost"},
		},
	}, {
		// Prometheus starts (or comes back) where the API server lost events long ago, and the log
		// backend's errors are not the webhook's.
		name: "old losses, and the log backend's",
		series: []promSeries{
			{selector("apiserver_audit_event_total", apiserver), "5000+100x60"},
			{selector("apiserver_audit_error_total", auditErrors("webhook")), "400x60"},
			{selector("apiserver_audit_error_total", auditErrors("log")), "0x20 50x40"},
		},
		checks: []alertCheck{
			{at: "1m", alert: "AuditWebhookEventsLost"},
			{at: "5m", alert: "AuditWebhookEventsLost"},
			{at: "25m", alert: "AuditWebhookEventsLost"},
		},
	}}
}

// TestAlertsFire evaluates the chart's rendered alerts with Prometheus's own rule engine (promtool test
// rules, hack/tools/promtool.sh): each alert fires on the series it is meant for, after its `for`, with the
// rule's labels and the alert labels of the values, and its annotations render with the labels it has;
// it stays silent on the series it is not meant for.
func TestAlertsFire(t *testing.T) {
	promtool := promtoolBinary(t)
	dir, groups := writeRules(t)
	rules := map[string]map[string]any{}
	for _, g := range groups {
		rs, _, _ := unstructured.NestedSlice(g.(map[string]any), "rules")
		for _, r := range rs {
			m := r.(map[string]any)
			rules[m["alert"].(string)] = m
		}
	}
	file := promTestFile{RuleFiles: []string{"rules.yaml"}, EvaluationInterval: "1m"}
	tested := map[string]bool{}
	for _, s := range alertScenarios() {
		pt := promTest{Name: s.name, Interval: "1m", InputSeries: s.series}
		for _, c := range s.checks {
			r, ok := rules[c.alert]
			if !ok {
				t.Fatalf("%s: the chart renders no alert %s", s.name, c.alert)
			}
			tested[c.alert] = true
			at := promAlertTest{EvalTime: c.at, Alertname: c.alert, Alerts: []promAlert{}}
			for _, f := range c.firing {
				at.Alerts = append(at.Alerts, expectedAlert(t, r, f))
			}
			pt.AlertTests = append(pt.AlertTests, at)
		}
		file.Tests = append(file.Tests, pt)
	}
	for name := range rules {
		if !tested[name] {
			t.Errorf("alert %s is rendered but no scenario evaluates it", name)
		}
	}
	writeYAML(t, filepath.Join(dir, "tests.yaml"), file)

	cmd := exec.Command(promtool, "test", "rules", "tests.yaml")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool test rules: %v\n%s", err, out)
	}
}

// TestAlertScenariosCanFail checks that promtool reports an alert that does not fire as expected: the
// same rules, one scenario expecting AuditWebhookEventsLost before the API server has lost anything.
func TestAlertScenariosCanFail(t *testing.T) {
	promtool := promtoolBinary(t)
	dir, _ := writeRules(t)
	writeYAML(t, filepath.Join(dir, "tests.yaml"), promTestFile{
		RuleFiles: []string{"rules.yaml"}, EvaluationInterval: "1m",
		Tests: []promTest{{Name: "nothing lost", Interval: "1m",
			InputSeries: []promSeries{{selector("apiserver_audit_event_total", apiserver), "0+100x30"}},
			AlertTests: []promAlertTest{{EvalTime: "20m", Alertname: "AuditWebhookEventsLost", Alerts: []promAlert{{
				Labels: map[string]string{"severity": "critical", "team": "platform", "instance": apiserver["instance"],
					"plugin": "webhook"}}}}},
		}},
	})
	cmd := exec.Command(promtool, "test", "rules", "tests.yaml")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "FAILED") {
		t.Fatalf("promtool passed a test whose alert cannot fire (%v):\n%s", err, out)
	}
}

// templateRef is a Prometheus template in an annotation: a label, or the value through humanize.
var templateRef = regexp.MustCompile(`\{\{\s*(?:\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)|(\$value\s*\|\s*humanize))\s*\}\}`)

// expectedAlert is the alert rule r should fire for f: f's labels with the rule's, and the rule's annotations
// with each template replaced by the label or value it names. An annotation naming a label the alert does
// not have, or using any other template, fails the test.
func expectedAlert(t *testing.T, r map[string]any, f firing) promAlert {
	t.Helper()
	labels := maps.Clone(f.labels)
	ruleLabels, _, _ := unstructured.NestedStringMap(r, "labels")
	maps.Copy(labels, ruleLabels)
	annotations, _, _ := unstructured.NestedStringMap(r, "annotations")
	want := map[string]string{}
	for k, text := range annotations {
		text = templateRef.ReplaceAllStringFunc(text, func(ref string) string {
			m := templateRef.FindStringSubmatch(ref)
			if m[2] != "" {
				if f.value == "" {
					t.Errorf("%s: annotation %s shows the value, and the scenario gives none", r["alert"], k)
				}
				return f.value
			}
			v, ok := labels[m[1]]
			if !ok {
				t.Errorf("%s: annotation %s names label %s, which the alert does not have (%v)", r["alert"], k, m[1], labels)
			}
			return v
		})
		if strings.Contains(text, "{{") {
			t.Errorf("%s: annotation %s has a template this test does not expand: %q", r["alert"], k, text)
		}
		want[k] = text
	}
	return promAlert{Labels: labels, Annotations: want}
}

// writeRules renders alertsRelease and writes its PrometheusRule's groups as a Prometheus rule file,
// rules.yaml, into a directory of the test's, which it returns with the groups.
func writeRules(t *testing.T) (string, []any) {
	t.Helper()
	rule := find(t, alertsRelease.render(t), "PrometheusRule", alertsRelease.name+"-auditpipeline-operator")
	groups, _, _ := unstructured.NestedSlice(rule.Object, "spec", "groups")
	dir := t.TempDir()
	writeYAML(t, filepath.Join(dir, "rules.yaml"), map[string]any{"groups": groups})
	return dir, groups
}

// promtoolBinary is $PROMTOOL (make test sets it), or what hack/tools/promtool.sh builds or finds in its cache.
func promtoolBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("PROMTOOL"); p != "" {
		return p
	}
	p, err := testenv.RunScript(env.Root, "hack/tools/promtool.sh")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func writeYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
