package servingcert

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
)

const (
	service       = "auditpipeline-api"
	servingSecret = "auditpipeline-api-tls"
	caSecret      = "auditpipeline-api-tls-ca"
)

// fixture is a namespace, an APIService and a Rotator on a clock of the test's own. It records the
// Rotator's writes ("create <name>", "update <name>", "patch <name>", "delete <name>") and can run a hook
// before each.
type fixture struct {
	t          *testing.T
	ns         string
	apiService string
	now        time.Time
	rotator    *Rotator
	recorder   *events.FakeRecorder

	mu     sync.Mutex
	writes []string
	// before, when set, runs before each write the Rotator makes; verb is create, update, patch or delete.
	before func(verb string, obj client.Object)
}

// newFixture makes a namespace and the Rotator for it and APIService v1alpha1.<group>, which it creates
// when create is true.
func newFixture(t *testing.T, group string, create bool) *fixture {
	t.Helper()
	f := &fixture{t: t, now: t0, apiService: "v1alpha1." + group, recorder: events.NewFakeRecorder(100)}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "servingcert-"}}
	if err := k8s.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	f.ns = ns.Name
	if create {
		f.createAPIService()
	}
	t.Cleanup(func() {
		obj := &unstructured.Unstructured{}
		obj.SetGroupVersionKind(apiServiceGVK)
		obj.SetName(f.apiService)
		_ = client.IgnoreNotFound(k8s.Delete(context.Background(), obj))
	})
	base, err := client.NewWithWatch(restConfig, client.Options{Scheme: k8s.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	f.rotator, err = New(Options{
		Namespace:       f.ns,
		SecretName:      servingSecret,
		ServiceName:     service,
		APIServiceNames: []string{f.apiService},
		Now:             func() time.Time { return f.now },
		Client:          interceptor.NewClient(base, f.interceptors()),
		Recorder:        f.recorder,
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) interceptors() interceptor.Funcs {
	return interceptor.Funcs{
		Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			f.record("create", obj)
			return c.Create(ctx, obj, opts...)
		},
		Update: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.UpdateOption) error {
			f.record("update", obj)
			return c.Update(ctx, obj, opts...)
		},
		Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
			f.record("patch", obj)
			return c.Patch(ctx, obj, patch, opts...)
		},
		Delete: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.DeleteOption) error {
			f.record("delete", obj)
			return c.Delete(ctx, obj, opts...)
		},
	}
}

func (f *fixture) record(verb string, obj client.Object) {
	f.mu.Lock()
	f.writes = append(f.writes, verb+" "+obj.GetName())
	before := f.before
	f.mu.Unlock()
	if before != nil {
		before(verb, obj)
	}
}

func (f *fixture) createAPIService() {
	f.t.Helper()
	group := f.apiService[len("v1alpha1."):]
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiregistration.k8s.io/v1",
		"kind":       "APIService",
		"metadata":   map[string]any{"name": f.apiService},
		"spec": map[string]any{
			"group":                group,
			"version":              "v1alpha1",
			"service":              map[string]any{"namespace": f.ns, "name": service, "port": int64(443)},
			"groupPriorityMinimum": int64(1000),
			"versionPriority":      int64(15),
		},
	}}
	if err := k8s.Create(context.Background(), obj); err != nil {
		f.t.Fatal(err)
	}
}

// round runs Ensure and returns its next time and the writes it made.
func (f *fixture) round() (time.Time, []string) {
	f.t.Helper()
	f.mu.Lock()
	f.writes = nil
	f.mu.Unlock()
	next, err := f.rotator.Ensure(context.Background())
	if err != nil {
		f.t.Fatalf("Ensure at %s: %v", f.now, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return next, f.writes
}

// expectWrites fails unless got are the writes want, in order ("update serving", "patch api", ...).
func (f *fixture) expectWrites(step string, got []string, want ...string) {
	f.t.Helper()
	names := map[string]string{"serving": servingSecret, "ca": caSecret, "api": f.apiService}
	for i, w := range want {
		verb, what, _ := strings.Cut(w, " ")
		want[i] = verb + " " + names[what]
	}
	if !slices.Equal(got, want) {
		f.t.Errorf("%s: writes %q, want %q", step, got, want)
	}
}

// state is what the cluster holds after a round.
type state struct {
	serving, ca            *corev1.Secret
	apiServiceRV           string
	bundle                 []byte
	cert, caCert, previous []byte
}

// check reads the state and fails unless the serving certificate is what the aggregator trusts: it
// verifies against the APIService's caBundle for every DNS name of the Service (and for no other), its key
// matches, it is signed by the CA Secret's current CA, and the serving Secret's ca.crt is the caBundle.
func (f *fixture) check(step string) state {
	f.t.Helper()
	ctx := context.Background()
	var s state
	s.serving, s.ca = &corev1.Secret{}, &corev1.Secret{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: f.ns, Name: servingSecret}, s.serving); err != nil {
		f.t.Fatalf("%s: %v", step, err)
	}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: f.ns, Name: caSecret}, s.ca); err != nil {
		f.t.Fatalf("%s: %v", step, err)
	}
	api := f.getAPIService()
	s.apiServiceRV = api.GetResourceVersion()
	encoded, _, _ := unstructured.NestedString(api.Object, "spec", "caBundle")
	bundle, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil || len(bundle) == 0 {
		f.t.Fatalf("%s: caBundle %q: %v", step, encoded, err)
	}
	s.bundle, s.cert = bundle, s.serving.Data["tls.crt"]
	s.caCert, s.previous = s.ca.Data[KeyCACert], s.ca.Data[KeyPreviousCAs]
	if s.serving.Type != corev1.SecretTypeTLS {
		f.t.Errorf("%s: serving Secret of type %s", step, s.serving.Type)
	}
	if _, err := tls.X509KeyPair(s.cert, s.serving.Data["tls.key"]); err != nil {
		f.t.Errorf("%s: serving key pair: %v", step, err)
	}
	for _, name := range DNSNames(service, f.ns) {
		if err := verify(s.cert, bundle, name, f.now); err != nil {
			f.t.Errorf("%s: %s: %v", step, name, err)
		}
	}
	if err := verify(s.cert, bundle, service+".other.svc", f.now); err == nil {
		f.t.Errorf("%s: the certificate verified for another Service", step)
	}
	if err := verify(s.cert, s.caCert, service+"."+f.ns+".svc", f.now); err != nil {
		f.t.Errorf("%s: not signed by the current CA: %v", step, err)
	}
	if !bytes.Equal(s.serving.Data[KeyCABundle], bundle) {
		f.t.Errorf("%s: the serving Secret's ca.crt is not the caBundle", step)
	}
	return s
}

func (f *fixture) getAPIService() *unstructured.Unstructured {
	f.t.Helper()
	obj := &unstructured.Unstructured{}
	obj.SetGroupVersionKind(apiServiceGVK)
	if err := k8s.Get(context.Background(), client.ObjectKey{Name: f.apiService}, obj); err != nil {
		f.t.Fatal(err)
	}
	return obj
}

// events drains the recorded events.
func (f *fixture) events() []string {
	var out []string
	for {
		select {
		case e := <-f.recorder.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

// count is how many certificates a PEM bundle holds.
func count(t *testing.T, p []byte) int {
	t.Helper()
	certs, err := parseCertificates(p)
	if err != nil {
		t.Fatal(err)
	}
	return len(certs)
}

func validity(t *testing.T, p []byte) (time.Time, time.Time) {
	t.Helper()
	nb, na, err := Validity(p)
	if err != nil {
		t.Fatal(fmt.Errorf("validity: %w", err))
	}
	return nb, na
}
