package controller

import (
	"context"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
)

// reconcileSchema migrates the ClickHouse schema to the target version and reports SchemaReady.
func (r *AuditPipelineReconciler) reconcileSchema(_ context.Context, p *v1alpha1.AuditPipeline) (ctrl.Result, error) {
	if !apimeta.IsStatusConditionTrue(p.Status.Conditions, v1alpha1.ConditionClickHouseReady) {
		markComponentNotReady(p, v1alpha1.ConditionSchemaReady, v1alpha1.ReasonWaitingForClickHouse,
			"waiting for ClickHouseReady before migrating the schema")
		return ctrl.Result{}, nil
	}
	markNotImplemented(p, v1alpha1.ConditionSchemaReady, "the schema migration")
	return ctrl.Result{}, nil
}
