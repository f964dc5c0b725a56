package servingcert

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// Keys of the CA Secret.
const (
	// KeyCACert holds the current CA's certificate.
	KeyCACert = "ca.crt"
	// KeyCAKey holds the current CA's private key.
	KeyCAKey = "ca.key"
	// KeyPreviousCAs holds the certificates of earlier CAs until they expire: pods may still serve
	// certificates they signed.
	KeyPreviousCAs = "previous-ca.crt"
)

// authority is the CA of a round and what the aggregator must trust.
type authority struct {
	pair KeyPair
	cert *x509.Certificate
	// previous are the earlier CAs still trusted, PEM.
	previous []byte
	// bundle is the current CA and the previous ones, PEM.
	bundle []byte
	// next is when the CA is due for renewal or a previous CA expires.
	next time.Time
}

// ensureCA reads the CA Secret, makes a new CA when it is missing, unreadable or due for renewal (keeping
// the replaced one trusted while it is valid), and writes the Secret when it changed.
func (r *Rotator) ensureCA(ctx context.Context, now time.Time, serving *corev1.Secret) (*authority, error) {
	name := r.opts.CASecretName
	secret, err := r.getSecret(ctx, name)
	if err != nil {
		return nil, err
	}
	data := secretData(secret)
	pair := KeyPair{Cert: data[KeyCACert], Key: data[KeyCAKey]}
	cert, problem := readCA(secret, pair)
	previous := [][]byte{data[KeyPreviousCAs]}
	if problem == "" && !now.Before(RenewAt(cert.NotBefore, cert.NotAfter)) {
		problem = "due for renewal"
	}
	if problem != "" {
		// Keep trusting what was trusted: the old CA when it still parses, the serving Secret's bundle.
		previous = append(previous, data[KeyCACert], secretData(serving)[KeyCABundle])
		r.logger(ctx).Info("issuing a new CA", "secret", name, "reason", problem)
		commonName := fmt.Sprintf("%s.%s-ca@%d", r.opts.ServiceName, r.opts.Namespace, now.Unix())
		if pair, err = NewCA(commonName, now, r.opts.CAValidity); err != nil {
			return nil, fmt.Errorf("issue a CA: %w", err)
		}
		if cert, err = leaf(pair); err != nil {
			return nil, err
		}
	}
	auth := &authority{pair: pair, cert: cert, next: RenewAt(cert.NotBefore, cert.NotAfter)}
	auth.previous, auth.next = trustedCAs(now, cert, auth.next, previous...)
	if auth.bundle, err = Bundle(now, pair.Cert, auth.previous); err != nil {
		return nil, err
	}
	want := map[string][]byte{KeyCACert: pair.Cert, KeyCAKey: pair.Key}
	if len(auth.previous) > 0 {
		want[KeyPreviousCAs] = auth.previous
	}
	written, err := r.writeSecret(ctx, secret, name, corev1.SecretTypeOpaque, want)
	if err != nil {
		return nil, err
	}
	if problem != "" && written != nil {
		r.event(written, "CAIssued", "IssueCA", "Issued a new serving CA: the previous one was %s", problem)
	}
	return auth, nil
}

// readCA checks the CA Secret's certificate and key; problem says what is wrong, "" if nothing.
func readCA(secret *corev1.Secret, pair KeyPair) (cert *x509.Certificate, problem string) {
	if secret == nil {
		return nil, "missing"
	}
	c, err := tls.X509KeyPair(pair.Cert, pair.Key)
	if err != nil {
		return nil, "unreadable"
	}
	if !c.Leaf.IsCA {
		return nil, "not a CA"
	}
	return c.Leaf, ""
}

// leaf parses a key pair's certificate.
func leaf(pair KeyPair) (*x509.Certificate, error) {
	c, err := tls.X509KeyPair(pair.Cert, pair.Key)
	if err != nil {
		return nil, fmt.Errorf("read an issued certificate: %w", err)
	}
	return c.Leaf, nil
}

// trustedCAs picks from pems (read leniently: bad blocks are skipped) the CA certificates other than
// current that are still valid at now, as PEM. next becomes the earliest of next and their expiries.
func trustedCAs(now time.Time, current *x509.Certificate, next time.Time, pems ...[]byte) ([]byte, time.Time) {
	var out []byte
	seen := map[string]bool{string(current.Raw): true}
	for _, data := range pems {
		for {
			var block *pem.Block
			if block, data = pem.Decode(data); block == nil {
				break
			}
			c, err := x509.ParseCertificate(block.Bytes)
			if block.Type != "CERTIFICATE" || err != nil || !c.IsCA || expired(c, now) || seen[string(c.Raw)] {
				continue
			}
			seen[string(c.Raw)] = true
			out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
			next = earliest(next, c.NotAfter)
		}
	}
	return out, next
}

// secretData is a Secret's data; nil for no Secret.
func secretData(s *corev1.Secret) map[string][]byte {
	if s == nil {
		return nil
	}
	return s.Data
}
