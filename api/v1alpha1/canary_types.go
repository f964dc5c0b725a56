package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// CanarySpec is the end-to-end check that audit events reach ClickHouse: every interval the operator
// makes one request to the API server that the recommended audit policy records (a GET of the pipeline's
// collector ConfigMap, with an Audit-ID the operator chooses and the user agent
// auditpipeline-canary/v1), and looks for its audit event in ClickHouse (EventsFlowing).
type CanarySpec struct {
	// interval between canaries, e.g. 1m (the default); 0s turns the canary off. At least 5s otherwise.
	// +optional
	// +kubebuilder:default="1m"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+(\\\\.[0-9]+)?(s|m|h))+$')",message="spec.canary.interval must be a duration such as 1m, or 0s to turn the canary off"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]+(\\\\.[0-9]+)?(s|m|h))+$') || duration(self) == duration('0s') || duration(self) >= duration('5s')",message="spec.canary.interval must be 0s (off) or at least 5s"
	Interval *metav1.Duration `json:"interval,omitempty"`

	// deadline after which a canary not seen in ClickHouse counts as lost, e.g. 5m (the default); a
	// canary not seen after half of it is late. At least 10s.
	// +optional
	// +kubebuilder:default="5m"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+(\\\\.[0-9]+)?(s|m|h))+$')",message="spec.canary.deadline must be a duration such as 5m"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]+(\\\\.[0-9]+)?(s|m|h))+$') || duration(self) >= duration('10s')",message="spec.canary.deadline must be at least 10s"
	Deadline metav1.Duration `json:"deadline,omitzero"`
}

// CanaryProbe is one canary sent.
type CanaryProbe struct {
	// sequence number of the canary, from 1.
	Sequence int64 `json:"sequence"`
	// auditID the canary request carried (its Audit-ID header), which its audit event has.
	AuditID string `json:"auditID"`
	// sentAt is when the operator made the request.
	SentAt metav1.Time `json:"sentAt"`
}

// CanaryStatus is what the canary observed.
type CanaryStatus struct {
	// lastSent is the newest canary sent.
	// +optional
	LastSent *CanaryProbe `json:"lastSent,omitempty"`

	// lastSeen is the newest canary found in ClickHouse.
	// +optional
	LastSeen *CanaryProbe `json:"lastSeen,omitempty"`

	// lastSeenAt is when the operator found lastSeen in ClickHouse.
	// +optional
	LastSeenAt *metav1.Time `json:"lastSeenAt,omitempty"`

	// latency is the end-to-end latency of lastSeen: from the request to its event's row in ClickHouse
	// (the row's time of insert is not stored: this is when the operator found it, so at most the time
	// between two checks more).
	// +optional
	Latency *metav1.Duration `json:"latency,omitempty"`

	// pending are the canaries sent and not seen yet, oldest first.
	// +optional
	// +listType=atomic
	Pending []CanaryProbe `json:"pending,omitempty"`

	// lost counts the canaries never seen within spec.canary.deadline.
	// +optional
	Lost int64 `json:"lost,omitempty"`
}

// FreshnessStatus says how recent the stored events are: the newest event of this pipeline's cluster
// (the cluster column) and how many arrived lately.
type FreshnessStatus struct {
	// cluster is the cluster name these figures are of (status.clusterName when they were read).
	// +optional
	Cluster string `json:"cluster,omitempty"`

	// newestEvent is the stage time of the newest stored event of this pipeline's cluster.
	// +optional
	NewestEvent *metav1.Time `json:"newestEvent,omitempty"`

	// recentEvents is the number of this cluster's events of the last 5 minutes.
	// +optional
	RecentEvents int64 `json:"recentEvents,omitempty"`

	// checkedAt is when the operator read them.
	// +optional
	CheckedAt *metav1.Time `json:"checkedAt,omitempty"`
}
