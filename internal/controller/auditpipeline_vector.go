package controller

import (
	"context"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
)

// reconcileCollector renders the Vector agent and reports CollectorReady.
func (r *AuditPipelineReconciler) reconcileCollector(ctx context.Context, p *v1alpha1.AuditPipeline) (ctrl.Result, error) {
	if ok, err := r.requireSecrets(ctx, p, v1alpha1.ConditionCollectorReady, collectorSecrets(p)); !ok {
		return ctrl.Result{}, err
	}
	markNotImplemented(p, v1alpha1.ConditionCollectorReady, "the Vector agent (DaemonSet)")
	return ctrl.Result{}, nil
}

// reconcileAggregator renders the Vector aggregator and reports AggregatorReady.
func (r *AuditPipelineReconciler) reconcileAggregator(ctx context.Context, p *v1alpha1.AuditPipeline) (ctrl.Result, error) {
	if ok, err := r.requireSecrets(ctx, p, v1alpha1.ConditionAggregatorReady, aggregatorSecrets(p)); !ok {
		return ctrl.Result{}, err
	}
	markNotImplemented(p, v1alpha1.ConditionAggregatorReady, "the Vector aggregator (StatefulSet)")
	return ctrl.Result{}, nil
}
