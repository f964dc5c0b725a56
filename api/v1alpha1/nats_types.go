package v1alpha1

import (
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// StreamStorage is where JetStream keeps a stream's messages.
// +kubebuilder:validation:Enum=File;Memory
type StreamStorage string

const (
	// StreamStorageFile keeps messages on disk: they survive a NATS server restart.
	StreamStorageFile StreamStorage = "File"
	// StreamStorageMemory keeps messages in memory: a NATS server restart loses them.
	StreamStorageMemory StreamStorage = "Memory"
)

// NATSSpec is the JetStream server events are buffered in, and the stream and consumer the pipeline uses.
type NATSSpec struct {
	// servers are the URLs of the NATS servers, e.g. nats://nats.nats.svc:4222. The operator configures
	// NACK (the JetStream controller, which must be installed) and the Vector components with them.
	// +required
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MaxLength=512
	// +kubebuilder:validation:XValidation:rule="self.all(s, s.matches('^(nats|tls)://[^/?#\\\\s]+$'))",message="spec.nats.servers must be nats:// or tls:// URLs with host and port and no path, e.g. nats://nats.nats.svc:4222"
	// +kubebuilder:validation:XValidation:rule="self.all(s, !s.contains('@'))",message="spec.nats.servers must not hold a user or password (user:password@): the URLs are written into ConfigMaps; reference a credentials file with spec.nats.credentialsSecretRef"
	// +kubebuilder:validation:XValidation:rule="self.all(s, !s.matches('^(nats|tls)://[^/?#@\\\\s]+$') || s.matches('^(nats|tls)://([a-zA-Z0-9]([-a-zA-Z0-9.]*[a-zA-Z0-9])?|\\\\[[0-9a-fA-F:.]+\\\\])(:[0-9]{1,5})?$'))",message="spec.nats.servers must name a host name, an IPv4 address or a bracketed IPv6 address, and optionally a port, e.g. nats://nats.nats.svc:4222 or nats://[fd00::1]:4222"
	// +kubebuilder:validation:XValidation:rule="self.all(s, !s.matches(':[0-9]+$') || (int(s.substring(s.lastIndexOf(':') + 1)) >= 1 && int(s.substring(s.lastIndexOf(':') + 1)) <= 65535))",message="spec.nats.servers must have ports between 1 and 65535, e.g. nats://nats.nats.svc:4222"
	Servers []string `json:"servers"`

	// credentialsSecretRef is the key of a Secret holding a NATS credentials (.creds) file, for servers
	// that require authentication: a user JWT and then a user nkey seed, each between lines of dashes,
	// as nsc generate creds writes them. A value of another form sets StreamReady, CollectorReady and
	// AggregatorReady False, reason SecretUnusable.
	// +optional
	CredentialsSecretRef *SecretKeyReference `json:"credentialsSecretRef,omitempty"`

	// tls configures TLS to the NATS servers.
	// +optional
	TLS *TLSSpec `json:"tls,omitempty"`

	// stream is the JetStream stream that holds audit events until the aggregator has stored them.
	// +optional
	// +kubebuilder:default={}
	Stream StreamSpec `json:"stream,omitempty"`

	// consumer is the durable pull consumer the aggregator reads the stream with.
	// +optional
	// +kubebuilder:default={}
	Consumer ConsumerSpec `json:"consumer,omitempty"`
}

// StreamSpec is the JetStream stream of audit events. The agent publishes each event with its auditID,
// stage and stage time as the message id, so JetStream drops webhook retries that arrive within the
// duplicate window.
// +kubebuilder:validation:XValidation:rule="!has(self.duplicateWindow) || !has(self.maxAge) || !self.duplicateWindow.matches('^([0-9]+(\\\\.[0-9]+)?(s|m|h))+$') || !self.maxAge.matches('^([0-9]+(\\\\.[0-9]+)?(s|m|h))+$') || duration(self.duplicateWindow) <= duration(self.maxAge)",message="spec.nats.stream.duplicateWindow must not be longer than spec.nats.stream.maxAge: JetStream cannot remember message ids longer than it keeps messages"
type StreamSpec struct {
	// name of the stream. Defaults to AUDIT_EVENTS. Cannot be changed after creation. Each pipeline on a
	// NATS server and account needs a stream (and consumer) name of its own: a newer pipeline of this
	// cluster on another's stream reports StreamInUse.
	// +optional
	// +kubebuilder:default=AUDIT_EVENTS
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.matches('^[A-Za-z0-9_-]+$')",message="spec.nats.stream.name must hold only letters, digits, '_' and '-'"
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec.nats.stream.name cannot be changed: events still in the old stream would be lost; create a new AuditPipeline instead"
	Name string `json:"name,omitempty"`

	// subjects the stream captures; the agent publishes to audit.k8s.<verb>. Defaults to ["audit.k8s.>"].
	// +optional
	// +kubebuilder:default={"audit.k8s.>"}
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MaxLength=256
	// +listType=set
	// +kubebuilder:validation:XValidation:rule="self.all(s, s.matches('^(([^.*>\\\\s]+|[*])[.])*([^.*>\\\\s]+|[*]|>)$'))",message="spec.nats.stream.subjects must be NATS subjects: tokens separated by '.', none empty and none with spaces; '*' only as a whole token and '>' only as the last token, e.g. audit.k8s.>"
	// +kubebuilder:validation:XValidation:rule="self.exists(s, s == 'audit.k8s.>' || s == '>' || s == 'audit.>' || s == 'audit.k8s.*')",message="spec.nats.stream.subjects must capture the subjects the agent publishes to (audit.k8s.<verb>): include audit.k8s.>"
	Subjects []string `json:"subjects,omitempty"`

	// maxAge is how long the stream keeps a message, as a duration. Defaults to 168h (7 days): the time
	// ClickHouse can be down before events are lost.
	// +optional
	// +kubebuilder:default="168h"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+(\\\\.[0-9]+)?(s|m|h))+$')",message="spec.nats.stream.maxAge must be a duration such as 168h (units s, m, h)"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]+(\\\\.[0-9]+)?(s|m|h))+$') || duration(self) >= duration('1m')",message="spec.nats.stream.maxAge must be at least 1m"
	MaxAge metav1.Duration `json:"maxAge,omitzero"`

	// maxBytes caps the stream's size; the oldest events are discarded beyond it. Defaults to 100Gi.
	// +optional
	// +kubebuilder:default="100Gi"
	// +kubebuilder:validation:XValidation:rule="isQuantity(string(self))",message="spec.nats.stream.maxBytes must be a quantity such as 100Gi or a plain number of bytes: suffixes Ki, Mi, Gi, Ti (powers of 1024) or k, M, G, T (powers of 1000), no space and no B (10GB is written 10G)"
	// +kubebuilder:validation:XValidation:rule="!isQuantity(string(self)) || (quantity(string(self)).compareTo(quantity('1Mi')) >= 0)",message="spec.nats.stream.maxBytes must be at least 1Mi"
	MaxBytes resource.Quantity `json:"maxBytes,omitzero"`

	// maxMessageSize is the largest event the stream accepts; it cannot exceed the server's max_payload.
	// Defaults to 1Mi, the NATS server's default max_payload.
	// +optional
	// +kubebuilder:default="1Mi"
	// +kubebuilder:validation:XValidation:rule="isQuantity(string(self))",message="spec.nats.stream.maxMessageSize must be a quantity such as 1Mi or a plain number of bytes: suffixes Ki, Mi, Gi, Ti (powers of 1024) or k, M, G, T (powers of 1000), no space and no B (10GB is written 10G)"
	// +kubebuilder:validation:XValidation:rule="!isQuantity(string(self)) || (quantity(string(self)).compareTo(quantity('1Ki')) >= 0 && quantity(string(self)).compareTo(quantity('64Mi')) <= 0)",message="spec.nats.stream.maxMessageSize must be between 1Ki and 64Mi"
	MaxMessageSize resource.Quantity `json:"maxMessageSize,omitzero"`

	// replicas is how many JetStream servers keep a copy of the stream: 1, 3 or 5. Defaults to 1; use 3
	// on a clustered NATS to survive the loss of a server.
	// +optional
	// +kubebuilder:default=1
	// +kubebuilder:validation:Enum=1;3;5
	Replicas int32 `json:"replicas,omitempty"`

	// duplicateWindow is how long JetStream remembers message ids (each event's auditID, stage and stage
	// time) to drop duplicates. Defaults to 10m.
	// +optional
	// +kubebuilder:default="10m"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+(\\\\.[0-9]+)?(s|m|h))+$')",message="spec.nats.stream.duplicateWindow must be a duration such as 10m (units s, m, h)"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]+(\\\\.[0-9]+)?(s|m|h))+$') || duration(self) >= duration('1s')",message="spec.nats.stream.duplicateWindow must be at least 1s"
	DuplicateWindow metav1.Duration `json:"duplicateWindow,omitzero"`

	// storage is File (the default: messages survive a server restart) or Memory. Cannot be changed after
	// creation.
	// +optional
	// +kubebuilder:default=File
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec.nats.stream.storage cannot be changed: JetStream cannot convert a stream between file and memory storage"
	Storage StreamStorage `json:"storage,omitempty"`
}

// ConsumerSpec is the durable pull consumer of the aggregator. Acknowledgements are explicit and are sent
// only after ClickHouse has stored the events.
type ConsumerSpec struct {
	// durableName of the consumer. Defaults to clickhouse-ingest. Cannot be changed after creation.
	// +optional
	// +kubebuilder:default=clickhouse-ingest
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.matches('^[A-Za-z0-9_-]+$')",message="spec.nats.consumer.durableName must hold only letters, digits, '_' and '-'"
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec.nats.consumer.durableName cannot be changed: a new consumer would start over and insert events twice"
	DurableName string `json:"durableName,omitempty"`

	// maxAckPending is how many events may be delivered and not yet acknowledged. Defaults to 10000.
	// +optional
	// +kubebuilder:default=10000
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000000
	MaxAckPending int32 `json:"maxAckPending,omitempty"`

	// ackWait is how long JetStream waits for an acknowledgement before it redelivers an event. Defaults
	// to 60s; it must be longer than the aggregator's batch timeout.
	// +optional
	// +kubebuilder:default="60s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+(\\\\.[0-9]+)?(s|m|h))+$')",message="spec.nats.consumer.ackWait must be a duration such as 60s (units s, m, h)"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]+(\\\\.[0-9]+)?(s|m|h))+$') || (duration(self) >= duration('1s') && duration(self) <= duration('1h'))",message="spec.nats.consumer.ackWait must be between 1s and 1h"
	AckWait metav1.Duration `json:"ackWait,omitzero"`

	// maxDeliver is how often an event is delivered before JetStream gives up on it; -1 (the default)
	// redelivers until it is stored, so no event is dropped while ClickHouse is down.
	// +optional
	// +kubebuilder:default=-1
	// +kubebuilder:validation:Minimum=-1
	// +kubebuilder:validation:XValidation:rule="self != 0",message="spec.nats.consumer.maxDeliver must be -1 (unlimited) or at least 1"
	MaxDeliver int32 `json:"maxDeliver,omitempty"`
}

// StreamStatus is the observed state of the JetStream stream and consumer.
type StreamStatus struct {
	// name of the JetStream stream.
	// +optional
	Name string `json:"name,omitempty"`

	// consumerName is the durable name of the aggregator's consumer.
	// +optional
	ConsumerName string `json:"consumerName,omitempty"`
}
