package controller

import (
	"context"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
)

// reconcileClickHouse makes ClickHouse available to the pipeline and reports ClickHouseReady.
func (r *AuditPipelineReconciler) reconcileClickHouse(ctx context.Context, p *v1alpha1.AuditPipeline) (ctrl.Result, error) {
	if ok, err := r.requireSecrets(ctx, p, v1alpha1.ConditionClickHouseReady, clickHouseSecrets(p)); !ok {
		return ctrl.Result{}, err
	}
	if p.Spec.ClickHouse.Managed != nil {
		markNotImplemented(p, v1alpha1.ConditionClickHouseReady, "a managed ClickHouse (ClickHouseInstallation)")
	} else {
		markNotImplemented(p, v1alpha1.ConditionClickHouseReady, "the connection check of an external ClickHouse")
	}
	return ctrl.Result{}, nil
}
