package servingcert

import (
	"context"
	"encoding/base64"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// apiServiceGVK is kube-apiserver's built-in APIService, read as unstructured: no kube-aggregator module.
var apiServiceGVK = schema.GroupVersionKind{Group: "apiregistration.k8s.io", Version: "v1", Kind: "APIService"}

// ensureAPIServices sets every APIService's spec.caBundle to bundle with a merge patch guarded by the
// resourceVersion. An APIService that does not exist yet is skipped and reported as missing.
func (r *Rotator) ensureAPIServices(ctx context.Context, bundle []byte) (missing bool, err error) {
	want := base64.StdEncoding.EncodeToString(bundle)
	for _, name := range r.opts.APIServiceNames {
		obj := &unstructured.Unstructured{}
		obj.SetGroupVersionKind(apiServiceGVK)
		err := r.opts.Reader.Get(ctx, client.ObjectKey{Name: name}, obj)
		if err == nil {
			err = r.patchCABundle(ctx, obj, want)
		}
		if apierrors.IsNotFound(err) {
			r.logger(ctx).Info("APIService not found yet: its caBundle will be set when it exists", "apiService", name)
			missing = true
			continue
		}
		if err != nil {
			return false, wrap(err, "set the caBundle of", "APIService", name)
		}
	}
	return missing, nil
}

// patchCABundle patches obj's spec.caBundle to want (base64) unless it holds it already.
func (r *Rotator) patchCABundle(ctx context.Context, obj *unstructured.Unstructured, want string) error {
	current, _, _ := unstructured.NestedString(obj.Object, "spec", "caBundle")
	if current == want {
		return nil
	}
	original := obj.DeepCopy()
	if err := unstructured.SetNestedField(obj.Object, want, "spec", "caBundle"); err != nil {
		return err
	}
	return r.opts.Client.Patch(ctx, obj, client.MergeFromWithOptions(original, client.MergeFromWithOptimisticLock{}))
}
