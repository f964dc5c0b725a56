package vector

import (
	"fmt"

	clientcmdv1 "k8s.io/client-go/tools/clientcmd/api/v1"
	"sigs.k8s.io/yaml"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
)

// WebhookConfigKey is the key of the kubeconfig-format webhook configuration in its ConfigMap: the file
// kube-apiserver's --audit-webhook-config-file names.
const WebhookConfigKey = "audit-webhook.yaml"

// WebhookCAFile is where the webhook configuration expects, on each control-plane host, the CA that
// signed the collector's webhook certificate (spec.collector.webhook.tls). Copy ca.crt there; the
// operator never copies Secret data into ConfigMaps.
const WebhookCAFile = "/etc/kubernetes/audit/auditpipeline-webhook-ca.crt"

// WebhookURL is the URL of the collector's webhook through its Service:
// http(s)://<service>.<namespace>.svc:<port><path>.
func WebhookURL(p *v1alpha1.AuditPipeline) string {
	scheme := "http"
	if p.Spec.Collector.Webhook.TLS != nil {
		scheme = "https"
	}
	return fmt.Sprintf("%s://%s.%s.svc:%d%s", scheme, NamesFor(p).Collector, p.Namespace, webhookPort(p), webhookPath(p))
}

// WebhookKubeconfig renders the kubeconfig-format file kube-apiserver reads with
// --audit-webhook-config-file: one cluster whose server is url, and a user without credentials (the
// collector does not authenticate the API server; keep its Service reachable only from the control
// plane).
func WebhookKubeconfig(p *v1alpha1.AuditPipeline, url string) ([]byte, error) {
	const name = "auditpipeline"
	cluster := clientcmdv1.Cluster{Server: url}
	if p.Spec.Collector.Webhook.TLS != nil {
		cluster.CertificateAuthority = WebhookCAFile
	}
	cfg := clientcmdv1.Config{
		Kind:           "Config",
		APIVersion:     "v1",
		Clusters:       []clientcmdv1.NamedCluster{{Name: name, Cluster: cluster}},
		AuthInfos:      []clientcmdv1.NamedAuthInfo{{Name: name}},
		Contexts:       []clientcmdv1.NamedContext{{Name: name, Context: clientcmdv1.Context{Cluster: name, AuthInfo: name}}},
		CurrentContext: name,
	}
	out, err := yaml.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("render audit webhook kubeconfig: %w", err)
	}
	return out, nil
}
