package controller

import (
	"context"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
	"github.com/auditpipeline/auditpipeline-operator/internal/clickhouse"
)

// clickHouseEndpoint assembles how the operator reaches p's ClickHouse, reading the password and TLS
// material from the referenced Secrets (uncached) at the moment of use.
func (r *AuditPipelineReconciler) clickHouseEndpoint(ctx context.Context, p *v1alpha1.AuditPipeline) (clickhouse.Endpoint, error) {
	return clickhouse.PipelineEndpoint(ctx, p, r.secretValue)
}

// secretValue reads one key of a Secret without caching Secrets in the operator.
func (r *AuditPipelineReconciler) secretValue(ctx context.Context, namespace, name, key string) ([]byte, error) {
	return clickhouse.SecretsOf(r.APIReader)(ctx, namespace, name, key)
}
