package vector

import (
	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
	"github.com/auditpipeline/auditpipeline-operator/internal/render"
)

// Names are the names of the objects rendered for one pipeline, all derived from the pipeline's name.
type Names struct {
	// Collector names the collector's DaemonSet and its webhook Service.
	Collector string
	// CollectorConfig names the ConfigMap holding the collector's vector.yaml.
	CollectorConfig string
	// WebhookConfig names the ConfigMap holding kube-apiserver's audit webhook kubeconfig.
	WebhookConfig string
	// Aggregator names the aggregator's StatefulSet, its headless Service, PodDisruptionBudget and
	// HorizontalPodAutoscaler.
	Aggregator string
	// AggregatorConfig names the ConfigMap holding the aggregator's vector.yaml.
	AggregatorConfig string
}

// NamesFor returns the names of p's Vector objects, by render.ChildName. A name shared by a workload
// and its Service (and the aggregator's PodDisruptionBudget and HorizontalPodAutoscaler) is named after
// the workload, whose limit is the shortest.
func NamesFor(p *v1alpha1.AuditPipeline) Names {
	return Names{
		Collector:        render.ChildName(p, render.KindDaemonSet, "collector"),
		CollectorConfig:  render.ChildName(p, render.KindConfigMap, "collector-config"),
		WebhookConfig:    render.ChildName(p, render.KindConfigMap, "apiserver-webhook"),
		Aggregator:       render.ChildName(p, render.KindStatefulSet, "aggregator"),
		AggregatorConfig: render.ChildName(p, render.KindConfigMap, "aggregator-config"),
	}
}
