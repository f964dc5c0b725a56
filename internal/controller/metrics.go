package controller

import (
	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
)

// Reconcile counts, errors and durations per controller come from controller-runtime
// (controller_runtime_reconcile_*). These gauges describe the pipelines themselves.
var (
	conditionGauge = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "auditpipeline_condition",
		Help: "Status of each condition of each AuditPipeline: 1 for the status the condition has, 0 for the others.",
	}, []string{"namespace", "name", "type", "status"})

	schemaVersionGauge = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "auditpipeline_schema_version",
		Help: "Highest ClickHouse schema migration version applied for each AuditPipeline.",
	}, []string{"namespace", "name"})
)

// The canary's and the freshness metrics (spec.canary, internal/canary).
var (
	canarySent = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "auditpipeline_canary_sent_total",
		Help: "Canary requests made to the API server for each AuditPipeline.",
	}, []string{"namespace", "name"})
	canarySeen = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "auditpipeline_canary_seen_total",
		Help: "Canaries whose audit event was found in ClickHouse.",
	}, []string{"namespace", "name"})
	canaryLost = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "auditpipeline_canary_lost_total",
		Help: "Canaries whose audit event was not found within spec.canary.deadline.",
	}, []string{"namespace", "name"})
	canaryLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "auditpipeline_canary_latency_seconds",
		Help:    "Time from a canary request to the operator finding its audit event in ClickHouse (at most one check interval more than the pipeline's own latency).",
		Buckets: []float64{1, 2.5, 5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 600},
	}, []string{"namespace", "name"})
	newestEventGauge = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "auditpipeline_events_newest_timestamp_seconds",
		Help: "Unix time of the newest stored audit event of the AuditPipeline's cluster (read from the last hour's events).",
	}, []string{"namespace", "name", "cluster"})
	recentEventsGauge = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "auditpipeline_events_recent",
		Help: "Stored audit events of the AuditPipeline's cluster in the last 5 minutes.",
	}, []string{"namespace", "name"})
)

func init() {
	metrics.Registry.MustRegister(conditionGauge, schemaVersionGauge,
		canarySent, canarySeen, canaryLost, canaryLatency, newestEventGauge, recentEventsGauge)
}

var conditionStatuses = []metav1.ConditionStatus{metav1.ConditionTrue, metav1.ConditionFalse, metav1.ConditionUnknown}

// recordMetrics sets the gauges of p from its status. Conditions no longer present drop to 0.
func recordMetrics(p *v1alpha1.AuditPipeline) {
	types := append([]string{v1alpha1.ConditionReady, v1alpha1.ConditionReconciling, v1alpha1.ConditionStalled,
		v1alpha1.ConditionEventsFlowing}, v1alpha1.ComponentConditions...)
	for _, t := range types {
		var current metav1.ConditionStatus
		for _, c := range p.Status.Conditions {
			if c.Type == t {
				current = c.Status
			}
		}
		for _, s := range conditionStatuses {
			v := 0.0
			if s == current {
				v = 1
			}
			conditionGauge.WithLabelValues(p.Namespace, p.Name, t, string(s)).Set(v)
		}
	}
	if p.Status.Schema != nil {
		schemaVersionGauge.WithLabelValues(p.Namespace, p.Name).Set(float64(p.Status.Schema.CurrentVersion))
	}
}

// forgetMetrics removes every series of a deleted pipeline.
func forgetMetrics(p *v1alpha1.AuditPipeline) {
	labels := prometheus.Labels{"namespace": p.Namespace, "name": p.Name}
	for _, v := range []interface {
		DeletePartialMatch(prometheus.Labels) int
	}{conditionGauge, schemaVersionGauge, canarySent, canarySeen, canaryLost, canaryLatency, newestEventGauge, recentEventsGauge} {
		v.DeletePartialMatch(labels)
	}
}
