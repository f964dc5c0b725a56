package vector

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
)

// The NATS client both Vector roles configure, the collector's sink and the aggregator's source alike:
// the servers, a connection name, and the credentials file and TLS files read from the referenced
// Secrets, with the mounts that put those Secrets where the configuration reads them. clientTLS and
// tlsMounts serve the aggregator's ClickHouse client too.

// Where the Secrets of the clients are mounted (under secretsDir), and the files read from them.
const (
	natsCredentialsDir  = secretsDir + "/nats-credentials"
	natsCredentialsFile = "nats.creds"
	natsCADir           = secretsDir + "/nats-ca"
	natsClientDir       = secretsDir + "/nats-client"
	caFile              = "ca.crt"
)

// natsURL is the comma-separated server list Vector's nats components accept.
func natsURL(p *v1alpha1.AuditPipeline) string {
	return strings.Join(p.Spec.NATS.Servers, ",")
}

// natsClient is the authentication and TLS of a NATS client, reading the files mounted from the
// referenced Secrets.
func natsClient(p *v1alpha1.AuditPipeline) (*NATSAuth, *TLS) {
	n := &p.Spec.NATS
	var auth *NATSAuth
	if n.CredentialsSecretRef != nil {
		auth = &NATSAuth{Strategy: "credentials_file",
			CredentialsFile: &CredentialsFile{Path: natsCredentialsDir + "/" + natsCredentialsFile}}
	}
	var tls *TLS
	if n.TLS != nil {
		tls = clientTLS(n.TLS, natsCADir, natsClientDir)
		tls.Enabled = ptr.To(true)
	}
	return auth, tls
}

// connectionName names the NATS connections of one pipeline's component, for NATS monitoring.
func connectionName(p *v1alpha1.AuditPipeline, component string) string {
	return fmt.Sprintf("auditpipeline/%s/%s/%s", p.Namespace, p.Name, component)
}

// clientTLS is Vector's TLS block for a client with the given spec and Secret mount directories.
func clientTLS(spec *v1alpha1.TLSSpec, caDir, clientDir string) *TLS {
	tls := &TLS{}
	if spec.CASecretRef != nil {
		tls.CAFile = caDir + "/" + caFile
	}
	if spec.ClientCertSecretRef != nil {
		tls.CrtFile, tls.KeyFile = clientDir+"/tls.crt", clientDir+"/tls.key"
	}
	if spec.InsecureSkipVerify {
		tls.VerifyCertificate, tls.VerifyHostname = ptr.To(false), ptr.To(false)
	}
	return tls
}

// natsMounts are the Secrets every NATS client of the pipeline reads.
func natsMounts(p *v1alpha1.AuditPipeline) []secretMount {
	var mounts []secretMount
	if ref := p.Spec.NATS.CredentialsSecretRef; ref != nil {
		mounts = append(mounts, secretMount{"nats-credentials", natsCredentialsDir, ref.Name,
			[]corev1.KeyToPath{{Key: ref.Key, Path: natsCredentialsFile}}})
	}
	return append(mounts, tlsMounts("nats", p.Spec.NATS.TLS, natsCADir, natsClientDir)...)
}

// tlsMounts are the Secrets of a TLS client spec, at the directories clientTLS points Vector at.
func tlsMounts(prefix string, spec *v1alpha1.TLSSpec, caDir, clientDir string) []secretMount {
	if spec == nil {
		return nil
	}
	var mounts []secretMount
	if ref := spec.CASecretRef; ref != nil {
		mounts = append(mounts, secretMount{prefix + "-ca", caDir, ref.Name,
			[]corev1.KeyToPath{{Key: ref.Key, Path: caFile}}})
	}
	if ref := spec.ClientCertSecretRef; ref != nil {
		mounts = append(mounts, secretMount{prefix + "-client", clientDir, ref.Name, tlsPairItems()})
	}
	return mounts
}
