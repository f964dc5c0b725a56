package controller

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
)

// durableKinds are the children that hold audit data or stream positions. With deletionPolicy Retain they
// are orphaned (our owner reference removed) before the AuditPipeline goes, so the garbage collector keeps
// them; with Delete the garbage collector removes them with their owner.
var durableKinds = []schema.GroupVersionKind{
	{Group: "clickhouse.altinity.com", Version: "v1", Kind: "ClickHouseInstallation"},
	{Group: "clickhouse-keeper.altinity.com", Version: "v1", Kind: "ClickHouseKeeperInstallation"},
	{Group: "jetstream.nats.io", Version: "v1beta2", Kind: "Stream"},
	{Group: "jetstream.nats.io", Version: "v1beta2", Kind: "Consumer"},
	// The Account carries the connection of the retained Stream and Consumer when Secrets are referenced.
	{Group: "jetstream.nats.io", Version: "v1beta2", Kind: "Account"},
}

// reconcileDelete carries out the deletion policy and then releases the finalizer.
func (r *AuditPipelineReconciler) reconcileDelete(ctx context.Context, p *v1alpha1.AuditPipeline) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(p, Finalizer) {
		return ctrl.Result{}, nil
	}
	markDeleting(p)
	if p.Spec.DeletionPolicy != v1alpha1.DeletionPolicyDelete {
		if err := r.orphanDurableChildren(ctx, p); err != nil {
			return ctrl.Result{}, err
		}
	}
	base := p.DeepCopy()
	controllerutil.RemoveFinalizer(p, Finalizer)
	if err := r.Patch(ctx, p, client.MergeFrom(base)); err != nil {
		return ctrl.Result{}, fmt.Errorf("remove finalizer: %w", err)
	}
	forgetMetrics(p)
	r.forget(p.UID)
	r.event(p, corev1.EventTypeNormal, v1alpha1.ReasonDeleting, "Delete",
		"deletion policy %s carried out", p.Spec.DeletionPolicy)
	logf.FromContext(ctx).Info("deletion policy carried out", "deletionPolicy", p.Spec.DeletionPolicy)
	return ctrl.Result{}, nil
}

// orphanDurableChildren removes p's owner reference from every durable child, kind by kind. Kinds whose
// CRD is not installed hold nothing to keep.
func (r *AuditPipelineReconciler) orphanDurableChildren(ctx context.Context, p *v1alpha1.AuditPipeline) error {
	for _, gvk := range durableKinds {
		var list metav1.PartialObjectMetadataList
		list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		err := r.APIReader.List(ctx, &list, client.InNamespace(p.Namespace), client.MatchingLabels{LabelPipeline: p.Name})
		if apimeta.IsNoMatchError(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("list %s to retain: %w", gvk.Kind, err)
		}
		for i := range list.Items {
			list.Items[i].SetGroupVersionKind(gvk)
			if err := r.orphan(ctx, p, &list.Items[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

func (r *AuditPipelineReconciler) orphan(ctx context.Context, p *v1alpha1.AuditPipeline, child *metav1.PartialObjectMetadata) error {
	refs := child.GetOwnerReferences()
	kept := refs[:0:0]
	for _, ref := range refs {
		if ref.UID != p.UID {
			kept = append(kept, ref)
		}
	}
	if len(kept) == len(refs) {
		return nil
	}
	base := child.DeepCopy()
	child.SetOwnerReferences(kept)
	if err := r.Patch(ctx, child, client.MergeFrom(base)); err != nil {
		return fmt.Errorf("retain %s %s: %w", child.Kind, child.Name, err)
	}
	logf.FromContext(ctx).Info("retained child", "kind", child.Kind, "name", child.Name)
	return nil
}
