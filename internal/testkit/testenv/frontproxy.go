package testenv

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// Option changes how Start configures the control plane.
type Option func(*envtest.Environment, string) error

// FrontProxyClientName is the common name of the certificate kube-apiserver presents to aggregated API
// servers (--proxy-client-cert-file), which they accept (--requestheader-allowed-names).
const FrontProxyClientName = "front-proxy-client"

// WithAggregation configures kube-apiserver as a cluster's is for aggregated API servers: a front-proxy CA
// and client certificate, the request headers that carry the user, published in
// kube-system/extension-apiserver-authentication for the aggregated servers' delegated authentication.
func WithAggregation() Option {
	return func(env *envtest.Environment, dir string) error {
		caCert, caKey, err := newCert(nil, nil, pkix.Name{CommonName: "front-proxy-ca"}, true, nil)
		if err != nil {
			return err
		}
		clientCert, clientKey, err := newCert(caCert, caKey, pkix.Name{CommonName: FrontProxyClientName}, false,
			[]x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth})
		if err != nil {
			return err
		}
		files := map[string][]byte{"front-proxy-ca.crt": pemCert(caCert), "front-proxy-client.crt": pemCert(clientCert)}
		if files["front-proxy-client.key"], err = pemKey(clientKey); err != nil {
			return err
		}
		for name, b := range files {
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
				return err
			}
		}
		args := env.ControlPlane.GetAPIServer().Configure()
		args.Set("requestheader-client-ca-file", filepath.Join(dir, "front-proxy-ca.crt"))
		args.Set("requestheader-allowed-names", FrontProxyClientName)
		args.Set("requestheader-username-headers", "X-Remote-User")
		args.Set("requestheader-group-headers", "X-Remote-Group")
		args.Set("requestheader-extra-headers-prefix", "X-Remote-Extra-")
		args.Set("proxy-client-cert-file", filepath.Join(dir, "front-proxy-client.crt"))
		args.Set("proxy-client-key-file", filepath.Join(dir, "front-proxy-client.key"))
		return nil
	}
}

// WriteKubeconfig writes a kubeconfig of e.Config (a cluster admin) to path, for programs that take a
// kubeconfig file.
func (e *Env) WriteKubeconfig(path string) error {
	return WriteKubeconfig(e.Config, path)
}

// WriteKubeconfig writes a kubeconfig of cfg (client certificate or token) to path, its namespace
// "default", creating path's directory.
func WriteKubeconfig(cfg *rest.Config, path string) error {
	kc := clientcmdapi.NewConfig()
	kc.Clusters["local"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["local"] = &clientcmdapi.AuthInfo{ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData, Token: cfg.BearerToken}
	kc.Contexts["local"] = &clientcmdapi.Context{Cluster: "local", AuthInfo: "local", Namespace: "default"}
	kc.CurrentContext = "local"
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return clientcmd.WriteToFile(*kc, path)
}

// newCert makes a certificate: a self-signed CA when parent is nil, else one signed by parent.
func newCert(parent *x509.Certificate, parentKey *ecdsa.PrivateKey, subject pkix.Name, ca bool, usage []x509.ExtKeyUsage) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: subject, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: usage}
	if ca {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage |= x509.KeyUsageCertSign
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		return nil, nil, fmt.Errorf("create certificate %s: %w", subject.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	return cert, key, err
}

func pemCert(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

func pemKey(k *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), nil
}
