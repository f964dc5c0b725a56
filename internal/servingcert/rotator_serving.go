package servingcert

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// KeyCABundle is the serving Secret's key of the CA bundle (the current CA and the previous ones still
// valid), beside tls.crt and tls.key.
const KeyCABundle = "ca.crt"

// ensureServing re-signs the serving certificate when it is missing, unreadable, not signed by the current
// CA, issued for other DNS names or due for renewal, and writes the serving Secret when it changed. It
// returns when the certificate is due for renewal.
func (r *Rotator) ensureServing(ctx context.Context, now time.Time, secret *corev1.Secret, auth *authority) (time.Time, error) {
	name := r.opts.SecretName
	data := secretData(secret)
	pair := KeyPair{Cert: data[corev1.TLSCertKey], Key: data[corev1.TLSPrivateKeyKey]}
	cert, problem := r.checkServing(secret, pair, auth.cert, now)
	if problem != "" {
		r.logger(ctx).Info("issuing a serving certificate", "secret", name, "reason", problem)
		var err error
		if pair, err = NewServingCert(auth.pair, r.dnsNames, now, r.opts.CertValidity); err != nil {
			return time.Time{}, fmt.Errorf("issue the serving certificate: %w", err)
		}
		if cert, err = leaf(pair); err != nil {
			return time.Time{}, err
		}
	}
	want := map[string][]byte{
		corev1.TLSCertKey:       pair.Cert,
		corev1.TLSPrivateKeyKey: pair.Key,
		KeyCABundle:             auth.bundle,
	}
	written, err := r.writeSecret(ctx, secret, name, corev1.SecretTypeTLS, want)
	if err != nil {
		return time.Time{}, err
	}
	if problem != "" && written != nil {
		r.event(written, "ServingCertIssued", "IssueCertificate", "Issued a new serving certificate: the previous one was %s", problem)
	}
	return RenewAt(cert.NotBefore, cert.NotAfter), nil
}

// checkServing checks the serving Secret's certificate against the current CA, the DNS names and the
// clock; problem says what is wrong, "" if nothing.
func (r *Rotator) checkServing(secret *corev1.Secret, pair KeyPair, ca *x509.Certificate, now time.Time) (cert *x509.Certificate, problem string) {
	if secret == nil {
		return nil, "missing"
	}
	c, err := tls.X509KeyPair(pair.Cert, pair.Key)
	if err != nil {
		return nil, "unreadable"
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	opts := x509.VerifyOptions{Roots: roots, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	if _, err := c.Leaf.Verify(opts); err != nil {
		return nil, "not signed by the current CA"
	}
	if !sameNames(c.Leaf.DNSNames, r.dnsNames) {
		return nil, "issued for other DNS names"
	}
	if !now.Before(RenewAt(c.Leaf.NotBefore, c.Leaf.NotAfter)) {
		return nil, "due for renewal"
	}
	return c.Leaf, ""
}

// sameNames compares two lists of names as sets.
func sameNames(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}
