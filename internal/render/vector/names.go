package vector

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
)

// maxNameLength keeps child names short enough for every use: Service names are DNS labels (63), and
// the pods of a DaemonSet or StatefulSet append a suffix to their owner's name.
const maxNameLength = 52

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

// NamesFor returns the names of p's Vector objects. Every name is a valid DNS label (Services need one):
// a pipeline name that is too long or holds dots is shortened or rewritten and made unique again with a
// hash of the full name; one that starts with a digit gets the prefix "ap-".
func NamesFor(p *v1alpha1.AuditPipeline) Names {
	return Names{
		Collector:        childName(p.Name, "collector"),
		CollectorConfig:  childName(p.Name, "collector-config"),
		WebhookConfig:    childName(p.Name, "apiserver-webhook"),
		Aggregator:       childName(p.Name, "aggregator"),
		AggregatorConfig: childName(p.Name, "aggregator-config"),
	}
}

func childName(base, suffix string) string {
	label := strings.ReplaceAll(base, ".", "-")
	if label != "" && label[0] >= '0' && label[0] <= '9' {
		label = "ap-" + label
	}
	name := label + "-" + suffix
	if label == base && len(name) <= maxNameLength {
		return name
	}
	sum := sha256.Sum256([]byte(base))
	hash := hex.EncodeToString(sum[:])[:8]
	keep := min(len(label), maxNameLength-len(suffix)-len(hash)-2)
	prefix := strings.TrimRight(label[:keep], "-")
	return prefix + "-" + hash + "-" + suffix
}
