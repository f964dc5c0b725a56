package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// AuditEvent is one audit event as the pipeline stored it. Its name is the event's auditID, its namespace
// the event's objectRef.namespace (none for a cluster-scoped object or a non-resource URL), its
// creationTimestamp the event's stageTimestamp.
//
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
type AuditEvent struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Event is the whole audit.k8s.io/v1 Event, member for member as stored.
	Event runtime.RawExtension `json:"event"`
}

// AuditEventList is a page of audit events, newest first.
//
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
type AuditEventList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`

	Items []AuditEvent `json:"items"`
}

// AuditEventQuerySpec is what a query asks: the events of a time range that match a CEL filter, or one
// object's history.
type AuditEventQuerySpec struct {
	// Object, when set, asks for that object's history instead: its writes (create, update, patch, delete,
	// deletecollection), oldest first, over the whole audit trail, the newest spec.limit of them. filter,
	// startTime, endTime and continue must then be empty.
	// +optional
	Object *ObjectReference `json:"object,omitempty"`

	// Filter is a CEL expression over the audit event (docs/query.md#filters), e.g.
	// `verb == 'delete' && objectRef.resource == 'configmaps'`. Empty: every event of the range.
	// +optional
	Filter string `json:"filter,omitempty"`
	// StartTime is the oldest stageTimestamp returned (inclusive). Default: 24 hours before endTime.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`
	// EndTime is the newest stageTimestamp returned (inclusive). Default: now.
	// +optional
	EndTime *metav1.Time `json:"endTime,omitempty"`
	// Limit is the most events returned, newest first: 1 to 10000, default 100.
	// +optional
	Limit int32 `json:"limit,omitempty"`
	// Continue is status.continue of the query before, to get its next page; the other fields must be
	// those of that query.
	// +optional
	Continue string `json:"continue,omitempty"`
}

// ObjectReference names the object of a history.
type ObjectReference struct {
	// Resource is the resource as kubectl names it: plural (deployments), singular, a short name (deploy),
	// optionally with its group (deployments.apps).
	Resource string `json:"resource"`
	// Namespace is the object's namespace, in a ClusterAuditEventQuery (empty for a cluster-scoped
	// object). An AuditEventQuery's object is in the query's namespace: leave it empty or set it to that.
	// +optional
	Namespace string `json:"namespace,omitempty"`
	// Name is the object's name.
	Name string `json:"name"`
}

// AuditEventQueryStatus is the answer of a query.
type AuditEventQueryStatus struct {
	// Events are the matching audit events, newest first, each whole.
	Events []runtime.RawExtension `json:"events"`
	// Continue, when set, gets the next page: create the same query with spec.continue set to it.
	// +optional
	Continue string `json:"continue,omitempty"`
}

// AuditEventQuery asks for the audit events of its namespace that match a CEL filter. It is create-only
// and never stored: the created object's status holds the events.
//
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
type AuditEventQuery struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   AuditEventQuerySpec   `json:"spec"`
	Status AuditEventQueryStatus `json:"status,omitempty"`
}

// ClusterAuditEventQuery is AuditEventQuery over the whole cluster: every namespace, cluster-scoped
// objects and non-resource URLs. Its caller must be allowed to list auditevents cluster-wide.
//
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
type ClusterAuditEventQuery struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   AuditEventQuerySpec   `json:"spec"`
	Status AuditEventQueryStatus `json:"status,omitempty"`
}
