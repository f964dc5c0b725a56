package servingcert

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"
)

var (
	t0   = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	day  = 24 * time.Hour
	year = 365 * day
)

func mustCA(t *testing.T, now time.Time, validity time.Duration) KeyPair {
	t.Helper()
	ca, err := NewCA("test-ca", now, validity)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func mustServing(t *testing.T, ca KeyPair, names []string, now time.Time, validity time.Duration) KeyPair {
	t.Helper()
	pair, err := NewServingCert(ca, names, now, validity)
	if err != nil {
		t.Fatal(err)
	}
	return pair
}

func mustParse(t *testing.T, p []byte) *x509.Certificate {
	t.Helper()
	certs, err := parseCertificates(p)
	if err != nil || len(certs) != 1 {
		t.Fatalf("parse: %d certificates, %v", len(certs), err)
	}
	return certs[0]
}

// verify checks cert against the roots of bundle for name at now.
func verify(cert, bundle []byte, name string, now time.Time) error {
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(bundle) {
		return errors.New("no certificate in the bundle")
	}
	certs, err := parseCertificates(cert)
	if err != nil {
		return err
	}
	_, err = certs[0].Verify(x509.VerifyOptions{
		Roots: roots, DNSName: name, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	return err
}

func TestNewCA(t *testing.T) {
	ca := mustCA(t, t0, 5*year)
	c := mustParse(t, ca.Cert)
	if !c.IsCA || !c.BasicConstraintsValid || c.KeyUsage&x509.KeyUsageCertSign == 0 {
		t.Errorf("not a CA: IsCA %v, key usage %b", c.IsCA, c.KeyUsage)
	}
	if pub, ok := c.PublicKey.(*ecdsa.PublicKey); !ok || pub.Curve != elliptic.P256() {
		t.Errorf("key is %T, want ECDSA P-256", c.PublicKey)
	}
	if err := c.CheckSignatureFrom(c); err != nil {
		t.Errorf("not self-signed: %v", err)
	}
	if !c.NotAfter.Equal(t0.Add(5*year)) || !c.NotBefore.Equal(t0.Add(-backdate)) {
		t.Errorf("valid %s to %s", c.NotBefore, c.NotAfter)
	}
	if !bytes.Contains(ca.Key, []byte("-----BEGIN PRIVATE KEY-----")) {
		t.Error("key is not PKCS #8 PEM")
	}
	if _, err := NewCA("x", t0, 0); err == nil {
		t.Error("a zero validity was accepted")
	}
}

func TestServingCertVerifies(t *testing.T) {
	names := DNSNames("api", "ns")
	ca := mustCA(t, t0, 5*year)
	pair := mustServing(t, ca, names, t0, year)
	c := mustParse(t, pair.Cert)
	if c.IsCA || len(c.ExtKeyUsage) != 1 || c.ExtKeyUsage[0] != x509.ExtKeyUsageServerAuth {
		t.Errorf("IsCA %v, ext key usage %v", c.IsCA, c.ExtKeyUsage)
	}
	bundle, err := Bundle(t0, ca.Cert)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		if err := verify(pair.Cert, bundle, name, t0.Add(day)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	for _, tc := range []struct {
		name   string
		bundle []byte
		dns    string
		at     time.Time
	}{
		{"another name", bundle, "api.other.svc", t0},
		{"another CA", mustCA(t, t0, year).Cert, "api.ns.svc", t0},
		{"after expiry", bundle, "api.ns.svc", t0.Add(year + time.Second)},
	} {
		if err := verify(pair.Cert, tc.bundle, tc.dns, tc.at); err == nil {
			t.Errorf("%s: verified", tc.name)
		}
	}
}

func TestServingCertBoundedByCA(t *testing.T) {
	ca := mustCA(t, t0, 90*day)
	c := mustParse(t, mustServing(t, ca, []string{"api"}, t0, year).Cert)
	if want := t0.Add(90 * day); !c.NotAfter.Equal(want) {
		t.Errorf("NotAfter %s, want the CA's %s", c.NotAfter, want)
	}
}

func TestNewServingCertErrors(t *testing.T) {
	ca := mustCA(t, t0, year)
	other := mustCA(t, t0, year)
	leaf := mustServing(t, ca, []string{"api"}, t0, day)
	for _, tc := range []struct {
		name     string
		ca       KeyPair
		names    []string
		validity time.Duration
		want     string
	}{
		{"no names", ca, nil, day, "at least one DNS name"},
		{"zero validity", ca, []string{"api"}, 0, "not positive"},
		{"garbage CA", KeyPair{Cert: []byte("x"), Key: []byte("y")}, []string{"api"}, day, "read the CA"},
		{"key of another CA", KeyPair{Cert: ca.Cert, Key: other.Key}, []string{"api"}, day, "read the CA"},
		{"leaf as CA", leaf, []string{"api"}, day, "not a CA"},
	} {
		_, err := NewServingCert(tc.ca, tc.names, t0, tc.validity)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
}

func TestValidity(t *testing.T) {
	ca := mustCA(t, t0, year)
	for _, tc := range []struct {
		name      string
		pem       []byte
		notBefore time.Time
		notAfter  time.Time
		wantErr   bool
	}{
		{"certificate", ca.Cert, t0.Add(-backdate), t0.Add(year), false},
		{"first of a bundle", append(append([]byte{}, ca.Cert...), mustCA(t, t0, day).Cert...), t0.Add(-backdate), t0.Add(year), false},
		{"empty", nil, time.Time{}, time.Time{}, true},
		{"not PEM", []byte("garbage"), time.Time{}, time.Time{}, true},
		{"a key", ca.Key, time.Time{}, time.Time{}, true},
	} {
		nb, na, err := Validity(tc.pem)
		if (err != nil) != tc.wantErr || !nb.Equal(tc.notBefore) || !na.Equal(tc.notAfter) {
			t.Errorf("%s: got %s, %s, %v", tc.name, nb, na, err)
		}
	}
}

func TestRenewAt(t *testing.T) {
	for _, tc := range []struct {
		from, to, want time.Time
	}{
		{t0, t0.Add(3 * day), t0.Add(2 * day)},
		{t0, t0.Add(300 * day), t0.Add(200 * day)},
		{t0, t0, t0},
	} {
		if got := RenewAt(tc.from, tc.to); !got.Equal(tc.want) {
			t.Errorf("RenewAt(%s, %s) = %s, want %s", tc.from, tc.to, got, tc.want)
		}
	}
}

func TestBundle(t *testing.T) {
	old := mustCA(t, t0, year)
	cur := mustCA(t, t0.Add(200*day), year)
	both := append(append([]byte{}, old.Cert...), cur.Cert...)
	for _, tc := range []struct {
		name    string
		now     time.Time
		pems    [][]byte
		want    []byte
		wantErr bool
	}{
		{"both valid, in order", t0.Add(day), [][]byte{cur.Cert, old.Cert}, append(append([]byte{}, cur.Cert...), old.Cert...), false},
		{"one input holding two", t0.Add(day), [][]byte{both}, both, false},
		{"repeats dropped", t0.Add(day), [][]byte{old.Cert, both, cur.Cert}, both, false},
		{"expired dropped", t0.Add(year + time.Second), [][]byte{cur.Cert, old.Cert}, cur.Cert, false},
		{"dropped at NotAfter", t0.Add(year), [][]byte{old.Cert}, nil, false},
		{"empty inputs", t0, [][]byte{nil, {}}, nil, false},
		{"a key", t0, [][]byte{cur.Cert, cur.Key}, nil, true},
		{"garbage", t0, [][]byte{[]byte("garbage")}, nil, true},
	} {
		got, err := Bundle(tc.now, tc.pems...)
		if (err != nil) != tc.wantErr || !bytes.Equal(got, tc.want) {
			t.Errorf("%s: got %d bytes, %v; want %d bytes", tc.name, len(got), err, len(tc.want))
		}
	}
}

// A certificate of the old CA keeps verifying against the bundle of a rotation, until the old CA expires.
func TestBundleTrustsBothCAs(t *testing.T) {
	names := DNSNames("api", "ns")
	old := mustCA(t, t0, 3*year)
	oldLeaf := mustServing(t, old, names, t0, year)
	rotated := t0.Add(2 * year)
	cur := mustCA(t, rotated, 3*year)
	newLeaf := mustServing(t, cur, names, rotated, year)
	bundle, err := Bundle(rotated, cur.Cert, old.Cert)
	if err != nil {
		t.Fatal(err)
	}
	// The old leaf has expired by then; a leaf re-signed by the old CA just before the rotation has not.
	lastOld := mustServing(t, old, names, rotated.Add(-time.Hour), year)
	for _, leaf := range [][]byte{newLeaf.Cert, lastOld.Cert} {
		if err := verify(leaf, bundle, "api.ns.svc", rotated); err != nil {
			t.Error(err)
		}
	}
	if err := verify(oldLeaf.Cert, bundle, "api.ns.svc", rotated); err == nil {
		t.Error("an expired leaf verified")
	}
	after, err := Bundle(t0.Add(3*year), cur.Cert, old.Cert)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(after, cur.Cert) {
		t.Error("the old CA stayed in the bundle after its expiry")
	}
}

func TestDelay(t *testing.T) {
	resync := 10 * time.Minute
	for _, tc := range []struct {
		name     string
		next     time.Duration // from now
		failures int
		want     time.Duration
	}{
		{"due soon", 30 * time.Second, 0, 30 * time.Second},
		{"due later than resync", 300 * day, 0, resync},
		{"already due", -time.Hour, 0, minWait},
		{"no next", 0, 0, minWait},
		{"first failure", 0, 1, 5 * time.Second},
		{"second failure", 0, 2, 10 * time.Second},
		{"seventh failure", 0, 7, 5 * time.Minute},
		{"many failures", 0, 1000, 5 * time.Minute},
	} {
		next := t0.Add(tc.next)
		if tc.next == 0 {
			next = time.Time{}
		}
		if got := delay(t0, next, tc.failures, resync); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}
