package kind

import (
	"encoding/pem"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
	"github.com/auditpipeline/auditpipeline-operator/internal/render/vector"
)

// TestKubeAPIServerTakesTheRenderedWebhookFile gives kube-apiserver the webhook file the operator renders
// for a pipeline with spec.collector.webhook.tls (the ConfigMap's audit-webhook.yaml), with only what a
// cluster administrator would change for this machine: the CA copied to a path of the test's instead of
// vector.WebhookCAFile, and the Service's name replaced by the address of a local TLS server whose
// certificate that CA signed. The API server must trust it and post the audit events there over TLS.
func TestKubeAPIServerTakesTheRenderedWebhookFile(t *testing.T) {
	t.Parallel()
	hook := &webhook{}
	srv := httptest.NewUnstartedServer(hook)
	srv.StartTLS()
	t.Cleanup(srv.Close)

	p := &v1alpha1.AuditPipeline{ObjectMeta: metav1.ObjectMeta{Name: "cluster-audit", Namespace: "audit"}}
	p.Spec.Collector.Webhook.TLS = &v1alpha1.SecretReference{Name: "webhook-tls"}
	c, err := vector.RenderCollector(p, "kind")
	if err != nil {
		t.Fatal(err)
	}
	file := c.WebhookConfig.Data[vector.WebhookConfigKey]
	if !strings.HasPrefix(c.WebhookURL, "https://") || !strings.Contains(file, c.WebhookURL) || !strings.Contains(file, vector.WebhookCAFile) {
		t.Fatalf("the rendered webhook file does not name %s and %s:\n%s", c.WebhookURL, vector.WebhookCAFile, file)
	}
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	path := strings.TrimPrefix(c.WebhookURL, "https://")
	path = path[strings.Index(path, "/"):]
	file = strings.Replace(file, c.WebhookURL, srv.URL+path, 1)
	file = strings.Replace(file, vector.WebhookCAFile, ca, 1)
	webhookFile := filepath.Join(dir, "webhook.yaml")
	if err := os.WriteFile(webhookFile, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}

	k8s, _ := startAuditedAPIServer(t, nil, map[string]string{
		"audit-webhook-config-file":    webhookFile,
		"audit-webhook-batch-max-wait": "1s",
	})
	name := probeName("tls")
	createAndDelete(t, t.Context(), k8s, name)
	waitFor(t, 30*time.Second, "delivery over TLS", func() bool { return slices.ContainsFunc(hook.received(), created(name)) })
	if hook.badRequests() > 0 {
		t.Errorf("%d posts were not EventList batches on POST %s", hook.badRequests(), path)
	}
}
