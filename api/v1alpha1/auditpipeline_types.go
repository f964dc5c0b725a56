package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DeletionPolicy says what happens to the pipeline's durable data when the AuditPipeline is deleted.
// +kubebuilder:validation:Enum=Retain;Delete
type DeletionPolicy string

const (
	// DeletionPolicyRetain keeps the ClickHouse data (and, in managed mode, its volumes) and the JetStream
	// stream when the AuditPipeline is deleted; only the stateless workloads go.
	DeletionPolicyRetain DeletionPolicy = "Retain"
	// DeletionPolicyDelete removes the ClickHouse installation with its data and the JetStream stream.
	DeletionPolicyDelete DeletionPolicy = "Delete"
)

// AuditPipelineSpec is the desired pipeline: where audit events are stored, how they travel, and how the
// schema is kept.
// +kubebuilder:validation:XValidation:rule="self.tenancy.source == 'Annotations' || !has(self.clickhouse.retention) || !has(self.clickhouse.retention.tenants) || self.clickhouse.retention.tenants.all(t, !has(t.tenantType))",message="spec.clickhouse.retention.tenants[].tenantType needs spec.tenancy.source Annotations with annotations.type set: with namespace tenancy a tenant has no type; remove tenantType"
// +kubebuilder:validation:XValidation:rule="self.tenancy.source != 'Annotations' || (has(self.tenancy.annotations) && has(self.tenancy.annotations.type)) || !has(self.clickhouse.retention) || !has(self.clickhouse.retention.tenants) || self.clickhouse.retention.tenants.all(t, !has(t.tenantType))",message="spec.clickhouse.retention.tenants[].tenantType needs spec.tenancy.annotations.type: without it every tenant's type is empty; remove tenantType or set the type annotation"
// +kubebuilder:validation:XValidation:rule="!has(self.nats.consumer.ackWait) || !has(self.aggregator.batch.timeout) || !self.nats.consumer.ackWait.matches('^([0-9]+(\\\\.[0-9]+)?(s|m|h))+$') || !self.aggregator.batch.timeout.matches('^([0-9]+(\\\\.[0-9]+)?(ms|s|m))+$') || duration(self.nats.consumer.ackWait) > duration(self.aggregator.batch.timeout)",message="spec.nats.consumer.ackWait must be longer than spec.aggregator.batch.timeout: JetStream would redeliver events still waiting in a batch and ClickHouse would get them twice; raise ackWait or lower the batch timeout"
type AuditPipelineSpec struct {
	// clickhouse is where audit events are stored: a ClickHouse the operator manages, or an existing one.
	// +required
	ClickHouse ClickHouseSpec `json:"clickhouse"`

	// nats is the JetStream server the pipeline buffers events in, and the stream and consumer it uses.
	// +required
	NATS NATSSpec `json:"nats"`

	// collector is the Vector agent that receives the API server's audit webhook and publishes each event
	// to JetStream.
	// +optional
	// +kubebuilder:default={}
	Collector CollectorSpec `json:"collector,omitempty"`

	// aggregator is the Vector aggregator that pulls events from JetStream and inserts them into ClickHouse.
	// +optional
	// +kubebuilder:default={}
	Aggregator AggregatorSpec `json:"aggregator,omitempty"`

	// schema controls the ClickHouse schema migrations the operator applies.
	// +optional
	// +kubebuilder:default={}
	Schema SchemaSpec `json:"schema,omitempty"`

	// tenancy says what the tenant of an event is: its namespace (the default), or the values of one or
	// two of its annotations. The tenant leads the sort key of the audit tables. Cannot be changed after
	// creation.
	// +optional
	// +kubebuilder:default={source: Namespace}
	Tenancy TenancySpec `json:"tenancy,omitzero"`

	// clusterName is written into the cluster column of every event this pipeline's agent receives, so
	// that the pipelines of several clusters can share one database. Unset, it is the UID of this
	// cluster's kube-system namespace (shown in status.clusterName). Changing it changes the rows
	// written from then on.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="self.matches('^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$')",message="spec.clusterName must be up to 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit, e.g. prod-eu-1"
	ClusterName string `json:"clusterName,omitempty"`

	// canary is the end-to-end check that audit events reach ClickHouse (condition EventsFlowing).
	// +optional
	// +kubebuilder:default={}
	Canary CanarySpec `json:"canary,omitzero"`

	// suspend stops the operator from changing anything for this pipeline while true. Status is still
	// reported. Defaults to false.
	// +optional
	Suspend bool `json:"suspend,omitempty"`

	// deletionPolicy says what happens to the stored audit data and the JetStream stream when this
	// AuditPipeline is deleted: Retain (the default) keeps them, Delete removes them.
	// +optional
	// +kubebuilder:default=Retain
	DeletionPolicy DeletionPolicy `json:"deletionPolicy,omitempty"`
}

// AuditPipelineStatus is the observed state of the pipeline.
type AuditPipelineStatus struct {
	// conditions are the latest observations of the pipeline. Ready summarises the whole pipeline;
	// Reconciling and Stalled are present only while true; ClickHouseReady, StreamReady, CollectorReady,
	// AggregatorReady and SchemaReady describe one component each.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +patchStrategy=merge
	// +patchMergeKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`

	// observedGeneration is the metadata.generation of the spec the last successful reconciliation acted on.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// clickhouse is the observed state of the ClickHouse component.
	// +optional
	ClickHouse *ClickHouseStatus `json:"clickhouse,omitempty"`

	// stream is the observed state of the JetStream stream and consumer.
	// +optional
	Stream *StreamStatus `json:"stream,omitempty"`

	// collector is the observed state of the Vector agent.
	// +optional
	Collector *WorkloadStatus `json:"collector,omitempty"`

	// aggregator is the observed state of the Vector aggregator.
	// +optional
	Aggregator *WorkloadStatus `json:"aggregator,omitempty"`

	// schema is the observed state of the ClickHouse schema: applied and pending migrations.
	// +optional
	Schema *SchemaStatus `json:"schema,omitempty"`

	// clusterName is the value the agent writes into the cluster column: spec.clusterName, or the UID of
	// this cluster's kube-system namespace.
	// +optional
	ClusterName string `json:"clusterName,omitempty"`

	// canary is what the end-to-end canary observed.
	// +optional
	Canary *CanaryStatus `json:"canary,omitempty"`

	// freshness says how recent the stored events of this pipeline's cluster are.
	// +optional
	Freshness *FreshnessStatus `json:"freshness,omitempty"`
}

// AuditPipeline turns Kubernetes API-server audit events into a durable, queryable store: API server ->
// Vector agent -> NATS JetStream -> Vector aggregator -> ClickHouse, with the ClickHouse schema migrated by
// the operator. Its name is at most 63 characters, and at most 37 without dots with a managed ClickHouse;
// checked on create only, so that an object an older CRD admitted stays deletable.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:validation:XValidation:rule="oldSelf.hasValue() || self.metadata.name.size() <= 63",optionalOldSelf=true,message="metadata.name must be at most 63 characters: it is the value of the auditpipeline.io/pipeline label on every object the pipeline creates"
// +kubebuilder:validation:XValidation:rule="oldSelf.hasValue() || !has(self.spec.clickhouse.managed) || (self.metadata.name.size() <= 37 && !self.metadata.name.contains('.'))",optionalOldSelf=true,message="metadata.name of a pipeline with spec.clickhouse.managed must be at most 37 characters and hold no '.': it names the ClickHouseInstallation, whose StatefulSets, pods and Services add up to 26 characters to it and must be DNS labels"
// +kubebuilder:resource:shortName=ap,categories=audit
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Schema",type=string,JSONPath=`.status.schema.summary`,description="current/target schema version"
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].message`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type AuditPipeline struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the object's metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the desired pipeline.
	// +required
	Spec AuditPipelineSpec `json:"spec"`

	// status is the observed state of the pipeline.
	// +optional
	Status AuditPipelineStatus `json:"status,omitempty"`
}

// AuditPipelineList is a list of AuditPipelines.
//
// +kubebuilder:object:root=true
type AuditPipelineList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []AuditPipeline `json:"items"`
}

func init() {
	SchemeBuilder.Register(&AuditPipeline{}, &AuditPipelineList{})
}
