package controller

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

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
	var s corev1.Secret
	if err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, &s); err != nil {
		return nil, fmt.Errorf("read Secret %s/%s: %w", namespace, name, err)
	}
	v, ok := s.Data[key]
	if !ok {
		return nil, fmt.Errorf("secret %s/%s has no key %q", namespace, name, key)
	}
	return v, nil
}
