// Package auditapitest runs the audit API server (internal/auditapi) behind a real kube-apiserver's
// aggregator for tests: the control plane of testenv.WithAggregation, the server on loopback, an
// ExternalName Service the aggregator resolves to it, the APIService, and the serving certificate the
// operator issues (internal/servingcert).
package auditapitest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	auditv1alpha1 "github.com/auditpipeline/auditpipeline-operator/api/audit/v1alpha1"
	"github.com/auditpipeline/auditpipeline-operator/internal/auditapi"
	"github.com/auditpipeline/auditpipeline-operator/internal/servingcert"
	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/testenv"
)

// apiServiceNamespace and apiServiceName are where the test registers the server, as the chart does.
const (
	apiServiceNamespace = "auditpipeline-system"
	apiServiceName      = "auditpipeline-audit-api"
)

// Server is an audit API server Start registered with kube-apiserver.
type Server struct {
	// Addr is where it listens (127.0.0.1:port).
	Addr string
	// Stop stops the server and removes what Start created.
	Stop func() error
}

// Serve is Start for a test: it fails the test if the server cannot start, and stops it when the test
// ends. It returns the server's address.
func Serve(t testing.TB, env *testenv.Env, k8s client.Client, src auditapi.Source) string {
	t.Helper()
	dir := t.TempDir()
	s, err := Start(env, k8s, src, dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Error(err)
		}
	})
	return s.Addr
}

// Start starts the audit API server on loopback for src and registers it with kube-apiserver (of a
// control plane started with testenv.WithAggregation) as the chart does in a cluster: an ExternalName
// Service (localhost) the aggregator resolves, the APIService, and the serving certificate the operator
// issues (internal/servingcert) in files under dir. It returns when the APIService is Available.
// Authorization decisions are cached for cacheTTL (0: not at all, for tests that change RoleBindings).
func Start(env *testenv.Env, k8s client.Client, src auditapi.Source, dir string, cacheTTL time.Duration) (*Server, error) {
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := env.WriteKubeconfig(kubeconfig); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	bg := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: apiServiceNamespace}}
	if err := k8s.Create(bg, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, err
	}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: apiServiceName, Namespace: apiServiceNamespace},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "localhost"}}
	port := int64(ln.Addr().(*net.TCPAddr).Port)
	apisvc := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
		"metadata": map[string]any{"name": "v1alpha1." + auditv1alpha1.Group},
		"spec": map[string]any{"group": auditv1alpha1.Group, "version": "v1alpha1",
			"service":              map[string]any{"namespace": apiServiceNamespace, "name": apiServiceName, "port": port},
			"groupPriorityMinimum": int64(1000), "versionPriority": int64(15)},
	}}
	secrets := []*corev1.Secret{
		{ObjectMeta: metav1.ObjectMeta{Namespace: apiServiceNamespace, Name: apiServiceName + "-tls"}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: apiServiceNamespace, Name: apiServiceName + "-tls-ca"}},
	}
	remove := func() error {
		var errs []error
		for _, o := range []client.Object{apisvc, svc, secrets[0], secrets[1]} {
			if err := k8s.Delete(bg, o); err != nil && !apierrors.IsNotFound(err) {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	}
	fail := func(err error) (*Server, error) {
		_ = ln.Close()
		return nil, errors.Join(err, remove())
	}
	if err := k8s.Create(bg, svc); err != nil {
		return fail(err)
	}
	if err := k8s.Create(bg, apisvc); err != nil {
		return fail(err)
	}
	// The serving certificate as the operator issues it when cert-manager is not used: the rotator writes
	// the Secret and the APIService's caBundle, and the server reads the Secret's files.
	rot, err := servingcert.New(servingcert.Options{Namespace: apiServiceNamespace, SecretName: secrets[0].Name,
		ServiceName: apiServiceName, APIServiceNames: []string{apisvc.GetName()}, Client: k8s})
	if err != nil {
		return fail(err)
	}
	if _, err := rot.Ensure(bg); err != nil {
		return fail(err)
	}
	var tlsSecret corev1.Secret
	if err := k8s.Get(bg, client.ObjectKeyFromObject(secrets[0]), &tlsSecret); err != nil {
		return fail(err)
	}
	if err := os.WriteFile(certFile, tlsSecret.Data[corev1.TLSCertKey], 0o600); err != nil {
		return fail(err)
	}
	if err := os.WriteFile(keyFile, tlsSecret.Data[corev1.TLSPrivateKeyKey], 0o600); err != nil {
		return fail(err)
	}
	o := auditapi.NewServerOptions()
	o.SecureServing.Listener = ln
	o.SecureServing.BindAddress = net.ParseIP("127.0.0.1")
	o.SecureServing.BindPort = ln.Addr().(*net.TCPAddr).Port
	o.SecureServing.ServerCert.CertKey.CertFile, o.SecureServing.ServerCert.CertKey.KeyFile = certFile, keyFile
	o.Authentication.RemoteKubeConfigFile = kubeconfig
	o.Authorization.RemoteKubeConfigFile = kubeconfig
	o.Authorization.AllowCacheTTL, o.Authorization.DenyCacheTTL = cacheTTL, cacheTTL
	server, err := auditapi.NewServer(o, src, time.Now)
	if err != nil {
		return fail(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- server.PrepareRun().RunWithContext(ctx) }()
	s := &Server{Addr: ln.Addr().String(), Stop: func() error {
		cancel()
		var err error
		select {
		case err = <-done:
		case <-time.After(90 * time.Second):
			err = errors.New("the audit API server did not stop")
		}
		return errors.Join(err, remove())
	}}
	deadline := time.Now().Add(60 * time.Second)
	for {
		got := &unstructured.Unstructured{}
		got.SetGroupVersionKind(schema.GroupVersionKind{Group: "apiregistration.k8s.io", Version: "v1", Kind: "APIService"})
		if err := k8s.Get(bg, types.NamespacedName{Name: apisvc.GetName()}, got); err != nil {
			return nil, errors.Join(err, s.Stop())
		}
		conds, _, _ := unstructured.NestedSlice(got.Object, "status", "conditions")
		for _, c := range conds {
			if m := c.(map[string]any); m["type"] == "Available" && m["status"] == "True" {
				return s, nil
			}
		}
		if time.Now().After(deadline) {
			return nil, errors.Join(fmt.Errorf("APIService %s is not Available: %v", apisvc.GetName(), conds), s.Stop())
		}
		time.Sleep(200 * time.Millisecond)
	}
}
