package vector

import (
	"fmt"

	"k8s.io/utils/ptr"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
	"github.com/auditpipeline/auditpipeline-operator/internal/render/vector/vrl"
)

// SubjectPrefix is the subject prefix the collector publishes under: each event goes to
// audit.k8s.<verb> (vrl.SubjectToken), which the stream's audit.k8s.> captures.
const SubjectPrefix = "audit.k8s."

// defaultMaxMessageSize is the API's default of spec.nats.stream.maxMessageSize (+kubebuilder:default).
const defaultMaxMessageSize = 1 << 20

// streamMaxMessageSize is the stream's maxMessageSize, defaulted.
func streamMaxMessageSize(p *v1alpha1.AuditPipeline) int64 {
	if n := p.Spec.NATS.Stream.MaxMessageSize.Value(); n > 0 {
		return n
	}
	return defaultMaxMessageSize
}

// The collector's component ids.
const (
	collectorWebhook = "apiserver_webhook"
	collectorSplit   = "split_event_list"
	collectorPrepare = "prepare_event"
	collectorPublish = "jetstream"
)

// webhookTLSDir is where the webhook's certificate and key are mounted (spec.collector.webhook.tls).
const webhookTLSDir = secretsDir + "/webhook-tls"

// ClusterName is the name the collector gives the events of p: spec.clusterName, else clusterUID (the UID
// of the cluster's kube-system namespace).
func ClusterName(p *v1alpha1.AuditPipeline, clusterUID string) string {
	if p.Spec.ClusterName != "" {
		return p.Spec.ClusterName
	}
	return clusterUID
}

// CollectorConfig renders the collector: an http_server source for the API server's audit webhook, which
// takes each request body as bytes, a remap that decodes it and splits the EventList into events
// (vrl.SplitEventListProgram), one that takes their timestamp from stageTimestamp, computes their
// message id (vrl.MessageID), makes their verb a subject token (vrl.WithSubjectVerb), names cluster as
// theirs (vrl.WithCluster) and fits them into a JetStream message (vrl.FitEvent), and a nats sink that publishes each event as JSON to JetStream
// subject audit.k8s.<verb> with that message id, so JetStream drops retried duplicates. A disk buffer
// that blocks when full holds events while JetStream is unreachable, and the webhook is answered only
// once events are in it. Its unit tests hold both remaps to their Go twins (collectorTests).
func CollectorConfig(p *v1alpha1.AuditPipeline, cluster string) *Config {
	c := &p.Spec.Collector
	webhook := &HTTPServerSource{
		Header:  Header{Type: "http_server"},
		Address: fmt.Sprintf("0.0.0.0:%d", webhookPort(p)),
		Path:    webhookPath(p),
		Method:  "POST",
		// The body is decoded in the remap, which can read one serde_json refuses (vrl/eventlist.go).
		Decoding: &Decoding{Codec: "bytes"},
		Framing:  &Framing{Method: "bytes"},
	}
	if c.Webhook.TLS != nil {
		webhook.TLS = &TLS{Enabled: ptr.To(true),
			CrtFile: webhookTLSDir + "/tls.crt", KeyFile: webhookTLSDir + "/tls.key"}
	}
	auth, tls := natsClient(p)
	return &Config{
		DataDir: DataDir,
		API:     &API{Enabled: true, Address: fmt.Sprintf("0.0.0.0:%d", APIPort)},
		Sources: map[string]Component{
			collectorWebhook: webhook,
			metricsSource:    &InternalMetricsSource{Header: Header{Type: "internal_metrics"}},
		},
		Transforms: map[string]Component{
			collectorSplit:   &RemapTransform{Header: remap(collectorWebhook), Source: vrl.SplitEventListProgram()},
			collectorPrepare: &RemapTransform{Header: remap(collectorSplit), Source: vrl.PrepareEventProgram(streamMaxMessageSize(p), cluster)},
		},
		Sinks: map[string]Component{
			collectorPublish: &NATSSink{
				Header:         Header{Type: "nats", Inputs: []string{collectorPrepare}},
				URL:            natsURL(p),
				Subject:        SubjectPrefix + "{{ verb }}",
				ConnectionName: connectionName(p, "collector"),
				// The published message is the audit event as the API server sent it, but for a member
				// that cannot be decoded, kept as its text (vrl/eventlist.go), and the bodies of an event too
				// large for a message (vrl/fit.go).
				Encoding:         &Encoding{Codec: "json", ExceptFields: []string{"timestamp", vrl.MessageIDField}},
				JetStream:        &JetStreamSink{Enabled: true, Headers: &JetStreamHeaders{MessageID: vrl.MessageIDTemplate}},
				Auth:             auth,
				TLS:              tls,
				Acknowledgements: &Acknowledgements{Enabled: true},
				Buffer:           diskBuffer(c.Buffer.MaxSize.Value()),
			},
			metricsSink: prometheusExporter(),
		},
		Tests: collectorTests(streamMaxMessageSize(p), cluster),
	}
}

func webhookPort(p *v1alpha1.AuditPipeline) int32 {
	if port := p.Spec.Collector.Webhook.Port; port != 0 {
		return port
	}
	return 8080
}

func webhookPath(p *v1alpha1.AuditPipeline) string {
	if path := p.Spec.Collector.Webhook.Path; path != "" {
		return path
	}
	return "/events"
}
