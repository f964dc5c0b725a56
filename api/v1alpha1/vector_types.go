package v1alpha1

import (
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DefaultVectorImage is the Vector image of the agent and the aggregator when the spec names none.
const DefaultVectorImage = "timberio/vector:0.59.0-distroless-libc"

// AuditStage is a stage of the API server's request handling at which it emits an audit event.
// +kubebuilder:validation:Enum=RequestReceived;ResponseStarted;ResponseComplete;Panic
type AuditStage string

const (
	// StageRequestReceived is emitted as soon as the API server receives a request.
	StageRequestReceived AuditStage = "RequestReceived"
	// StageResponseStarted is emitted once response headers are sent, for long-running requests (watch).
	StageResponseStarted AuditStage = "ResponseStarted"
	// StageResponseComplete is emitted when the response body is complete: the event that says what happened.
	StageResponseComplete AuditStage = "ResponseComplete"
	// StagePanic is emitted when the API server panicked while handling the request.
	StagePanic AuditStage = "Panic"
)

// CollectorSpec is the Vector agent, run as a DaemonSet, that receives the API server's audit webhook and
// publishes each event to JetStream with its auditID, stage and stage time as the message id.
type CollectorSpec struct {
	// image is the Vector image. Defaults to timberio/vector:0.59.0-distroless-libc.
	// +optional
	// +kubebuilder:default="timberio/vector:0.59.0-distroless-libc"
	Image ImageReference `json:"image,omitempty"`

	// webhook is the HTTP endpoint the API server's audit webhook posts event batches to.
	// +optional
	// +kubebuilder:default={}
	Webhook WebhookSpec `json:"webhook,omitempty"`

	// nodeSelector places the agent on matching nodes, e.g. the control-plane nodes that run API servers.
	// +optional
	// +kubebuilder:validation:MaxProperties=32
	// +kubebuilder:validation:XValidation:rule="self.all(k, k.matches('^([a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$') && (!k.contains('/') || k.indexOf('/') <= 253))",message="spec.collector.nodeSelector keys must be label keys: an optional DNS prefix and '/', then up to 63 letters, digits, '-', '_' or '.', e.g. node-role.kubernetes.io/control-plane"
	NodeSelector map[string]LabelValue `json:"nodeSelector,omitempty"`

	// tolerations let the agent run on tainted nodes, e.g. node-role.kubernetes.io/control-plane.
	// +optional
	// +kubebuilder:validation:MaxItems=32
	// +listType=atomic
	Tolerations []Toleration `json:"tolerations,omitempty"`

	// buffer is the agent's disk buffer, on a host path of each node: events wait there while JetStream is
	// unreachable, and the webhook is held back (never dropped) when it is full.
	// +optional
	// +kubebuilder:default={}
	Buffer CollectorBufferSpec `json:"buffer,omitempty"`

	// resources are the compute resources of the agent container.
	// +optional
	Resources ComputeResources `json:"resources,omitempty"`
}

// WebhookSpec is the agent's audit webhook endpoint.
type WebhookSpec struct {
	// port the agent listens on. Defaults to 8080.
	// +optional
	// +kubebuilder:default=8080
	// +kubebuilder:validation:Minimum=1024
	// +kubebuilder:validation:Maximum=65535
	Port int32 `json:"port,omitempty"`

	// path the API server posts to. Defaults to /events.
	// +optional
	// +kubebuilder:default="/events"
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:XValidation:rule="self.matches('^/[-a-zA-Z0-9_./]*$')",message="spec.collector.webhook.path must start with '/' and hold only letters, digits, '-', '_', '.' and '/'"
	Path string `json:"path,omitempty"`

	// tls serves the webhook over HTTPS with the certificate in this Secret (type kubernetes.io/tls, keys
	// tls.crt and tls.key). Unset, the webhook is plain HTTP.
	// +optional
	TLS *SecretReference `json:"tls,omitempty"`
}

// CollectorBufferSpec is the agent's disk buffer on the node.
type CollectorBufferSpec struct {
	// maxSize of the disk buffer. Defaults to 10Gi; Vector needs at least 256Mi.
	// +optional
	// +kubebuilder:default="10Gi"
	// +kubebuilder:validation:XValidation:rule="isQuantity(string(self))",message="spec.collector.buffer.maxSize must be a quantity such as 10Gi or a plain number of bytes: suffixes Ki, Mi, Gi, Ti (powers of 1024) or k, M, G, T (powers of 1000), no space and no B (10GB is written 10G)"
	// +kubebuilder:validation:XValidation:rule="!isQuantity(string(self)) || (quantity(string(self)).compareTo(quantity('256Mi')) > 0)",message="spec.collector.buffer.maxSize must be more than 256Mi: Vector's disk buffer needs at least that much"
	MaxSize resource.Quantity `json:"maxSize,omitzero"`

	// hostPath is the directory on each node that holds the buffer. Defaults to /var/lib/auditpipeline.
	// +optional
	// +kubebuilder:default="/var/lib/auditpipeline"
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:XValidation:rule="self.matches('^/[-a-zA-Z0-9_./]+$') && !self.contains('..')",message="spec.collector.buffer.hostPath must be an absolute path without '..'"
	HostPath string `json:"hostPath,omitempty"`
}

// AggregatorSpec is the Vector aggregator, run as a StatefulSet, that pulls events from JetStream, filters
// them, inserts them into ClickHouse and acknowledges them only after the insert.
// +kubebuilder:validation:XValidation:rule="!(has(self.replicas) && has(self.autoscaling))",message="spec.aggregator takes replicas or autoscaling, not both: remove one"
type AggregatorSpec struct {
	// image is the Vector image. Defaults to timberio/vector:0.59.0-distroless-libc.
	// +optional
	// +kubebuilder:default="timberio/vector:0.59.0-distroless-libc"
	Image ImageReference `json:"image,omitempty"`

	// replicas is a fixed number of aggregator pods. Unset (and no autoscaling), 2 pods run.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=50
	Replicas *int32 `json:"replicas,omitempty"`

	// autoscaling scales the aggregator between minReplicas and maxReplicas on CPU use.
	// +optional
	Autoscaling *AutoscalingSpec `json:"autoscaling,omitempty"`

	// batch limits how many events go into one ClickHouse insert; a batch is sent when any limit is reached.
	// +optional
	// +kubebuilder:default={}
	Batch BatchSpec `json:"batch,omitempty"`

	// filter chooses which events are stored.
	// +optional
	// +kubebuilder:default={}
	Filter FilterSpec `json:"filter,omitempty"`

	// buffer is the aggregator's disk buffer, on a PersistentVolumeClaim per pod so that a restart loses
	// nothing.
	// +optional
	// +kubebuilder:default={}
	Buffer AggregatorBufferSpec `json:"buffer,omitempty"`

	// resources are the compute resources of the aggregator container.
	// +optional
	Resources ComputeResources `json:"resources,omitempty"`
}

// AutoscalingSpec is a HorizontalPodAutoscaler range.
// +kubebuilder:validation:XValidation:rule="self.minReplicas <= self.maxReplicas",message="spec.aggregator.autoscaling.minReplicas must not be above maxReplicas"
type AutoscalingSpec struct {
	// minReplicas is the fewest pods. Defaults to 2.
	// +optional
	// +kubebuilder:default=2
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=50
	MinReplicas int32 `json:"minReplicas,omitempty"`

	// maxReplicas is the most pods. Defaults to 5.
	// +optional
	// +kubebuilder:default=5
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=50
	MaxReplicas int32 `json:"maxReplicas,omitempty"`

	// targetCPUUtilizationPercentage is the average CPU use, in percent of the request, the autoscaler
	// aims for. Defaults to 70.
	// +optional
	// +kubebuilder:default=70
	// +kubebuilder:validation:Minimum=10
	// +kubebuilder:validation:Maximum=100
	TargetCPUUtilizationPercentage int32 `json:"targetCPUUtilizationPercentage,omitempty"`
}

// BatchSpec limits one ClickHouse insert.
type BatchSpec struct {
	// maxEvents per insert. Defaults to 10000.
	// +optional
	// +kubebuilder:default=10000
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000000
	MaxEvents int32 `json:"maxEvents,omitempty"`

	// maxBytes per insert, before compression, as Vector counts it: the events' size in memory, about
	// twice their JSON. Defaults to 32M (32,000,000 bytes), which holds maxEvents (10,000) typical audit
	// events (1.2 KB of JSON each), so that maxEvents decides and this caps batches of large events.
	// +optional
	// +kubebuilder:default="32M"
	// +kubebuilder:validation:XValidation:rule="isQuantity(string(self))",message="spec.aggregator.batch.maxBytes must be a quantity such as 32M or a plain number of bytes: suffixes Ki, Mi, Gi, Ti (powers of 1024) or k, M, G, T (powers of 1000), no space and no B (10GB is written 10G)"
	// +kubebuilder:validation:XValidation:rule="!isQuantity(string(self)) || (quantity(string(self)).compareTo(quantity('64Ki')) >= 0 && quantity(string(self)).compareTo(quantity('1Gi')) <= 0)",message="spec.aggregator.batch.maxBytes must be between 64Ki and 1Gi"
	MaxBytes resource.Quantity `json:"maxBytes,omitzero"`

	// timeout is the longest an event waits for its batch to fill. Defaults to 10s.
	// +optional
	// +kubebuilder:default="10s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+(\\\\.[0-9]+)?(ms|s|m))+$')",message="spec.aggregator.batch.timeout must be a duration such as 10s (units ms, s, m)"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]+(\\\\.[0-9]+)?(ms|s|m))+$') || (duration(self) >= duration('100ms') && duration(self) <= duration('5m'))",message="spec.aggregator.batch.timeout must be between 100ms and 5m"
	Timeout metav1.Duration `json:"timeout,omitzero"`
}

// FilterSpec chooses which audit events are stored.
type FilterSpec struct {
	// stages are the audit stages whose events are stored. Defaults to [ResponseComplete, Panic]: the
	// event that records the outcome of a request, and the one the API server sends instead when its
	// handler panicked (it sends no ResponseComplete then).
	// +optional
	// +kubebuilder:default={ResponseComplete,Panic}
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=4
	// +listType=set
	Stages []AuditStage `json:"stages,omitempty"`

	// dropPrivateSourceIPs drops events whose source IPs are all in a private range (RFC 1918, RFC 4193,
	// loopback): typically in-cluster controllers. The API server lists a client's X-Forwarded-For
	// header before the address the request came from, so only all of them together tell where it came
	// from. Defaults to false; turn on only if those actions need no audit trail.
	// +optional
	DropPrivateSourceIPs bool `json:"dropPrivateSourceIPs,omitempty"`
}

// AggregatorBufferSpec is the aggregator's disk buffer on a PersistentVolumeClaim.
type AggregatorBufferSpec struct {
	// maxSize of the disk buffer. Defaults to 10Gi; the claim is sized a little above it.
	// +optional
	// +kubebuilder:default="10Gi"
	// +kubebuilder:validation:XValidation:rule="isQuantity(string(self))",message="spec.aggregator.buffer.maxSize must be a quantity such as 10Gi or a plain number of bytes: suffixes Ki, Mi, Gi, Ti (powers of 1024) or k, M, G, T (powers of 1000), no space and no B (10GB is written 10G)"
	// +kubebuilder:validation:XValidation:rule="!isQuantity(string(self)) || (quantity(string(self)).compareTo(quantity('256Mi')) > 0)",message="spec.aggregator.buffer.maxSize must be more than 256Mi: Vector's disk buffer needs at least that much"
	MaxSize resource.Quantity `json:"maxSize,omitzero"`

	// storageClassName is the StorageClass of the buffer's claim. Unset, the default class is used.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	StorageClassName *string `json:"storageClassName,omitempty"`
}

// WorkloadStatus is the observed state of a Vector workload.
type WorkloadStatus struct {
	// name of the DaemonSet or StatefulSet.
	// +optional
	Name string `json:"name,omitempty"`

	// desiredReplicas is how many pods should run.
	// +optional
	DesiredReplicas int32 `json:"desiredReplicas,omitempty"`

	// readyReplicas is how many pods of the current configuration are ready.
	// +optional
	ReadyReplicas int32 `json:"readyReplicas,omitempty"`

	// configHash is the hash of the rendered Vector configuration the pods run.
	// +optional
	ConfigHash string `json:"configHash,omitempty"`

	// webhookURL is the URL the API server's audit webhook posts to (collector only).
	// +optional
	WebhookURL string `json:"webhookURL,omitempty"`

	// webhookConfigMap names the ConfigMap holding the kubeconfig-format file for kube-apiserver's
	// --audit-webhook-config-file (collector only).
	// +optional
	WebhookConfigMap string `json:"webhookConfigMap,omitempty"`
}
