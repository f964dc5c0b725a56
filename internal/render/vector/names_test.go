package vector

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
)

// TestNamesFitEveryKindTheyName checks each name NamesFor gives against Kubernetes' validation of every
// object that carries it, and of the validation Job and ConfigMap ValidationName derives from it, for
// pipeline names at the workloads' limit, one over, dotted, starting with a digit and 253 characters
// long.
func TestNamesFitEveryKindTheyName(t *testing.T) {
	hash := strings.Repeat("f", 64) // a config hash
	atLimit := strings.Repeat("a", 52-len("-aggregator"))
	for _, name := range []string{"audit", atLimit, atLimit + "a", "prod.cluster-audit", "1st", "9.lives",
		strings.Repeat("a", 253), strings.Repeat("a.", 126) + "b", "7" + strings.Repeat("b", 252)} {
		n := NamesFor(&v1alpha1.AuditPipeline{ObjectMeta: metav1.ObjectMeta{Name: name}})
		checks := map[string][]string{
			"collector DaemonSet":        validation.IsDNS1123Subdomain(n.Collector),
			"collector Service":          validation.IsDNS1035Label(n.Collector),
			"collector validation Job":   jobName(ValidationName(n.Collector, hash)),
			"aggregator StatefulSet":     validation.IsDNS1123Label(n.Aggregator),
			"aggregator pods' revision":  validation.IsValidLabelValue(n.Aggregator + "-" + hash[:10]),
			"aggregator Service":         validation.IsDNS1035Label(n.Aggregator),
			"aggregator validation Job":  jobName(ValidationName(n.Aggregator, hash)),
			"collector ConfigMap":        validation.IsDNS1123Subdomain(n.CollectorConfig),
			"webhook ConfigMap":          validation.IsDNS1123Subdomain(n.WebhookConfig),
			"aggregator ConfigMap":       validation.IsDNS1123Subdomain(n.AggregatorConfig),
			"collector ConfigMap copy":   validation.IsDNS1123Subdomain(ValidationName(n.CollectorConfig, hash)),
			"aggregator ConfigMap copy":  validation.IsDNS1123Subdomain(ValidationName(n.AggregatorConfig, hash)),
			"instance label (collector)": validation.IsValidLabelValue(n.Collector),
		}
		for what, errs := range checks {
			for _, msg := range errs {
				t.Errorf("pipeline %.20q… (%d): %s: %s", name, len(name), what, msg)
			}
		}
	}
	if a, b := NamesFor(&v1alpha1.AuditPipeline{ObjectMeta: metav1.ObjectMeta{Name: "a.b"}}),
		NamesFor(&v1alpha1.AuditPipeline{ObjectMeta: metav1.ObjectMeta{Name: "a-b"}}); a.Collector == b.Collector {
		t.Errorf("pipelines a.b and a-b share the name %q", a.Collector)
	}
}

// jobName checks a Job's name: a DNS-1123 subdomain that is also a label value (the job-name label of
// its pods).
func jobName(name string) []string {
	return append(validation.IsDNS1123Subdomain(name), validation.IsValidLabelValue(name)...)
}
