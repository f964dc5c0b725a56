package controller

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
	"github.com/auditpipeline/auditpipeline-operator/internal/render/vector"
)

// +kubebuilder:rbac:groups="",resources=configmaps;services,verbs=get;list;watch;create;patch
// +kubebuilder:rbac:groups=apps,resources=daemonsets;statefulsets,verbs=get;list;watch;create;patch
// +kubebuilder:rbac:groups=policy,resources=poddisruptionbudgets,verbs=get;list;watch;create;patch
// +kubebuilder:rbac:groups=autoscaling,resources=horizontalpodautoscalers,verbs=get;list;watch;create;patch;delete

// reconcileCollector applies the Vector agent (its configuration, the API server's webhook configuration,
// the webhook Service and the DaemonSet) once Vector has validated a new configuration, and reports
// CollectorReady from the DaemonSet's rollout.
func (r *AuditPipelineReconciler) reconcileCollector(ctx context.Context, p *v1alpha1.AuditPipeline) (ctrl.Result, error) {
	if err := streamInUse(p); err != nil {
		return ctrl.Result{}, err
	}
	if ok, err := r.requireSecrets(ctx, p, collectorSecrets(p)); !ok {
		return ctrl.Result{}, err
	}
	uid, err := r.clusterUID(ctx)
	if err != nil {
		return ctrl.Result{}, err
	}
	p.Status.ClusterName = vector.ClusterName(p, uid)
	col, err := vector.RenderCollector(p, p.Status.ClusterName)
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("render collector: %w", err)
	}
	if ok, res, err := r.configValidated(ctx, p, validation{
		what: "agent DaemonSet", workload: col.DaemonSet, template: col.DaemonSet.Spec.Template,
		config: col.Config, hash: col.ConfigHash}); !ok {
		return res, err
	}
	for _, obj := range []client.Object{col.Config, col.WebhookConfig, col.Service, col.DaemonSet} {
		if err := r.applyChild(ctx, p, obj); err != nil {
			return ctrl.Result{}, fmt.Errorf("collector: %w", err)
		}
	}
	ready, desired, current, message := daemonSetRollout(col.DaemonSet)
	p.Status.Collector = &v1alpha1.WorkloadStatus{
		Name:             col.DaemonSet.Name,
		DesiredReplicas:  desired,
		ReadyReplicas:    current,
		ConfigHash:       col.ConfigHash,
		WebhookURL:       col.WebhookURL,
		WebhookConfigMap: col.WebhookConfig.Name,
	}
	return rollout(p, v1alpha1.ConditionCollectorReady, ready, "agent DaemonSet "+col.DaemonSet.Name+": "+message)
}

// reconcileAggregator applies the Vector aggregator (its configuration, headless Service, StatefulSet,
// PodDisruptionBudget and, with autoscaling, HorizontalPodAutoscaler) once Vector has validated a new
// configuration, and reports AggregatorReady from the StatefulSet's rollout.
func (r *AuditPipelineReconciler) reconcileAggregator(ctx context.Context, p *v1alpha1.AuditPipeline) (ctrl.Result, error) {
	if err := streamInUse(p); err != nil {
		return ctrl.Result{}, err
	}
	if ok, err := r.requireSecrets(ctx, p, aggregatorSecrets(p)); !ok {
		return ctrl.Result{}, err
	}
	agg, err := vector.RenderAggregator(p)
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("render aggregator: %w", err)
	}
	if changed, err := r.bufferClaimChanged(ctx, p, agg.StatefulSet); err != nil || changed {
		return ctrl.Result{}, err
	}
	if ok, res, err := r.configValidated(ctx, p, validation{
		what: "aggregator StatefulSet", workload: agg.StatefulSet, template: agg.StatefulSet.Spec.Template,
		config: agg.Config, hash: agg.ConfigHash}); !ok {
		return res, err
	}
	objs := []client.Object{agg.Config, agg.Service, agg.StatefulSet, agg.PodDisruptionBudget}
	if agg.HorizontalPodAutoscaler != nil {
		objs = append(objs, agg.HorizontalPodAutoscaler)
	}
	for _, obj := range objs {
		if err := r.applyChild(ctx, p, obj); err != nil {
			return ctrl.Result{}, fmt.Errorf("aggregator: %w", err)
		}
	}
	if agg.HorizontalPodAutoscaler == nil {
		if err := r.deleteAutoscaler(ctx, p, agg.StatefulSet.Name); err != nil {
			return ctrl.Result{}, err
		}
	}
	ready, desired, current, message := statefulSetRollout(agg.StatefulSet)
	p.Status.Aggregator = &v1alpha1.WorkloadStatus{
		Name:            agg.StatefulSet.Name,
		DesiredReplicas: desired,
		ReadyReplicas:   current,
		ConfigHash:      agg.ConfigHash,
	}
	return rollout(p, v1alpha1.ConditionAggregatorReady, ready, "aggregator StatefulSet "+agg.StatefulSet.Name+": "+message)
}

// rollout is a workload step's end: its condition True once rolled out, a RollingOut outcome until then.
func rollout(p *v1alpha1.AuditPipeline, condType string, ready bool, message string) (ctrl.Result, error) {
	if ready {
		markComponentReady(p, condType, message)
		return ctrl.Result{}, nil
	}
	return ctrl.Result{}, notReady(v1alpha1.ReasonRollingOut, "%s", message)
}

// daemonSetRollout reads the rollout of an applied DaemonSet: it is complete when the controller has
// seen the current generation and every scheduled pod is updated and ready. A DaemonSet that matches no
// node is not ready: no agent would receive the webhook.
func daemonSetRollout(ds *appsv1.DaemonSet) (ready bool, desired, current int32, message string) {
	s := ds.Status
	desired, current = s.DesiredNumberScheduled, min(s.UpdatedNumberScheduled, s.NumberReady)
	switch {
	case s.ObservedGeneration < ds.Generation:
		return false, desired, current, fmt.Sprintf("waiting for the DaemonSet controller to observe generation %d", ds.Generation)
	case desired == 0:
		return false, 0, 0, "0/0 ready: no node matches spec.collector.nodeSelector and tolerations"
	}
	ready = s.UpdatedNumberScheduled == desired && s.NumberReady == desired
	return ready, desired, current, fmt.Sprintf("%d/%d ready", current, desired)
}

// statefulSetRollout reads the rollout of an applied StatefulSet: it is complete when the controller has
// seen the current generation and every replica is updated and ready.
func statefulSetRollout(sts *appsv1.StatefulSet) (ready bool, desired, current int32, message string) {
	s := sts.Status
	desired = 1
	if sts.Spec.Replicas != nil {
		desired = *sts.Spec.Replicas
	}
	current = min(s.UpdatedReplicas, s.ReadyReplicas)
	if s.ObservedGeneration < sts.Generation {
		return false, desired, current, fmt.Sprintf("waiting for the StatefulSet controller to observe generation %d", sts.Generation)
	}
	ready = s.Replicas == desired && s.UpdatedReplicas == desired && s.ReadyReplicas == desired
	return ready, desired, current, fmt.Sprintf("%d/%d ready", current, desired)
}

// bufferClaimChanged reports whether the spec asks for a buffer claim the existing StatefulSet cannot
// have: volume claim templates are immutable. It then returns an InvalidSpec outcome (the pipeline
// stalls) and nothing of the aggregator is applied, rather than running a buffer bigger than its disk.
func (r *AuditPipelineReconciler) bufferClaimChanged(ctx context.Context, p *v1alpha1.AuditPipeline, want *appsv1.StatefulSet) (bool, error) {
	live := &appsv1.StatefulSet{}
	err := r.Get(ctx, client.ObjectKey{Namespace: p.Namespace, Name: want.Name}, live)
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("get aggregator StatefulSet: %w", err)
	}
	if claimsMatch(live.Spec.VolumeClaimTemplates, want.Spec.VolumeClaimTemplates) {
		return false, nil
	}
	return true, notReady(v1alpha1.ReasonInvalidSpec,
		"spec.aggregator.buffer (maxSize or storageClassName) changed, but the buffer claims of StatefulSet %s cannot: "+
			"revert the change, or delete the StatefulSet with --cascade=orphan and its PersistentVolumeClaims "+
			"(events still buffered there are lost) so the operator recreates them", want.Name)
}

// claimsMatch compares what the renderer sets in the buffer claim: its size and StorageClass.
func claimsMatch(live, want []corev1.PersistentVolumeClaim) bool {
	if len(live) != len(want) {
		return false
	}
	for i := range want {
		l, w := live[i].Spec, want[i].Spec
		if !equality.Semantic.DeepEqual(l.Resources.Requests, w.Resources.Requests) ||
			!equality.Semantic.DeepEqual(l.StorageClassName, w.StorageClassName) {
			return false
		}
	}
	return true
}

// deleteAutoscaler removes the aggregator's HorizontalPodAutoscaler once spec.aggregator.autoscaling is
// gone, if p controls it.
func (r *AuditPipelineReconciler) deleteAutoscaler(ctx context.Context, p *v1alpha1.AuditPipeline, name string) error {
	hpa := &metav1.PartialObjectMetadata{}
	hpa.SetGroupVersionKind(autoscalingv2.SchemeGroupVersion.WithKind("HorizontalPodAutoscaler"))
	err := r.Get(ctx, client.ObjectKey{Namespace: p.Namespace, Name: name}, hpa)
	if apierrors.IsNotFound(err) || (err == nil && !metav1.IsControlledBy(hpa, p)) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("get aggregator HorizontalPodAutoscaler: %w", err)
	}
	if err := r.Delete(ctx, hpa); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("delete aggregator HorizontalPodAutoscaler: %w", err)
	}
	logf.FromContext(ctx).Info("deleted the aggregator's autoscaler: spec.aggregator.autoscaling is unset", "name", name)
	return nil
}
