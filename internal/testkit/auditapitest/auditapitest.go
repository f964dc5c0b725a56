// Package auditapitest runs the audit API server (internal/auditapi) behind a real kube-apiserver's
// aggregator for tests: the control plane of testenv.WithAggregation, the server on loopback, an
// ExternalName Service the aggregator resolves to it, the APIService, and the serving certificate the
// operator issues (internal/servingcert).
package auditapitest

import (
	"context"
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

// Serve starts the audit API server on loopback for src and registers it with kube-apiserver: an
// ExternalName Service (localhost) the aggregator resolves, and the APIService with the serving CA. It
// returns the server's address when the APIService is Available.
func Serve(t testing.TB, env *testenv.Env, k8s client.Client, src auditapi.Source) string {
	t.Helper()
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	kubeconfig := filepath.Join(dir, "kubeconfig")
	must(t, env.WriteKubeconfig(kubeconfig))

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	bg := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: apiServiceNamespace}}
	if err := k8s.Create(bg, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: apiServiceName, Namespace: apiServiceNamespace},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "localhost"}}
	must(t, k8s.Create(bg, svc))
	port := int64(ln.Addr().(*net.TCPAddr).Port)
	apisvc := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
		"metadata": map[string]any{"name": "v1alpha1." + auditv1alpha1.Group},
		"spec": map[string]any{"group": auditv1alpha1.Group, "version": "v1alpha1",
			"service":              map[string]any{"namespace": apiServiceNamespace, "name": apiServiceName, "port": port},
			"groupPriorityMinimum": int64(1000), "versionPriority": int64(15)},
	}}
	must(t, k8s.Create(bg, apisvc))
	// The serving certificate as the operator issues it when cert-manager is not used: the rotator writes
	// the Secret and the APIService's caBundle, and the server reads the Secret's files.
	rot, err := servingcert.New(servingcert.Options{Namespace: apiServiceNamespace, SecretName: apiServiceName + "-tls",
		ServiceName: apiServiceName, APIServiceNames: []string{apisvc.GetName()}, Client: k8s})
	must(t, err)
	_, err = rot.Ensure(bg)
	must(t, err)
	var tlsSecret corev1.Secret
	must(t, k8s.Get(bg, types.NamespacedName{Namespace: apiServiceNamespace, Name: apiServiceName + "-tls"}, &tlsSecret))
	must(t, os.WriteFile(certFile, tlsSecret.Data[corev1.TLSCertKey], 0o600))
	must(t, os.WriteFile(keyFile, tlsSecret.Data[corev1.TLSPrivateKeyKey], 0o600))
	t.Cleanup(func() {
		_ = k8s.Delete(bg, apisvc)
		_ = k8s.Delete(bg, svc)
		_ = k8s.Delete(bg, &tlsSecret)
		_ = k8s.Delete(bg, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: apiServiceNamespace, Name: apiServiceName + "-tls-ca"}})
	})
	o := auditapi.NewServerOptions()
	o.SecureServing.Listener = ln
	o.SecureServing.BindAddress = net.ParseIP("127.0.0.1")
	o.SecureServing.BindPort = ln.Addr().(*net.TCPAddr).Port
	o.SecureServing.ServerCert.CertKey.CertFile, o.SecureServing.ServerCert.CertKey.KeyFile = certFile, keyFile
	o.Authentication.RemoteKubeConfigFile = kubeconfig
	o.Authorization.RemoteKubeConfigFile = kubeconfig
	// The test changes RoleBindings between requests: no cached decisions.
	o.Authorization.AllowCacheTTL, o.Authorization.DenyCacheTTL = 0, 0
	server, err := auditapi.NewServer(o, src, time.Now)
	must(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- server.PrepareRun().RunWithContext(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("audit API server: %v", err)
			}
		case <-time.After(90 * time.Second):
			t.Error("the audit API server did not stop")
		}
	})

	deadline := time.Now().Add(60 * time.Second)
	for {
		got := &unstructured.Unstructured{}
		got.SetGroupVersionKind(schema.GroupVersionKind{Group: "apiregistration.k8s.io", Version: "v1", Kind: "APIService"})
		must(t, k8s.Get(bg, types.NamespacedName{Name: apisvc.GetName()}, got))
		conds, _, _ := unstructured.NestedSlice(got.Object, "status", "conditions")
		for _, c := range conds {
			if m := c.(map[string]any); m["type"] == "Available" && m["status"] == "True" {
				return ln.Addr().String()
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("APIService %s is not Available: %v", apisvc.GetName(), conds)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
