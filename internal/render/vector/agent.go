package vector

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"strconv"
	"strings"

	"k8s.io/utils/ptr"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
	"github.com/auditpipeline/auditpipeline-operator/internal/eventrow"
)

// Paths inside the Vector containers. Secrets are mounted read-only, one directory each.
const (
	// ConfigDir holds vector.yaml, mounted from the component's ConfigMap.
	ConfigDir = "/etc/vector"
	// ConfigFile is the key of the rendered configuration in the ConfigMap.
	ConfigFile = "vector.yaml"
	// DataDir holds Vector's disk buffer: a host path (agent) or a PersistentVolumeClaim (aggregator).
	DataDir = "/var/lib/vector"

	secretsDir          = "/etc/vector-secrets"
	webhookTLSDir       = secretsDir + "/webhook-tls"
	natsCredentialsDir  = secretsDir + "/nats-credentials"
	natsCredentialsFile = "nats.creds"
	natsCADir           = secretsDir + "/nats-ca"
	natsClientDir       = secretsDir + "/nats-client"
	clickHouseCADir     = secretsDir + "/clickhouse-ca"
	clickHouseClientDir = secretsDir + "/clickhouse-client"
	caFile              = "ca.crt"
)

// Ports of the Vector containers.
const (
	// APIPort serves Vector's /health endpoint for the probes.
	APIPort = 8686
	// MetricsPort serves Prometheus metrics.
	MetricsPort = 9598
)

// SubjectPrefix is the subject prefix the agent publishes under: each event goes to
// audit.k8s.<verb> (SubjectToken), which the stream's audit.k8s.> captures.
const SubjectPrefix = "audit.k8s."

// The verb is the request's HTTP method, which a client chooses: kube-apiserver audits a request with a
// method it does not know, even an anonymous one, with the verb "" on a resource path and with the
// method lowercased, dots and all ("a..b", "get."), on any other path (test/kind). Published as it is,
// such a verb makes a subject JetStream stores nothing under (an empty token, a dot too many, a
// wildcard; test/nats), or one that the stream's audit.k8s.* does not capture, and Vector's nats sink
// would retry that event forever. So the subject's last token is the verb with every character but
// letters, digits, "_" and "-" replaced by "_", "_" for an empty verb, cut at maxSubjectTokenBytes
// (NATS's control line, which holds the subject, takes 4 KiB). The sink's subject stays
// audit.k8s.{{ verb }}, which an event the disk buffer kept from an older agent renders too: an event
// whose verb is not its token is published with the token as its verb and the verb itself in
// eventrow.OriginalVerbField, which the aggregator's remap puts back (WithSubjectVerb).
const maxSubjectTokenBytes = 64

// WithSubjectVerb is the Go twin of the agent's remap for the verb: ev as published, with the verb
// SubjectToken makes of it and, when that differs, eventrow.OriginalVerbField holding [verb] ([] when ev
// has none). It changes nothing in ev.
func WithSubjectVerb(ev map[string]any) map[string]any {
	verb, _ := ev["verb"].(string)
	token := SubjectToken(verb)
	v, ok := ev["verb"]
	if ok && v == token {
		return ev
	}
	out := maps.Clone(ev)
	out[eventrow.OriginalVerbField] = []any{}
	if ok {
		out[eventrow.OriginalVerbField] = []any{v}
	}
	out["verb"] = token
	return out
}

// SubjectToken is the last token of the subject the agent publishes an event with this verb under:
// the Go twin of the agent's remap.
func SubjectToken(verb string) string {
	var b strings.Builder
	for _, r := range verb {
		if r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
		if b.Len() == maxSubjectTokenBytes {
			break
		}
	}
	if b.Len() == 0 {
		return "_"
	}
	return b.String()
}

// The JetStream message id (Nats-Msg-Id) the agent publishes each event with, which JetStream
// deduplicates on: the event's auditID, stage and stageTimestamp, which a retried webhook batch repeats
// exactly. The auditID alone is not enough, for two reasons. A long-running request (a watch, an exec)
// sends a ResponseStarted and a ResponseComplete event with the same auditID, often within the duplicate
// window, and JetStream would keep only the first. And kube-apiserver takes a client's Audit-ID request
// header as the auditID, unchecked: a client could give a request the auditID of an earlier one, and
// JetStream would drop its events. Two events have one message id only if they share auditID, stage and
// the microsecond the API server finished that stage.
//
// The Audit-ID header can also be long (kube-apiserver takes one of up to about 1 MB), and JetStream
// refuses a message id over 64 KiB, which Vector's nats sink would retry forever. So an id longer than
// maxMessageIDBytes is replaced by messageIDHashPrefix and its SHA-256 in hex. The agent's remap computes
// it (prepareEventVRL) into messageIDField, which the sink's template reads and its encoding leaves out.
const (
	maxMessageIDBytes   = 1024
	messageIDHashPrefix = "sha256:"
	messageIDField      = "auditpipeline_message_id"
	// MessageIDTemplate is the sink's message_id template.
	MessageIDTemplate = "{{ " + messageIDField + " }}"
)

// MessageID is the message id the agent's remap computes for an event: its Go twin, for tests that
// publish as the agent does.
func MessageID(auditID, stage, stageTimestamp string) string {
	id := auditID + ":" + stage + ":" + stageTimestamp
	if len(id) > maxMessageIDBytes {
		sum := sha256.Sum256([]byte(id))
		return messageIDHashPrefix + hex.EncodeToString(sum[:])
	}
	return id
}

// minDiskBufferBytes is the smallest disk buffer Vector accepts.
const minDiskBufferBytes = 268435488

// The agent's component ids.
const (
	agentWebhook  = "apiserver_webhook"
	agentSplit    = "split_event_list"
	agentPrepare  = "prepare_event"
	agentPublish  = "jetstream"
	metricsSource = "vector_metrics"
	metricsSink   = "prometheus"
)

// prepareEventVRL makes the event's Vector timestamp the moment the API server emitted it, computes its
// JetStream message id (MessageID) into messageIDField, fits it into a message of maxMessageSize bytes
// (FitEvent, fit.go), and publishes it under its verb's subject token (WithSubjectVerb).
// VRL's length() counts a string's bytes and sha2() returns lower-case hex, as MessageID does.
func prepareEventVRL(maxMessageSize int64) string {
	return `message_id = (string(.auditID) ?? "") + ":" + (string(.stage) ?? "") + ":" + (string(.stageTimestamp) ?? "")
if length(message_id) > ` + strconv.Itoa(maxMessageIDBytes) + ` {
  message_id = "` + messageIDHashPrefix + `" + sha2(message_id, variant: "SHA-256")
}
verb_token = truncate(replace(string(.verb) ?? "", r'[^A-Za-z0-9_-]', "_"), limit: ` + strconv.Itoa(maxSubjectTokenBytes) + `)
if verb_token == "" {
  verb_token = "_"
}
if .verb != verb_token {
  .` + eventrow.OriginalVerbField + ` = []
  if exists(.verb) {
    .` + eventrow.OriginalVerbField + ` = [.verb]
  }
  .verb = verb_token
}
` + fitEventVRL(maxMessageSize) + `.timestamp = parse_timestamp(.stageTimestamp, format: "%+") ?? now()
.` + messageIDField + ` = message_id
`
}

// AgentConfig renders the Vector agent: an http_server source for the API server's audit webhook, which
// takes each request body as bytes, a remap that decodes it and splits the EventList into events
// (splitEventListVRL, eventlist.go), one that takes their timestamp from stageTimestamp, computes their
// message id (MessageID), makes their verb a subject token (WithSubjectVerb) and fits them into a
// JetStream message (FitEvent), and a nats sink that publishes each event as JSON to JetStream subject
// audit.k8s.<verb> with that message id, so JetStream drops retried duplicates. A disk buffer
// that blocks when full holds events while JetStream is unreachable, and the webhook is answered only
// once events are in it.
func AgentConfig(p *v1alpha1.AuditPipeline) *Config {
	c := &p.Spec.Collector
	webhook := &HTTPServerSource{
		Header:  Header{Type: "http_server"},
		Address: fmt.Sprintf("0.0.0.0:%d", webhookPort(p)),
		Path:    webhookPath(p),
		Method:  "POST",
		// The body is decoded in the remap, which can read one serde_json refuses (eventlist.go).
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
			agentWebhook:  webhook,
			metricsSource: &InternalMetricsSource{Header: Header{Type: "internal_metrics"}},
		},
		Transforms: map[string]Component{
			agentSplit:   &RemapTransform{Header: remap(agentWebhook), Source: splitEventListVRL},
			agentPrepare: &RemapTransform{Header: remap(agentSplit), Source: prepareEventVRL(streamMaxMessageSize(p))},
		},
		Sinks: map[string]Component{
			agentPublish: &NATSSink{
				Header:         Header{Type: "nats", Inputs: []string{agentPrepare}},
				URL:            natsURL(p),
				Subject:        SubjectPrefix + "{{ verb }}",
				ConnectionName: connectionName(p, "collector"),
				// The published message is the audit event as the API server sent it, but for a member
				// that cannot be decoded, kept as its text (eventlist.go), and the bodies of an event too
				// large for a message (fit.go).
				Encoding:         &Encoding{Codec: "json", ExceptFields: []string{"timestamp", messageIDField}},
				JetStream:        &JetStreamSink{Enabled: true, Headers: &JetStreamHeaders{MessageID: MessageIDTemplate}},
				Auth:             auth,
				TLS:              tls,
				Acknowledgements: &Acknowledgements{Enabled: true},
				Buffer:           diskBuffer(c.Buffer.MaxSize.Value()),
			},
			metricsSink: prometheusExporter(),
		},
	}
}

func remap(input string) Header {
	return Header{Type: "remap", Inputs: []string{input}}
}

func prometheusExporter() *PrometheusExporterSink {
	return &PrometheusExporterSink{
		Header:  Header{Type: "prometheus_exporter", Inputs: []string{metricsSource}},
		Address: fmt.Sprintf("0.0.0.0:%d", MetricsPort),
	}
}

func diskBuffer(maxSize int64) *Buffer {
	return &Buffer{Type: "disk", MaxSize: max(maxSize, minDiskBufferBytes), WhenFull: "block"}
}

// natsURL is the comma-separated server list Vector's nats components accept.
func natsURL(p *v1alpha1.AuditPipeline) string {
	return strings.Join(p.Spec.NATS.Servers, ",")
}

// natsClient is the authentication and TLS of a NATS client, reading the files mounted from the
// referenced Secrets.
func natsClient(p *v1alpha1.AuditPipeline) (*NATSAuth, *TLS) {
	n := &p.Spec.NATS
	var auth *NATSAuth
	if n.CredentialsSecretRef != nil {
		auth = &NATSAuth{Strategy: "credentials_file",
			CredentialsFile: &CredentialsFile{Path: natsCredentialsDir + "/" + natsCredentialsFile}}
	}
	var tls *TLS
	if n.TLS != nil {
		tls = clientTLS(n.TLS, natsCADir, natsClientDir)
		tls.Enabled = ptr.To(true)
	}
	return auth, tls
}

// clientTLS is Vector's TLS block for a client with the given spec and Secret mount directories.
func clientTLS(spec *v1alpha1.TLSSpec, caDir, clientDir string) *TLS {
	tls := &TLS{}
	if spec.CASecretRef != nil {
		tls.CAFile = caDir + "/" + caFile
	}
	if spec.ClientCertSecretRef != nil {
		tls.CrtFile, tls.KeyFile = clientDir+"/tls.crt", clientDir+"/tls.key"
	}
	if spec.InsecureSkipVerify {
		tls.VerifyCertificate, tls.VerifyHostname = ptr.To(false), ptr.To(false)
	}
	return tls
}

// connectionName names the NATS connections of one pipeline's component, for NATS monitoring.
func connectionName(p *v1alpha1.AuditPipeline, component string) string {
	return fmt.Sprintf("auditpipeline/%s/%s/%s", p.Namespace, p.Name, component)
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
