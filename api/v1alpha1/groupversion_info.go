// Package v1alpha1 contains the API of the auditpipeline.io group, version v1alpha1: the AuditPipeline
// custom resource, its condition types and reasons, and the CEL validation that protects its users.
//
// It imports only apimachinery and core Kubernetes types: the Altinity and NACK types the operator renders
// never appear in this API.
//
// +kubebuilder:object:generate=true
// +groupName=auditpipeline.io
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version of the objects in this package.
	GroupVersion = schema.GroupVersion{Group: "auditpipeline.io", Version: "v1alpha1"}

	// SchemeBuilder adds the types of this package to a runtime.Scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the types of this group-version to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
