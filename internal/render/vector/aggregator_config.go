package vector

import (
	"fmt"

	"k8s.io/utils/ptr"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
	"github.com/auditpipeline/auditpipeline-operator/internal/eventrow"
	"github.com/auditpipeline/auditpipeline-operator/internal/render"
	"github.com/auditpipeline/auditpipeline-operator/internal/render/vector/vrl"
)

// Environment variables of the aggregator container that Vector interpolates into its configuration, so
// that the ClickHouse password reaches Vector from the Secret and never appears in the ConfigMap.
const (
	// EnvClickHouseUser holds spec.clickhouse.credentials.username.
	EnvClickHouseUser = "CLICKHOUSE_USER"
	// EnvClickHousePassword is filled from spec.clickhouse.credentials.passwordSecretRef.
	EnvClickHousePassword = "CLICKHOUSE_PASSWORD"
	// EnvAllowInterpolation turns Vector's ${VAR} interpolation on: since Vector 0.57 it is off by
	// default. Older versions ignore the variable.
	EnvAllowInterpolation = "VECTOR_DANGEROUSLY_ALLOW_ENV_VAR_INTERPOLATION"
)

// Where the ClickHouse client's TLS Secrets are mounted (spec.clickhouse.external.tls).
const (
	clickHouseCADir     = secretsDir + "/clickhouse-ca"
	clickHouseClientDir = secretsDir + "/clickhouse-client"
)

// EventsTable is the table the aggregator inserts into.
const EventsTable = "events"

// PullBatch is the largest number of messages the aggregator pulls from JetStream in one request.
const PullBatch = 1000

// The aggregator's component ids.
const (
	aggregatorPull  = "jetstream"
	keepStages      = "keep_stages"
	dropPrivateIPs  = "drop_private_source_ips"
	toRow           = "events_row"
	clickHouseWrite = "clickhouse"
)

// AggregatorConfig renders the Vector aggregator: a nats source pulling the pipeline's stream through
// its durable consumer, filters that keep the configured stages and optionally drop events from private
// source IPs, a remap that shapes each event into a row of the events table (see eventrow.Columns), and a
// clickhouse sink that inserts large gzip-compressed batches with end-to-end acknowledgements, unlimited
// retries and a disk buffer that blocks when full. The ClickHouse user and password come from
// environment variables (EnvClickHouseUser, EnvClickHousePassword). Its unit tests hold the filters and
// the remap to their Go twins (aggregatorTests).
func AggregatorConfig(p *v1alpha1.AuditPipeline) *Config {
	a := &p.Spec.Aggregator
	auth, tls := natsClient(p)
	transforms := map[string]Component{
		keepStages: &FilterTransform{Header: Header{Type: "filter", Inputs: []string{aggregatorPull}},
			Condition: vrl.StagesCondition(a.Filter.Stages)},
	}
	last := keepStages
	if a.Filter.DropPrivateSourceIPs {
		transforms[dropPrivateIPs] = &FilterTransform{Header: Header{Type: "filter", Inputs: []string{last}},
			Condition: vrl.PublicSourceCondition()}
		last = dropPrivateIPs
	}
	transforms[toRow] = &RemapTransform{Header: remap(last), Source: vrl.RowProgram(Tenancy(p))}
	return &Config{
		DataDir: DataDir,
		API:     &API{Enabled: true, Address: fmt.Sprintf("0.0.0.0:%d", APIPort)},
		Sources: map[string]Component{
			aggregatorPull: &NATSSource{
				Header:         Header{Type: "nats"},
				URL:            natsURL(p),
				Subject:        SubjectPrefix + ">",
				ConnectionName: connectionName(p, "aggregator"),
				Decoding:       &Decoding{Codec: "json"},
				JetStream: &JetStreamSource{Stream: streamName(p), Consumer: consumerName(p),
					BatchConfig: &JetStreamPull{Batch: pullBatch(p)}},
				Auth: auth,
				TLS:  tls,
			},
			metricsSource: &InternalMetricsSource{Header: Header{Type: "internal_metrics"}},
		},
		Transforms: transforms,
		Sinks: map[string]Component{
			clickHouseWrite: clickHouseSink(p, toRow),
			metricsSink:     prometheusExporter(),
		},
		Tests: aggregatorTests(p),
	}
}

// Tenancy is the row contract's view of spec.tenancy: where the aggregator takes each event's tenant from.
func Tenancy(p *v1alpha1.AuditPipeline) eventrow.Tenancy {
	a := p.Spec.TenantAnnotations()
	if a == nil {
		return eventrow.Tenancy{}
	}
	return eventrow.Tenancy{TypeAnnotation: string(a.Type), NameAnnotation: string(a.Name)}
}

// unlimitedRetries is Vector's "retry forever".
const unlimitedRetries = int64(9223372036854775807)

func clickHouseSink(p *v1alpha1.AuditPipeline, input string) *ClickHouseSink {
	ch := &p.Spec.ClickHouse
	s := &ClickHouseSink{
		Header:   Header{Type: "clickhouse", Inputs: []string{input}},
		Endpoint: render.ClickHouseHTTPEndpoint(p),
		Database: database(p),
		Table:    EventsTable,
		Format:   "json_each_row",
		// A column the table does not have (yet) is skipped rather than stopping every insert; the
		// migrations never drop a column whose field the remap takes out of rest (eventrow.Columns).
		SkipUnknownFields: true,
		Compression:       "gzip",
		Auth: &HTTPAuth{Strategy: "basic",
			User: "${" + EnvClickHouseUser + "}", Password: "${" + EnvClickHousePassword + "}"},
		Batch:            batch(&p.Spec.Aggregator.Batch),
		Request:          &Request{RetryAttempts: ptr.To(unlimitedRetries), RetryInitialBackoffSecs: 1, RetryMaxDurationSecs: 30, TimeoutSecs: 60},
		Acknowledgements: &Acknowledgements{Enabled: true},
		Buffer:           diskBuffer(p.Spec.Aggregator.Buffer.MaxSize.Value()),
	}
	if ch.External != nil && ch.External.TLS != nil {
		s.TLS = clientTLS(ch.External.TLS, clickHouseCADir, clickHouseClientDir)
	}
	return s
}

// batch is the sink's batch: the spec's limits, else 10,000 events, 32 MB, 10 s (the CRD's defaults).
// Vector sizes a batch by its events in memory, about twice their JSON: with 10 MB a batch of audit
// events of 1.2 KB of JSON was cut at about 4,700 of them, and batches of 10,000 went in a quarter to
// a half faster (docs/bench.md).
func batch(b *v1alpha1.BatchSpec) *Batch {
	out := &Batch{MaxEvents: 10000, MaxBytes: 32_000_000, TimeoutSecs: 10}
	if b.MaxEvents > 0 {
		out.MaxEvents = int64(b.MaxEvents)
	}
	if v := b.MaxBytes.Value(); v > 0 {
		out.MaxBytes = v
	}
	if b.Timeout.Duration > 0 {
		out.TimeoutSecs = b.Timeout.Seconds()
	}
	return out
}

func streamName(p *v1alpha1.AuditPipeline) string {
	if n := p.Spec.NATS.Stream.Name; n != "" {
		return n
	}
	return "AUDIT_EVENTS"
}

func consumerName(p *v1alpha1.AuditPipeline) string {
	if n := p.Spec.NATS.Consumer.DurableName; n != "" {
		return n
	}
	return "clickhouse-ingest"
}

// pullBatch is PullBatch, but never more than the consumer lets be unacknowledged at once.
func pullBatch(p *v1alpha1.AuditPipeline) int64 {
	if pending := int64(p.Spec.NATS.Consumer.MaxAckPending); pending > 0 && pending < PullBatch {
		return pending
	}
	return PullBatch
}

func database(p *v1alpha1.AuditPipeline) string {
	if d := p.Spec.ClickHouse.Database; d != "" {
		return d
	}
	return "audit"
}

// ClickHouseUser is the user the aggregator inserts as.
func ClickHouseUser(p *v1alpha1.AuditPipeline) string {
	if u := p.Spec.ClickHouse.Credentials.Username; u != "" {
		return u
	}
	return "audit"
}

// AggregatorClickHouseSink is the aggregator's ClickHouse sink as rendered for p (what the contract
// tests and the bench send as Vector would, internal/testkit/sinkhttp).
func AggregatorClickHouseSink(p *v1alpha1.AuditPipeline) *ClickHouseSink {
	return AggregatorConfig(p).Sinks[clickHouseWrite].(*ClickHouseSink)
}
