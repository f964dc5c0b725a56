package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Group is the API group of the audit API.
const Group = "audit.auditpipeline.io"

// SchemeGroupVersion is the group and version of the objects in this package.
var SchemeGroupVersion = schema.GroupVersion{Group: Group, Version: "v1alpha1"}

// Resource names, as RBAC rules name them.
const (
	ResourceAuditEvents              = "auditevents"
	ResourceAuditEventQueries        = "auditeventqueries"
	ResourceClusterAuditEventQueries = "clusterauditeventqueries"
)

// AddToScheme adds the types of this group-version to a scheme.
func AddToScheme(s *runtime.Scheme) error {
	s.AddKnownTypes(SchemeGroupVersion, &AuditEvent{}, &AuditEventList{}, &AuditEventQuery{}, &ClusterAuditEventQuery{})
	metav1.AddToGroupVersion(s, SchemeGroupVersion)
	return nil
}
