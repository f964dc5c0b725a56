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

// AuditEventQuerySpec is what a query asks: the events of a time range that match a CEL filter.
type AuditEventQuerySpec struct {
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
