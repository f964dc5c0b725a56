package auditapi

import (
	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"

	auditv1alpha1 "github.com/auditpipeline/auditpipeline-operator/api/audit/v1alpha1"
)

var (
	// Scheme knows the audit API's types, as v1alpha1 and as the internal version the generic API
	// server converts to (the same Go types: there is one version, so nothing to convert).
	Scheme = runtime.NewScheme()
	// Codecs encodes and decodes the audit API's types.
	Codecs = serializer.NewCodecFactory(Scheme)
)

func init() {
	utilruntime.Must(auditv1alpha1.AddToScheme(Scheme))
	internal := schema.GroupVersion{Group: auditv1alpha1.Group, Version: runtime.APIVersionInternal}
	Scheme.AddKnownTypes(internal, &auditv1alpha1.AuditEvent{}, &auditv1alpha1.AuditEventList{},
		&auditv1alpha1.AuditEventQuery{}, &auditv1alpha1.ClusterAuditEventQuery{})
	utilruntime.Must(Scheme.SetVersionPriority(auditv1alpha1.SchemeGroupVersion))
	// The generic API server encodes Status, discovery and list options in the unversioned v1 and
	// tables in meta.k8s.io/v1.
	metav1.AddToGroupVersion(Scheme, schema.GroupVersion{Version: "v1"})
	Scheme.AddUnversionedTypes(schema.GroupVersion{Version: "v1"}, &metav1.Status{}, &metav1.APIVersions{},
		&metav1.APIGroupList{}, &metav1.APIGroup{}, &metav1.APIResourceList{})
	utilruntime.Must(metav1.AddMetaToScheme(Scheme))
	// The field selectors auditevents take (request.go); the generic server refuses any other label.
	utilruntime.Must(Scheme.AddFieldLabelConversionFunc(auditv1alpha1.SchemeGroupVersion.WithKind("AuditEvent"),
		func(label, value string) (string, string, error) {
			if !slices.Contains(selectorFields, label) {
				return "", "", fmt.Errorf("field selector %s is not supported: use %s (or an AuditEventQuery's CEL filter)",
					label, strings.Join(selectorFields, ", "))
			}
			return label, value, nil
		}))
}
