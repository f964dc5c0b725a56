package controller

import (
	"context"
	"errors"
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
	"github.com/auditpipeline/auditpipeline-operator/internal/render/vector"
	"github.com/auditpipeline/auditpipeline-operator/internal/secretvalue"
)

// secretRefsIndex is the field index of AuditPipelines by the names of the Secrets they reference.
const secretRefsIndex = ".spec.secretRefs"

// secretRequirement is a Secret a component needs, the keys it must hold, and the spec field naming it.
type secretRequirement struct {
	field string
	name  string
	keys  []string
	// usable, when set, says why the component cannot take a key's value (nil when it can).
	usable func(key string, value []byte) error
}

// missingSecretError says which referenced Secret or key does not exist.
type missingSecretError struct {
	req secretRequirement
	key string
}

func (e *missingSecretError) Error() string {
	if e.key == "" {
		return fmt.Sprintf("Secret %q named by %s does not exist", e.req.name, e.req.field)
	}
	return fmt.Sprintf("Secret %q named by %s has no key %q", e.req.name, e.req.field, e.key)
}

// unusableSecretError says which referenced Secret key holds a value its component cannot take, and
// why, without the value.
type unusableSecretError struct {
	req secretRequirement
	key string
	err error
}

func (e *unusableSecretError) Error() string {
	return fmt.Sprintf("the value of key %q of Secret %q, named by %s, %v", e.key, e.req.name, e.req.field, e.err)
}

func keyRef(field string, ref *v1alpha1.SecretKeyReference, usable func(string, []byte) error) []secretRequirement {
	if ref == nil {
		return nil
	}
	return []secretRequirement{{field: field, name: ref.Name, keys: []string{ref.Key}, usable: usable}}
}

func tlsRefs(field string, tls *v1alpha1.TLSSpec) []secretRequirement {
	if tls == nil {
		return nil
	}
	reqs := keyRef(field+".caSecretRef", tls.CASecretRef, secretvalue.PEMCertificate)
	if tls.ClientCertSecretRef != nil {
		reqs = append(reqs, secretRequirement{field: field + ".clientCertSecretRef", name: tls.ClientCertSecretRef.Name,
			keys: []string{corev1.TLSCertKey, corev1.TLSPrivateKeyKey}, usable: secretvalue.TLSPair})
	}
	return reqs
}

// passwordField names the ClickHouse password's Secret key.
const passwordField = "spec.clickhouse.credentials.passwordSecretRef"

// clickHouseSecrets are the Secrets the operator needs to run and reach ClickHouse.
func clickHouseSecrets(p *v1alpha1.AuditPipeline) []secretRequirement {
	ch := &p.Spec.ClickHouse
	reqs := keyRef(passwordField, &ch.Credentials.PasswordSecretRef, nil)
	if ch.External != nil {
		reqs = append(reqs, tlsRefs("spec.clickhouse.external.tls", ch.External.TLS)...)
	}
	if ch.Storage != nil && ch.Storage.Cold != nil {
		reqs = append(reqs, secretRequirement{field: "spec.clickhouse.storage.cold.credentialsSecretRef",
			name: ch.Storage.Cold.CredentialsSecretRef.Name, keys: []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"},
			usable: secretvalue.S3Key})
	}
	return reqs
}

// natsSecrets are the Secrets every NATS client of the pipeline needs.
func natsSecrets(p *v1alpha1.AuditPipeline) []secretRequirement {
	reqs := keyRef("spec.nats.credentialsSecretRef", p.Spec.NATS.CredentialsSecretRef, secretvalue.CredsFile)
	return append(reqs, tlsRefs("spec.nats.tls", p.Spec.NATS.TLS)...)
}

// collectorSecrets are the Secrets the Vector agent needs.
func collectorSecrets(p *v1alpha1.AuditPipeline) []secretRequirement {
	reqs := natsSecrets(p)
	if tls := p.Spec.Collector.Webhook.TLS; tls != nil {
		reqs = append(reqs, secretRequirement{field: "spec.collector.webhook.tls", name: tls.Name,
			keys: []string{corev1.TLSCertKey, corev1.TLSPrivateKeyKey}, usable: secretvalue.TLSPair})
	}
	return reqs
}

// aggregatorSecrets are the Secrets the Vector aggregator needs. Vector substitutes the ClickHouse
// password into its configuration's text, so the password must be text it can take there.
func aggregatorSecrets(p *v1alpha1.AuditPipeline) []secretRequirement {
	reqs := append(natsSecrets(p), clickHouseSecrets(p)...)
	for i := range reqs {
		if reqs[i].field == passwordField {
			reqs[i].usable = checkAggregatorPassword
		}
	}
	return reqs
}

func checkAggregatorPassword(_ string, value []byte) error {
	if err := vector.CheckEnvText(value); err != nil {
		return fmt.Errorf("%w, which the Vector aggregator cannot read into its configuration's text", err)
	}
	return nil
}

// referencedSecretNames lists every Secret p names, for the field index.
func referencedSecretNames(p *v1alpha1.AuditPipeline) []string {
	seen := map[string]bool{}
	for _, r := range append(aggregatorSecrets(p), collectorSecrets(p)...) {
		seen[r.name] = true
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// checkSecrets verifies that every required Secret and key exists. It reads through the API reader so the
// operator never caches Secret data; a *missingSecretError says what is missing.
func (r *AuditPipelineReconciler) checkSecrets(ctx context.Context, namespace string, reqs []secretRequirement) error {
	for _, req := range reqs {
		var s corev1.Secret
		err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: namespace, Name: req.name}, &s)
		if apierrors.IsNotFound(err) {
			return &missingSecretError{req: req}
		}
		if err != nil {
			return fmt.Errorf("get Secret %s/%s: %w", namespace, req.name, err)
		}
		for _, k := range req.keys {
			value, ok := s.Data[k]
			if !ok {
				return &missingSecretError{req: req, key: k}
			}
			if req.usable == nil {
				continue
			}
			if err := req.usable(k, value); err != nil {
				return &unusableSecretError{req: req, key: k, err: err}
			}
		}
	}
	return nil
}

// requireSecrets checks reqs and, when one is missing, returns ok=false with a SecretNotFound outcome
// (SecretUnusable when a value cannot be used) for the step's condition. Other errors are returned for
// backoff.
func (r *AuditPipelineReconciler) requireSecrets(ctx context.Context, p *v1alpha1.AuditPipeline, reqs []secretRequirement) (bool, error) {
	err := r.checkSecrets(ctx, p.Namespace, reqs)
	var missing *missingSecretError
	var unusable *unusableSecretError
	switch {
	case errors.As(err, &missing):
		return false, notReady(v1alpha1.ReasonSecretNotFound, "%s; create it in namespace %s", missing.Error(), p.Namespace)
	case errors.As(err, &unusable):
		fix := "; fix the value in the Secret"
		if unusable.req.field == passwordField {
			fix = "; change the password, in ClickHouse and in the Secret (until then an aggregator pod that restarts cannot load its configuration)"
		}
		return false, notReady(v1alpha1.ReasonSecretUnusable, "%s%s", unusable.Error(), fix)
	case err != nil:
		return false, err
	}
	return true, nil
}

// pipelinesForSecret maps a Secret event to the AuditPipelines in its namespace that reference it.
func (r *AuditPipelineReconciler) pipelinesForSecret(ctx context.Context, obj client.Object) []reconcile.Request {
	var list v1alpha1.AuditPipelineList
	if err := r.List(ctx, &list, client.InNamespace(obj.GetNamespace()),
		client.MatchingFields{secretRefsIndex: obj.GetName()}); err != nil {
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(list.Items))
	for _, p := range list.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&p)})
	}
	return reqs
}
