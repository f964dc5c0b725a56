package controller

import (
	"context"
	"errors"
	"fmt"
	"maps"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
)

// applyChild server-side applies obj (built by a pure renderer) as a child of p: in p's namespace, with
// the pipeline labels and p as its controller, under the operator's single field manager. Only the fields
// the renderer sets are owned, so defaults and fields set by others are never fought over, and applying
// an unchanged object writes nothing. obj is updated with the object the API server returned.
func (r *AuditPipelineReconciler) applyChild(ctx context.Context, p *v1alpha1.AuditPipeline, obj client.Object) error {
	scheme := r.Scheme()
	gvk, err := apiutil.GVKForObject(obj, scheme)
	if err != nil {
		return fmt.Errorf("kind of %T: %w", obj, err)
	}
	obj.SetNamespace(p.Namespace)
	labels := childLabels(p)
	maps.Copy(labels, obj.GetLabels())
	obj.SetLabels(labels)
	if err := controllerutil.SetControllerReference(p, obj, scheme); err != nil {
		return fmt.Errorf("own %s %s: %w", gvk.Kind, obj.GetName(), err)
	}
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return fmt.Errorf("convert %s %s: %w", gvk.Kind, obj.GetName(), err)
	}
	u := &unstructured.Unstructured{Object: content}
	u.SetGroupVersionKind(gvk)
	unstructured.RemoveNestedField(u.Object, "status")
	unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
	unstructured.RemoveNestedField(u.Object, "metadata", "resourceVersion")
	if err := r.Apply(ctx, client.ApplyConfigurationFromUnstructured(u),
		client.FieldOwner(FieldManager), client.ForceOwnership); err != nil {
		var refusal *childRefusedError
		if errors.As(refused(gvk.Kind, obj.GetName(), err), &refusal) {
			return refusal
		}
		return fmt.Errorf("apply %s %s: %w", gvk.Kind, obj.GetName(), err)
	}
	return runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, obj)
}
