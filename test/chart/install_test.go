package chart

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// TestHelmInstallAndUninstall runs `helm install` against the API server, the way users do (Helm's own
// ordering, its check that every kind exists, the crds/ folder, NOTES.txt), then `helm uninstall`.
func TestHelmInstallAndUninstall(t *testing.T) {
	ctx := context.Background()
	kubeconfig := writeKubeconfig(t)
	const name, ns = "installed", "chart-install"
	out := runHelm(t, append([]string{"install", name, chartDir, "--kubeconfig", kubeconfig, "--namespace", ns,
		"--create-namespace"}, withMonitoring...)...)
	for _, want := range []string{"STATUS: deployed", "rollout status deployment/installed-auditpipeline-operator"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("helm install printed no %q:\n%s", want, out)
		}
	}
	key := client.ObjectKey{Namespace: ns, Name: "installed-auditpipeline-operator"}
	if err := k8s.Get(ctx, key, &appsv1.Deployment{}); err != nil {
		t.Fatalf("after helm install: %v", err)
	}
	runHelm(t, "uninstall", name, "--kubeconfig", kubeconfig, "--namespace", ns, "--wait")
	if err := k8s.Get(ctx, key, &appsv1.Deployment{}); !apierrors.IsNotFound(err) {
		t.Errorf("after helm uninstall, the Deployment: %v", err)
	}
}

// writeKubeconfig writes a kubeconfig for the test control plane's admin.
func writeKubeconfig(t *testing.T) string {
	t.Helper()
	cfg := env.Config
	kc := clientcmdapi.NewConfig()
	kc.Clusters["envtest"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["admin"] = &clientcmdapi.AuthInfo{ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData,
		Token: cfg.BearerToken}
	kc.Contexts["envtest"] = &clientcmdapi.Context{Cluster: "envtest", AuthInfo: "admin"}
	kc.CurrentContext = "envtest"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		t.Fatal(err)
	}
	return path
}
