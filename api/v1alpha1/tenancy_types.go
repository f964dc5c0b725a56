package v1alpha1

// TenantSource is where an event's tenant comes from.
// +kubebuilder:validation:Enum=Namespace;Annotations
type TenantSource string

const (
	// TenantSourceNamespace makes objectRef.namespace the tenant (empty for cluster-scoped requests);
	// tenant_type is empty.
	TenantSourceNamespace TenantSource = "Namespace"
	// TenantSourceAnnotations takes the tenant, and optionally its type, from annotations of the event.
	TenantSourceAnnotations TenantSource = "Annotations"
)

// TenancySpec says what the tenant of an audit event is. The aggregator writes it into the tenant_type
// and tenant columns, which lead the sort key of the audit tables: "everything tenant X did" reads that
// tenant's rows only. An event without the annotation gets the empty tenant; it is never dropped.
// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec.tenancy cannot be changed: the rows already stored are sorted by the tenant they were written with; create a new AuditPipeline with another spec.clickhouse.database instead"
// +kubebuilder:validation:XValidation:rule="(self.source == 'Annotations') == has(self.annotations)",message="spec.tenancy.annotations is set exactly when spec.tenancy.source is Annotations: set both (e.g. annotations.name: platform.miloapis.com/scope.name) or neither"
type TenancySpec struct {
	// source is Namespace (the default: the tenant is objectRef.namespace) or Annotations (the tenant is
	// the value of an annotation of the event, spec.tenancy.annotations).
	// +optional
	// +kubebuilder:default=Namespace
	Source TenantSource `json:"source,omitempty"`

	// annotations name the annotations of the event that hold its tenant, with source Annotations.
	// +optional
	Annotations *TenantAnnotations `json:"annotations,omitempty"`
}

// TenantAnnotations are the keys of the annotations (audit.k8s.io/v1 Event .annotations) that hold an
// event's tenant, e.g. platform.miloapis.com/scope.type and platform.miloapis.com/scope.name.
// +kubebuilder:validation:XValidation:rule="!has(self.type) || self.type != self.name",message="spec.tenancy.annotations.type and name must be different annotations: remove type, or name the annotation that holds the tenant's type"
type TenantAnnotations struct {
	// type is the key of the annotation whose value is the tenant's type, e.g.
	// platform.miloapis.com/scope.type (Organization, Project, User, ...). Unset, tenant_type is empty.
	// +optional
	Type AnnotationKey `json:"type,omitempty"`

	// name is the key of the annotation whose value is the tenant, e.g. platform.miloapis.com/scope.name.
	// +required
	Name AnnotationKey `json:"name"`
}

// AnnotationKey is the key of an annotation: an optional DNS subdomain prefix and '/', then up to 63
// letters, digits, '-', '_' or '.' starting and ending with a letter or digit.
// +kubebuilder:validation:MinLength=1
// +kubebuilder:validation:MaxLength=317
// +kubebuilder:validation:XValidation:rule="self.matches('^([a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$') && (!self.contains('/') || self.indexOf('/') <= 253)",message="must be an annotation key: an optional DNS prefix and '/', then up to 63 letters, digits, '-', '_' or '.', e.g. platform.miloapis.com/scope.name"
type AnnotationKey string

// TenantAnnotations returns the annotations that hold an event's tenant; nil with namespace tenancy.
func (s *AuditPipelineSpec) TenantAnnotations() *TenantAnnotations {
	if s.Tenancy.Source != TenantSourceAnnotations {
		return nil
	}
	return s.Tenancy.Annotations
}
