package controller

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"maps"

	nack "github.com/nats-io/nack/pkg/jetstream/apis/jetstream/v1beta2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
	"github.com/auditpipeline/auditpipeline-operator/internal/altinity"
)

// applyChild server-side applies obj (built by a pure renderer) as a child of p: in p's namespace, with
// the pipeline labels and p as its controller, under the operator's single field manager. Only the fields
// the renderer sets are owned, so defaults and fields set by others are never fought over. obj is updated
// with the object the API server returned.
//
// An apply whose content is the one last applied, to an object still at the resourceVersion that apply
// returned (read from the informer cache), is not sent at all: obj is read from the cache instead. A
// converged pipeline thus costs no write request per pass (see unchanged).
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
	key := appliedKey{pipeline: p.UID, gvk: gvk, name: obj.GetName()}
	hash, err := contentHash(u)
	if err != nil {
		return err
	}
	if r.unchanged(ctx, key, hash, obj) {
		return nil
	}
	if err := r.Apply(ctx, client.ApplyConfigurationFromUnstructured(u),
		client.FieldOwner(FieldManager), client.ForceOwnership); err != nil {
		var refusal *childRefusedError
		if errors.As(refused(gvk.Kind, obj.GetName(), err), &refusal) {
			return refusal
		}
		return fmt.Errorf("apply %s %s: %w", gvk.Kind, obj.GetName(), err)
	}
	r.applied.Store(key, appliedState{hash: hash, resourceVersion: u.GetResourceVersion()})
	return runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, obj)
}

// appliedKey names one child of one pipeline; appliedState is what was last applied to it.
type appliedKey struct {
	pipeline types.UID
	gvk      schema.GroupVersionKind
	name     string
}

type appliedState struct {
	hash            [sha256.Size]byte
	resourceVersion string
}

func contentHash(u *unstructured.Unstructured) ([sha256.Size]byte, error) {
	b, err := json.Marshal(u.Object) // map keys are sorted: the same content gives the same bytes
	if err != nil {
		return [sha256.Size]byte{}, fmt.Errorf("encode %s %s: %w", u.GetKind(), u.GetName(), err)
	}
	return sha256.Sum256(b), nil
}

// metadataOnlyKinds are the children watched as metadata only (SetupWithManager): their
// resourceVersion is read as PartialObjectMetadata, never through a typed informer of their own.
var metadataOnlyKinds = map[schema.GroupKind]bool{
	{Kind: "ConfigMap"}: true, {Kind: "Service"}: true,
	{Group: "policy", Kind: "PodDisruptionBudget"}: true, {Group: "autoscaling", Kind: "HorizontalPodAutoscaler"}: true,
}

// typedKinds are the children watched with their content, which callers read after applyChild.
var typedKinds = map[schema.GroupKind]bool{
	{Group: "apps", Kind: "DaemonSet"}: true, {Group: "apps", Kind: "StatefulSet"}: true, {Group: "batch", Kind: "Job"}: true,
	altinity.CHIGroupVersion.WithKind("ClickHouseInstallation").GroupKind():       true,
	altinity.CHKGroupVersion.WithKind("ClickHouseKeeperInstallation").GroupKind(): true,
	nack.SchemeGroupVersion.WithKind("Stream").GroupKind():                        true,
	nack.SchemeGroupVersion.WithKind("Consumer").GroupKind():                      true,
}

// unchanged reports whether the apply of content hash to key would change nothing: it was the last one
// applied and the object in the cache is still at the resourceVersion that apply returned. A typed kind
// is read into obj itself: when the answer is false, applyChild overwrites obj with what it applies.
// Kinds the operator does not watch are always applied.
func (r *AuditPipelineReconciler) unchanged(ctx context.Context, key appliedKey, hash [sha256.Size]byte, obj client.Object) bool {
	v, ok := r.applied.Load(key)
	if !ok || v.(appliedState).hash != hash {
		return false
	}
	objKey := client.ObjectKey{Namespace: obj.GetNamespace(), Name: obj.GetName()}
	gk := key.gvk.GroupKind()
	var live client.Object
	switch {
	case metadataOnlyKinds[gk]:
		meta := &metav1.PartialObjectMetadata{}
		meta.SetGroupVersionKind(key.gvk)
		live = meta
	case typedKinds[gk]:
		live = obj
	default:
		return false
	}
	err := r.Get(ctx, objKey, live)
	return err == nil && live.GetResourceVersion() == v.(appliedState).resourceVersion
}

// forget drops what the reconciler remembers of the pipeline with this UID (applies, refusals), once
// it is gone.
func (r *AuditPipelineReconciler) forget(uid types.UID) {
	r.canary.forget(uid)
	r.applied.Range(func(k, _ any) bool {
		if k.(appliedKey).pipeline == uid {
			r.applied.Delete(k)
		}
		return true
	})
	r.refusedAt.Range(func(k, _ any) bool {
		if k.(refusalKey).pipeline == uid {
			r.refusedAt.Delete(k)
		}
		return true
	})
}
