package controller

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
	"github.com/auditpipeline/auditpipeline-operator/internal/clickhouse"
	"github.com/auditpipeline/auditpipeline-operator/internal/render"
)

// clickHouseEndpoint assembles how the operator reaches p's ClickHouse, reading the password and TLS
// material from the referenced Secrets (uncached) at the moment of use.
func (r *AuditPipelineReconciler) clickHouseEndpoint(ctx context.Context, p *v1alpha1.AuditPipeline) (clickhouse.Endpoint, error) {
	spec := &p.Spec.ClickHouse
	password, err := r.secretValue(ctx, p.Namespace, spec.Credentials.PasswordSecretRef.Name, spec.Credentials.PasswordSecretRef.Key)
	if err != nil {
		return clickhouse.Endpoint{}, err
	}
	ep := clickhouse.Endpoint{Addrs: render.ClickHouseNativeAddrs(p), Database: "default",
		Username: spec.Credentials.Username, Password: string(password)}
	if spec.External == nil {
		return ep, nil
	}
	if t := spec.External.TLS; t != nil {
		var ca, cert, key []byte
		if t.CASecretRef != nil {
			if ca, err = r.secretValue(ctx, p.Namespace, t.CASecretRef.Name, t.CASecretRef.Key); err != nil {
				return clickhouse.Endpoint{}, err
			}
		}
		if t.ClientCertSecretRef != nil {
			if cert, err = r.secretValue(ctx, p.Namespace, t.ClientCertSecretRef.Name, corev1.TLSCertKey); err != nil {
				return clickhouse.Endpoint{}, err
			}
			if key, err = r.secretValue(ctx, p.Namespace, t.ClientCertSecretRef.Name, corev1.TLSPrivateKeyKey); err != nil {
				return clickhouse.Endpoint{}, err
			}
		}
		if ep.TLS, err = clickhouse.TLSConfig(spec.External.Hosts[0], ca, cert, key, t.InsecureSkipVerify); err != nil {
			return clickhouse.Endpoint{}, fmt.Errorf("spec.clickhouse.external.tls: %w", err)
		}
	}
	return ep, nil
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
