package chart

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
)

// TestPrometheusRuleAlerts checks the alerts' expressions: they use the operator's metrics
// (auditpipeline_condition from internal/controller/metrics.go, controller-runtime's reconcile errors of
// the controller named "auditpipeline") and condition types that exist in the API. The consumer lag alert
// reads the NATS Prometheus exporter's jetstream_consumer_num_pending (-jsz=consumers) for the default
// durable name of the API, with its threshold and window from the values. The lost-events alert reads
// kube-apiserver's apiserver_audit_error_total for the audit plugins of its webhook backend (webhook,
// buffered, truncate). TestAlertsFire evaluates what the expressions do.
func TestPrometheusRuleAlerts(t *testing.T) {
	args := append(append([]string{}, withMonitoring...),
		"--set", "prometheusRule.alerts.consumerLag.enabled=true",
		"--set", "prometheusRule.alerts.consumerLag.threshold=2000000",
		"--set", "prometheusRule.alerts.consumerLag.window=30m")
	r := release{name: "alerts", namespace: "chart-alerts", args: args}
	rule := find(t, r.render(t), "PrometheusRule", "alerts-auditpipeline-operator")
	groups, _, _ := unstructured.NestedSlice(rule.Object, "spec", "groups")
	if len(groups) != 1 {
		t.Fatalf("groups: %v", groups)
	}
	rules, _, _ := unstructured.NestedSlice(groups[0].(map[string]any), "rules")
	got := map[string]map[string]any{}
	for _, r := range rules {
		m := r.(map[string]any)
		got[m["alert"].(string)] = m
	}
	condition := func(typ, status string) string {
		return fmt.Sprintf(`auditpipeline_condition{type="%s",status="%s"}`, typ, status)
	}
	pending := fmt.Sprintf(`jetstream_consumer_num_pending{consumer_name=~"%s",is_consumer_leader="true"}`,
		defaultDurableName(t))
	want := map[string]struct{ expr, forDuration string }{
		"AuditPipelineNotReady":      {condition(v1alpha1.ConditionReady, "True") + " == 0", "15m"},
		"AuditPipelineStalled":       {condition(v1alpha1.ConditionStalled, "True") + " == 1", "5m"},
		"AuditPipelineSchemaStalled": {condition(v1alpha1.ConditionSchemaReady, "False") + " == 1", "15m"},
		"AuditPipelineReconcileErrors": {`sum by (namespace, pod) (rate(controller_runtime_reconcile_errors_total` +
			`{controller="auditpipeline",namespace="chart-alerts"}[5m])) > 0`, "15m"},
		"AuditPipelineConsumerLag": {pending + " > 2000000 and deriv(" + pending + "[30m]) > 0", "15m"},
		"AuditWebhookEventsLost": {`sum by (instance, plugin) (increase(` + auditErrorsSelector + `[10m])) > 0 or ` +
			`sum by (instance, plugin) ((` + auditErrorsSelector + ` unless ` + auditErrorsSelector + ` offset 10m) ` +
			`and on (instance) apiserver_audit_event_total offset 10m)`, "0m"},
		"AuditPipelineEventsNotFlowing": {"increase(auditpipeline_canary_sent_total[15m]) > 0 and increase(auditpipeline_canary_seen_total[15m]) == 0", "5m"},
		"AuditPipelineCanaryLate":       {condition(v1alpha1.ConditionEventsFlowing, "False") + " == 1", "5m"},
		"AuditPipelineCanaryLost":       {"increase(auditpipeline_canary_lost_total[15m]) > 0", "0m"},
		"AuditPipelineFreshnessStale":   {"time() - auditpipeline_events_newest_timestamp_seconds > 900", "5m"},
	}
	if len(got) != len(want) {
		t.Errorf("alerts %v, want %d", keys(got), len(want))
	}
	for name, w := range want {
		a, ok := got[name]
		switch {
		case !ok:
			t.Errorf("no alert %s", name)
		case a["expr"] != w.expr:
			t.Errorf("%s: expr %q, want %q", name, a["expr"], w.expr)
		case a["for"] != w.forDuration:
			t.Errorf("%s: for %v, want %s", name, a["for"], w.forDuration)
		}
		if ok {
			if sev, _, _ := unstructured.NestedString(a, "labels", "severity"); sev == "" {
				t.Errorf("%s has no severity", name)
			}
			if s, _, _ := unstructured.NestedString(a, "annotations", "summary"); !strings.Contains(s, "{{ $labels.") && name != "AuditPipelineReconcileErrors" {
				t.Errorf("%s: summary %q does not name the pipeline", name, s)
			}
		}
	}
}

// TestServiceMonitorScrapesMetricsService checks that the ServiceMonitor selects the metrics Service and
// scrapes it over HTTPS with a token, keeping the pipelines' own namespace label (honorLabels).
func TestServiceMonitorScrapesMetricsService(t *testing.T) {
	r := release{name: "scrape", namespace: "chart-scrape", args: withMonitoring}
	objs := r.render(t)
	sm := find(t, objs, "ServiceMonitor", "scrape-auditpipeline-operator")
	svc := find(t, objs, "Service", "scrape-auditpipeline-operator-metrics")
	selector, _, _ := unstructured.NestedStringMap(sm.Object, "spec", "selector", "matchLabels")
	if len(selector) == 0 {
		t.Fatal("the ServiceMonitor selects every Service")
	}
	for k, v := range selector {
		if svc.GetLabels()[k] != v {
			t.Errorf("the ServiceMonitor selects %s=%s, which the metrics Service lacks", k, v)
		}
	}
	namespaces, _, _ := unstructured.NestedStringSlice(sm.Object, "spec", "namespaceSelector", "matchNames")
	if len(namespaces) != 1 || namespaces[0] != svc.GetNamespace() {
		t.Errorf("namespaceSelector %v, want [%s]", namespaces, svc.GetNamespace())
	}
	endpoints, _, _ := unstructured.NestedSlice(sm.Object, "spec", "endpoints")
	if len(endpoints) != 1 {
		t.Fatalf("endpoints: %v", endpoints)
	}
	ep := endpoints[0].(map[string]any)
	ports, _, _ := unstructured.NestedSlice(svc.Object, "spec", "ports")
	if ep["port"] != ports[0].(map[string]any)["name"] || ep["scheme"] != "https" || ep["honorLabels"] != true ||
		ep["bearerTokenFile"] == nil {
		t.Errorf("endpoint %v: want the Service's port by name, https, honorLabels and a bearer token", ep)
	}
}

// auditErrorsSelector is kube-apiserver's count of the audit events its webhook backend dropped.
const auditErrorsSelector = `apiserver_audit_error_total{plugin=~"webhook|buffered|truncate"}`

// defaultDurableName is the CRD's default of spec.nats.consumer.durableName, which the chart's
// prometheusRule.alerts.consumerLag.consumers must match.
func defaultDurableName(t *testing.T) string {
	t.Helper()
	crd, err := os.ReadFile(filepath.Join("..", "..", "config", "crd", "bases", "auditpipeline.io_auditpipelines.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(crd, &doc); err != nil {
		t.Fatal(err)
	}
	versions, _, _ := unstructured.NestedSlice(doc, "spec", "versions")
	def, ok, _ := unstructured.NestedString(versions[0].(map[string]any), "schema", "openAPIV3Schema", "properties",
		"spec", "properties", "nats", "properties", "consumer", "properties", "durableName", "default")
	if !ok || def == "" {
		t.Fatal("the CRD has no default for spec.nats.consumer.durableName")
	}
	return def
}

func keys(m map[string]map[string]any) []string {
	var k []string
	for name := range m {
		k = append(k, name)
	}
	return k
}
