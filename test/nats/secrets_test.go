package nats_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/natstest"
)

// TestCredentialsAndMutualTLSThroughAnAccount runs a JetStream server that accepts only clients with a
// certificate from its CA and a user JWT of its operator: NACK can reach it only with the credentials
// file and the certificates the pipeline references, which it reads from the Secrets named in the
// rendered Account.
func TestCredentialsAndMutualTLSThroughAnAccount(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	pki := newPKI(t)
	auth := newOperatorAuth(t)
	url := startSecureJetStream(t, pki, auth)

	ns := newNamespace(t)
	for _, s := range []*corev1.Secret{
		{ObjectMeta: metav1.ObjectMeta{Name: "nats-user", Namespace: ns}, Data: map[string][]byte{"audit.creds": auth.creds}},
		{ObjectMeta: metav1.ObjectMeta{Name: "nats-client-tls", Namespace: ns}, Type: corev1.SecretTypeTLS,
			Data: map[string][]byte{"ca.crt": pki.caPEM, corev1.TLSCertKey: pki.clientCertPEM, corev1.TLSPrivateKeyKey: pki.clientKeyPEM}},
	} {
		g.Expect(k8s.Create(ctx, s)).To(Succeed())
	}
	p := pipeline(ns, url, v1alpha1.DeletionPolicyRetain)
	p.Spec.NATS.CredentialsSecretRef = &v1alpha1.SecretKeyReference{Name: "nats-user", Key: "audit.creds"}
	p.Spec.NATS.TLS = &v1alpha1.TLSSpec{
		CASecretRef:         &v1alpha1.SecretKeyReference{Name: "nats-client-tls", Key: "ca.crt"},
		ClientCertSecretRef: &v1alpha1.SecretReference{Name: "nats-client-tls"},
	}
	g.Expect(k8s.Create(ctx, p)).To(Succeed())
	waitStreamReady(g, p)

	// Without the credentials the server turns a client away, so NACK did use them.
	_, err := nats.Connect(url, nats.Secure(pki.clientTLS()), nats.MaxReconnects(0))
	g.Expect(err).To(HaveOccurred())

	nc, err := nats.Connect(url, nats.Secure(pki.clientTLS()), nats.UserJWTAndSeed(auth.userJWT, string(auth.userSeed)))
	g.Expect(err).NotTo(HaveOccurred())
	defer nc.Close()
	js, err := jetstream.New(nc)
	g.Expect(err).NotTo(HaveOccurred())
	expectLiveConfig(g, js, time.Hour)
}

// startSecureJetStream runs a JetStream server that requires mutual TLS and operator-signed user JWTs.
func startSecureJetStream(t *testing.T, pki *testPKI, auth *operatorAuth) string {
	t.Helper()
	resolver := &server.MemAccResolver{}
	for pub, claim := range auth.accounts {
		if err := resolver.Store(pub, claim); err != nil {
			t.Fatal(err)
		}
	}
	s, err := natstest.StartJetStream(server.Options{StoreDir: t.TempDir(),
		TLS: true, TLSVerify: true, TLSTimeout: 5, TLSConfig: pki.serverTLS(),
		TrustedOperators: []*jwt.OperatorClaims{auth.operator}, AccountResolver: resolver,
		SystemAccount: auth.systemAccount,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	return fmt.Sprintf("tls://127.0.0.1:%d", s.Addr().(*net.TCPAddr).Port)
}

// operatorAuth is a NATS operator with a system account and an account with JetStream, whose user's
// credentials file the pipeline references.
type operatorAuth struct {
	operator      *jwt.OperatorClaims
	systemAccount string
	accounts      map[string]string // public key -> account JWT
	userJWT       string
	userSeed      []byte
	creds         []byte
}

func newOperatorAuth(t *testing.T) *operatorAuth {
	t.Helper()
	operatorKey := must(nkeys.CreateOperator())
	operator := jwt.NewOperatorClaims(must(operatorKey.PublicKey()))
	auth := &operatorAuth{operator: operator, accounts: map[string]string{}}
	systemKey := must(nkeys.CreateAccount())
	auth.systemAccount = must(systemKey.PublicKey())
	auth.accounts[auth.systemAccount] = must(jwt.NewAccountClaims(auth.systemAccount).Encode(operatorKey))

	accountKey := must(nkeys.CreateAccount())
	account := jwt.NewAccountClaims(must(accountKey.PublicKey()))
	account.Limits.JetStreamLimits = jwt.JetStreamLimits{MemoryStorage: -1, DiskStorage: -1, Streams: -1, Consumer: -1}
	auth.accounts[account.Subject] = must(account.Encode(operatorKey))

	userKey := must(nkeys.CreateUser())
	auth.userJWT = must(jwt.NewUserClaims(must(userKey.PublicKey())).Encode(accountKey))
	auth.userSeed = must(userKey.Seed())
	auth.creds = must(jwt.FormatUserConfig(auth.userJWT, auth.userSeed))
	return auth
}

// testPKI is a CA with a server certificate for 127.0.0.1 and a client certificate.
type testPKI struct {
	pool                               *x509.CertPool
	caPEM, clientCertPEM, clientKeyPEM []byte
	serverCert                         tls.Certificate
	clientCert                         tls.Certificate
}

func newPKI(t *testing.T) *testPKI {
	t.Helper()
	caKey := must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
	caTemplate := certTemplate(1, "audit test CA")
	caTemplate.IsCA, caTemplate.BasicConstraintsValid = true, true
	caTemplate.KeyUsage = x509.KeyUsageCertSign
	caDER := must(x509.CreateCertificate(rand.Reader, caTemplate, caTemplate, &caKey.PublicKey, caKey))
	ca := must(x509.ParseCertificate(caDER))
	pki := &testPKI{pool: x509.NewCertPool(), caPEM: pemBlock("CERTIFICATE", caDER)}
	pki.pool.AddCert(ca)

	serverTemplate := certTemplate(2, "127.0.0.1")
	serverTemplate.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	serverTemplate.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	serverCertPEM, serverKeyPEM := issue(t, serverTemplate, ca, caKey)
	pki.serverCert = must(tls.X509KeyPair(serverCertPEM, serverKeyPEM))

	clientTemplate := certTemplate(3, "nack")
	clientTemplate.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	pki.clientCertPEM, pki.clientKeyPEM = issue(t, clientTemplate, ca, caKey)
	pki.clientCert = must(tls.X509KeyPair(pki.clientCertPEM, pki.clientKeyPEM))
	return pki
}

func (p *testPKI) serverTLS() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{p.serverCert}, ClientCAs: p.pool,
		ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12}
}

func (p *testPKI) clientTLS() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{p.clientCert}, RootCAs: p.pool, MinVersion: tls.VersionTLS12}
}

func certTemplate(serial int64, name string) *x509.Certificate {
	return &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature}
}

// issue signs template with the CA and returns the certificate and its new key as PEM.
func issue(t *testing.T, template, ca *x509.Certificate, caKey *ecdsa.PrivateKey) ([]byte, []byte) {
	t.Helper()
	key := must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
	der := must(x509.CreateCertificate(rand.Reader, template, ca, &key.PublicKey, caKey))
	keyDER := must(x509.MarshalECPrivateKey(key))
	return pemBlock("CERTIFICATE", der), pemBlock("EC PRIVATE KEY", keyDER)
}

func pemBlock(kind string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der})
}

// must returns v, or panics on err: for key and certificate generation, which does not fail.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
