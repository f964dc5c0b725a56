// Package v1alpha1 is the read-only aggregated API audit.auditpipeline.io/v1alpha1 (docs/auditapi.md):
// AuditEvent, one stored audit event, listed per namespace or cluster-wide; AuditEventQuery and
// ClusterAuditEventQuery, a CEL filter whose answer comes back in the created object's status and is
// never stored. These are not custom resources: the audit API server (internal/auditapi) serves them
// behind kube-apiserver, which authenticates the caller, and the server scopes every answer by RBAC.
//
// +kubebuilder:object:generate=true
// +k8s:openapi-gen=true
// +k8s:openapi-model-package=io.auditpipeline.audit.v1alpha1
package v1alpha1
