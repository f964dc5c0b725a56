package vector

import (
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/auditpipeline/auditpipeline-operator/internal/render/vector/vrl"
)

// TestCollectorRunsTheVRLPrograms checks how the collector's configuration wires the programs of package
// vrl: the webhook source leaves the body to the split remap, the prepare remap fits events into the
// stream's maxMessageSize, and the sink publishes under the verb's token with the message id the remap
// computes, which its encoding leaves out.
func TestCollectorRunsTheVRLPrograms(t *testing.T) {
	p := defaulted()
	src := CollectorConfig(p, testCluster).Sources[collectorWebhook].(*HTTPServerSource)
	if src.Decoding == nil || src.Decoding.Codec != "bytes" {
		t.Errorf("the webhook source decodes the body itself: %+v", src.Decoding)
	}
	if got := streamMaxMessageSize(p); got != defaultMaxMessageSize {
		t.Errorf("default maxMessageSize %d", got)
	}
	p.Spec.NATS.Stream.MaxMessageSize = resource.MustParse("256Ki")
	if got := CollectorConfig(p, testCluster).Transforms[collectorPrepare].(*RemapTransform).Source; got != vrl.PrepareEventProgram(256<<10, testCluster) {
		t.Errorf("the collector's remap does not use the stream's maxMessageSize:\n%s", got)
	}
	sink := CollectorConfig(defaulted(), testCluster).Sinks[collectorPublish].(*NATSSink)
	if want := "audit.k8s.{{ verb }}"; sink.Subject != want {
		t.Errorf("the collector publishes to %q, want %q, which events an older collector buffered render too", sink.Subject, want)
	}
	if !slices.Contains(sink.Encoding.ExceptFields, vrl.MessageIDField) {
		t.Errorf("the published event keeps %s: except_fields %v", vrl.MessageIDField, sink.Encoding.ExceptFields)
	}
}
