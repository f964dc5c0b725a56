package servingcert

import (
	"bytes"
	"context"
	"maps"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// managedBy labels the Secrets the Rotator creates.
var managedBy = map[string]string{"app.kubernetes.io/managed-by": "auditpipeline-operator"}

// getSecret reads a Secret of the namespace; nil when it does not exist.
func (r *Rotator) getSecret(ctx context.Context, name string) (*corev1.Secret, error) {
	s := &corev1.Secret{}
	err := r.opts.Reader.Get(ctx, client.ObjectKey{Namespace: r.opts.Namespace, Name: name}, s)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, wrap(err, "get", "Secret", name)
	}
	return s, nil
}

// writeSecret makes the Secret name (existing is what was read, or nil) hold exactly data, with type typ.
// It updates with existing's resourceVersion, so a concurrent writer makes it fail with a conflict. It
// returns the Secret written, or nil when nothing changed.
func (r *Rotator) writeSecret(ctx context.Context, existing *corev1.Secret, name string, typ corev1.SecretType, data map[string][]byte) (*corev1.Secret, error) {
	c := r.opts.Client
	if existing != nil && (existing.Type != typ || ptr.Deref(existing.Immutable, false)) {
		// Neither the type nor immutability can be changed: replace the Secret.
		pre := client.Preconditions{UID: &existing.UID, ResourceVersion: &existing.ResourceVersion}
		if err := c.Delete(ctx, existing, pre); err != nil && !apierrors.IsNotFound(err) {
			return nil, wrap(err, "replace", "Secret", name)
		}
		existing = nil
	}
	if existing == nil {
		s := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: r.opts.Namespace, Name: name, Labels: maps.Clone(managedBy)},
			Type:       typ,
			Data:       data,
		}
		return s, wrap(c.Create(ctx, s), "create", "Secret", name)
	}
	if maps.EqualFunc(existing.Data, data, bytes.Equal) {
		return nil, nil
	}
	s := existing.DeepCopy()
	s.Data = data
	return s, wrap(c.Update(ctx, s), "update", "Secret", name)
}
