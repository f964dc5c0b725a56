package servingcert

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// backdate is how far before now a new certificate's NotBefore lies, for clocks a little behind ours.
const backdate = 5 * time.Minute

// KeyPair is a PEM certificate and its PEM private key.
type KeyPair struct {
	// Cert is the certificate, PEM.
	Cert []byte
	// Key is the private key, PEM (PKCS #8).
	Key []byte
}

// NewCA makes a self-signed CA (ECDSA P-256) valid from now for validity; it signs serving certificates
// only (path length 0).
func NewCA(commonName string, now time.Time, validity time.Duration) (KeyPair, error) {
	if validity <= 0 {
		return KeyPair{}, fmt.Errorf("CA validity %s is not positive", validity)
	}
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: commonName},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(validity),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	return sign(tmpl, nil, nil)
}

// NewServingCert makes a serving certificate (ECDSA P-256, server auth) for dnsNames, signed by ca, valid
// from now for validity but never past the CA's own expiry.
func NewServingCert(ca KeyPair, dnsNames []string, now time.Time, validity time.Duration) (KeyPair, error) {
	if len(dnsNames) == 0 {
		return KeyPair{}, errors.New("a serving certificate needs at least one DNS name")
	}
	if validity <= 0 {
		return KeyPair{}, fmt.Errorf("certificate validity %s is not positive", validity)
	}
	pair, err := tls.X509KeyPair(ca.Cert, ca.Key)
	if err != nil {
		return KeyPair{}, fmt.Errorf("read the CA: %w", err)
	}
	if !pair.Leaf.IsCA {
		return KeyPair{}, errors.New("read the CA: the certificate is not a CA")
	}
	notAfter := now.Add(validity)
	if notAfter.After(pair.Leaf.NotAfter) {
		notAfter = pair.Leaf.NotAfter
	}
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: dnsNames[0]},
		DNSNames:              dnsNames,
		NotBefore:             now.Add(-backdate),
		NotAfter:              notAfter,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	return sign(tmpl, pair.Leaf, pair.PrivateKey)
}

// sign makes a fresh P-256 key and a certificate of tmpl for it, signed by parent and parentKey, or
// self-signed when parent is nil.
func sign(tmpl, parent *x509.Certificate, parentKey any) (KeyPair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return KeyPair{}, fmt.Errorf("generate a key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return KeyPair{}, fmt.Errorf("generate a serial number: %w", err)
	}
	tmpl.SerialNumber = serial
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		return KeyPair{}, fmt.Errorf("sign the certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return KeyPair{}, fmt.Errorf("encode the key: %w", err)
	}
	return KeyPair{
		Cert: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		Key:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	}, nil
}

// Validity is the NotBefore and NotAfter of the first certificate in certPEM.
func Validity(certPEM []byte) (notBefore, notAfter time.Time, err error) {
	certs, err := parseCertificates(certPEM)
	if err != nil {
		return time.Time{}, time.Time{}, err
	}
	if len(certs) == 0 {
		return time.Time{}, time.Time{}, errors.New("no PEM certificate")
	}
	return certs[0].NotBefore, certs[0].NotAfter, nil
}

// RenewAt is when a certificate valid from notBefore to notAfter is due for renewal: two thirds into its
// life.
func RenewAt(notBefore, notAfter time.Time) time.Time {
	return notBefore.Add(notAfter.Sub(notBefore) * 2 / 3)
}

// Bundle concatenates the certificates of pems (each may hold several) as PEM, in order, dropping those
// expired at now and repeats.
func Bundle(now time.Time, pems ...[]byte) ([]byte, error) {
	var out bytes.Buffer
	seen := map[string]bool{}
	for _, p := range pems {
		certs, err := parseCertificates(p)
		if err != nil {
			return nil, err
		}
		for _, c := range certs {
			if expired(c, now) || seen[string(c.Raw)] {
				continue
			}
			seen[string(c.Raw)] = true
			_ = pem.Encode(&out, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
		}
	}
	return out.Bytes(), nil
}

// expired says whether c is no longer valid at now.
func expired(c *x509.Certificate, now time.Time) bool {
	return !now.Before(c.NotAfter)
}

// parseCertificates reads every CERTIFICATE block of data; other blocks are an error.
func parseCertificates(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("a PEM block of type %q where a certificate was expected", block.Type)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse a certificate: %w", err)
		}
		certs = append(certs, c)
	}
	if len(bytes.TrimSpace(data)) > 0 && len(certs) == 0 {
		return nil, errors.New("no PEM certificate")
	}
	return certs, nil
}
