package controller

import (
	"testing"

	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// conditionSeries returns the auditpipeline_condition series of one pipeline, as "type/status" -> value.
func conditionSeries(g Gomega, namespace, name string) map[string]float64 {
	families, err := metrics.Registry.Gather()
	g.Expect(err).NotTo(HaveOccurred())
	series := map[string]float64{}
	for _, f := range families {
		if f.GetName() != "auditpipeline_condition" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["namespace"] == namespace && labels["name"] == name {
				series[labels["type"]+"/"+labels["status"]] = m.GetGauge().GetValue()
			}
		}
	}
	return series
}

func TestConditionMetricsFollowStatusAndDeletion(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	p := pipeline(ns, "metrics")
	p.Spec.DeletionPolicy = "Delete"
	g.Expect(k8s.Create(t.Context(), p)).To(Succeed())

	// The password Secret is missing: ClickHouseReady is False, and the gauges say so.
	g.Eventually(func(g Gomega) {
		s := conditionSeries(g, ns, p.Name)
		g.Expect(s).To(HaveKeyWithValue("ClickHouseReady/False", 1.0))
		g.Expect(s).To(HaveKeyWithValue("ClickHouseReady/True", 0.0))
		g.Expect(s).To(HaveKeyWithValue("Ready/False", 1.0))
	}, timeout, interval).Should(Succeed())

	g.Expect(k8s.Delete(t.Context(), p)).To(Succeed())
	g.Eventually(func(g Gomega) {
		g.Expect(conditionSeries(g, ns, p.Name)).To(BeEmpty())
	}, timeout, interval).Should(Succeed())
}
