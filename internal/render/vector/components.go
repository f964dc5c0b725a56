package vector

// The components the pipeline uses, each with the options it sets. Field names follow Vector's option
// reference (website/cue/reference/components/*/generated/<type>.cue upstream).

// HTTPServerSource is the http_server source: the API server's audit webhook posts EventLists to it.
type HTTPServerSource struct {
	Header
	Address  string    `json:"address"`
	Path     string    `json:"path"`
	Method   string    `json:"method"`
	Decoding *Decoding `json:"decoding"`
	Framing  *Framing  `json:"framing"`
	TLS      *TLS      `json:"tls,omitempty"`
}

// NATSSource is the nats source reading a JetStream stream through a durable pull consumer.
type NATSSource struct {
	Header
	URL            string           `json:"url"`
	Subject        string           `json:"subject"`
	ConnectionName string           `json:"connection_name"`
	Decoding       *Decoding        `json:"decoding"`
	JetStream      *JetStreamSource `json:"jetstream"`
	Auth           *NATSAuth        `json:"auth,omitempty"`
	TLS            *TLS             `json:"tls,omitempty"`
}

// JetStreamSource binds the nats source to a stream and a durable pull consumer.
type JetStreamSource struct {
	Stream      string         `json:"stream"`
	Consumer    string         `json:"consumer"`
	BatchConfig *JetStreamPull `json:"batch_config,omitempty"`
}

// JetStreamPull sizes the pull requests of the consumer.
type JetStreamPull struct {
	Batch int64 `json:"batch"`
}

// InternalMetricsSource is Vector's own metrics.
type InternalMetricsSource struct {
	Header
}

// RemapTransform runs a VRL program on every event.
type RemapTransform struct {
	Header
	Source string `json:"source"`
}

// FilterTransform keeps the events for which a VRL condition is true.
type FilterTransform struct {
	Header
	Condition string `json:"condition"`
}

// NATSSink is the nats sink publishing to JetStream.
type NATSSink struct {
	Header
	URL              string            `json:"url"`
	Subject          string            `json:"subject"`
	ConnectionName   string            `json:"connection_name"`
	Encoding         *Encoding         `json:"encoding"`
	JetStream        *JetStreamSink    `json:"jetstream"`
	Auth             *NATSAuth         `json:"auth,omitempty"`
	TLS              *TLS              `json:"tls,omitempty"`
	Acknowledgements *Acknowledgements `json:"acknowledgements,omitempty"`
	Buffer           *Buffer           `json:"buffer,omitempty"`
}

// JetStreamSink publishes with JetStream and the given headers.
type JetStreamSink struct {
	Enabled bool              `json:"enabled"`
	Headers *JetStreamHeaders `json:"headers,omitempty"`
}

// JetStreamHeaders are the headers of each published message.
type JetStreamHeaders struct {
	// MessageID becomes the Nats-Msg-Id header, which JetStream deduplicates on.
	MessageID string `json:"message_id,omitempty"`
}

// NATSAuth authenticates to NATS. The pipeline uses a credentials file mounted from a Secret.
type NATSAuth struct {
	Strategy        string           `json:"strategy"`
	CredentialsFile *CredentialsFile `json:"credentials_file,omitempty"`
}

// CredentialsFile is the path of a NATS .creds file.
type CredentialsFile struct {
	Path string `json:"path"`
}

// ClickHouseSink inserts events into a ClickHouse table over HTTP.
type ClickHouseSink struct {
	Header
	Endpoint          string            `json:"endpoint"`
	Database          string            `json:"database"`
	Table             string            `json:"table"`
	Format            string            `json:"format"`
	SkipUnknownFields bool              `json:"skip_unknown_fields"`
	Compression       string            `json:"compression"`
	Auth              *HTTPAuth         `json:"auth"`
	Batch             *Batch            `json:"batch"`
	Request           *Request          `json:"request,omitempty"`
	TLS               *TLS              `json:"tls,omitempty"`
	Acknowledgements  *Acknowledgements `json:"acknowledgements"`
	Buffer            *Buffer           `json:"buffer"`
}

// HTTPAuth is basic authentication.
type HTTPAuth struct {
	Strategy string `json:"strategy"`
	User     string `json:"user"`
	Password string `json:"password"`
}

// Batch limits one request of a batching sink; a batch is sent when any limit is reached.
type Batch struct {
	MaxEvents   int64   `json:"max_events"`
	MaxBytes    int64   `json:"max_bytes"`
	TimeoutSecs float64 `json:"timeout_secs"`
}

// PrometheusExporterSink serves metrics for Prometheus to scrape.
type PrometheusExporterSink struct {
	Header
	Address string `json:"address"`
}

// Decoding is how a source turns bytes into events.
type Decoding struct {
	Codec string `json:"codec"`
}

// Framing is how a source splits a byte stream into frames.
type Framing struct {
	Method string `json:"method"`
}

// Encoding is how a sink turns events into bytes.
type Encoding struct {
	Codec        string   `json:"codec"`
	ExceptFields []string `json:"except_fields,omitempty"`
}
