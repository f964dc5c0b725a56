package clickhouse

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
	"github.com/auditpipeline/auditpipeline-operator/internal/render"
)

// SecretReader reads one key of a Secret in namespace.
type SecretReader func(ctx context.Context, namespace, name, key string) ([]byte, error)

// SecretsOf is the SecretReader that reads with c (for the operator, an uncached reader, so that Secrets
// are not cached).
func SecretsOf(c client.Reader) SecretReader {
	return func(ctx context.Context, namespace, name, key string) ([]byte, error) {
		var s corev1.Secret
		if err := c.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, &s); err != nil {
			return nil, fmt.Errorf("read Secret %s/%s: %w", namespace, name, err)
		}
		v, ok := s.Data[key]
		if !ok {
			return nil, fmt.Errorf("secret %s/%s has no key %q", namespace, name, key)
		}
		return v, nil
	}
}

// PipelineEndpoint is how to reach and log in to p's ClickHouse: its native addresses (every external
// host, or the managed installation's Service), the user of spec.clickhouse.credentials with the password
// read from its Secret, and the TLS of spec.clickhouse.external.tls with its Secrets. The operator and the
// kubectl plugin both use it; read decides how Secrets are read (and with whose permissions).
func PipelineEndpoint(ctx context.Context, p *v1alpha1.AuditPipeline, read SecretReader) (Endpoint, error) {
	spec := &p.Spec.ClickHouse
	password, err := read(ctx, p.Namespace, spec.Credentials.PasswordSecretRef.Name, spec.Credentials.PasswordSecretRef.Key)
	if err != nil {
		return Endpoint{}, err
	}
	ep := Endpoint{Addrs: render.ClickHouseNativeAddrs(p), Database: "default",
		Username: spec.Credentials.Username, Password: string(password)}
	if spec.External == nil {
		return ep, nil
	}
	if t := spec.External.TLS; t != nil {
		var ca, cert, key []byte
		if t.CASecretRef != nil {
			if ca, err = read(ctx, p.Namespace, t.CASecretRef.Name, t.CASecretRef.Key); err != nil {
				return Endpoint{}, err
			}
		}
		if t.ClientCertSecretRef != nil {
			if cert, err = read(ctx, p.Namespace, t.ClientCertSecretRef.Name, corev1.TLSCertKey); err != nil {
				return Endpoint{}, err
			}
			if key, err = read(ctx, p.Namespace, t.ClientCertSecretRef.Name, corev1.TLSPrivateKeyKey); err != nil {
				return Endpoint{}, err
			}
		}
		if ep.TLS, err = TLSConfig(spec.External.Hosts[0], ca, cert, key, t.InsecureSkipVerify); err != nil {
			return Endpoint{}, fmt.Errorf("spec.clickhouse.external.tls: %w", err)
		}
	}
	return ep, nil
}
