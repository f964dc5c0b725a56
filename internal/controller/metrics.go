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

func init() {
	metrics.Registry.MustRegister(conditionGauge, schemaVersionGauge)
}

var conditionStatuses = []metav1.ConditionStatus{metav1.ConditionTrue, metav1.ConditionFalse, metav1.ConditionUnknown}

// recordMetrics sets the gauges of p from its status. Conditions no longer present drop to 0.
func recordMetrics(p *v1alpha1.AuditPipeline) {
	types := append([]string{v1alpha1.ConditionReady, v1alpha1.ConditionReconciling, v1alpha1.ConditionStalled},
		v1alpha1.ComponentConditions...)
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
	conditionGauge.DeletePartialMatch(labels)
	schemaVersionGauge.DeletePartialMatch(labels)
}
