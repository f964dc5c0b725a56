package controller

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"
)

// testCert is a self-signed certificate and its key, in PEM, made once.
var testCert = sync.OnceValues(func() (certPEM, keyPEM []byte) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		panic(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
})

// testCreds is a NATS credentials file of a user signed by a made-up account, made once.
var testCreds = sync.OnceValue(func() []byte {
	account, _ := nkeys.CreateAccount()
	user, _ := nkeys.CreateUser()
	pub, _ := user.PublicKey()
	token, err := jwt.NewUserClaims(pub).Encode(account)
	if err != nil {
		panic(err)
	}
	seed, _ := user.Seed()
	creds, err := jwt.FormatUserConfig(token, seed)
	if err != nil {
		panic(err)
	}
	return creds
})

// secretValue is a value of the form the operator checks for a key named key: a certificate for
// *.crt, a key for *.key, a credentials file for *.creds, else placeholder text.
func secretValue(key string) []byte {
	cert, privateKey := testCert()
	switch {
	case strings.HasSuffix(key, ".crt"):
		return cert
	case strings.HasSuffix(key, ".key"):
		return privateKey
	case strings.HasSuffix(key, ".creds"):
		return testCreds()
	}
	return []byte("not-a-real-" + key)
}

func TestSecretValueChecks(t *testing.T) {
	cert, key := testCert()
	encrypted := pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{1}})
	rsa := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: []byte{1}})
	block, _ := pem.Decode(cert)
	creds := testCreds()
	seedless := []byte(strings.Split(string(creds), "*****")[0])
	badSeed := []byte(strings.Replace(string(creds), "\nSU", "\nSA", 1))
	for _, tc := range []struct {
		name  string
		check func(string, []byte) error
		key   string
		value []byte
		want  string // "" for no error
	}{
		{"certificate", checkPEMCertificate, "ca.crt", cert, ""},
		{"certificate after text", checkPEMCertificate, "ca.crt", append([]byte("issuer: test\n"), cert...), ""},
		{"chain with key", checkTLSPair, "tls.crt", append(append([]byte{}, cert...), key...), ""},
		{"key", checkTLSPair, "tls.key", key, ""},
		{"RSA key", checkPEMPrivateKey, "tls.key", rsa, ""},
		{"no certificate", checkPEMCertificate, "ca.crt", []byte("not-a-real-ca"), "holds no PEM certificate"},
		{"DER certificate", checkPEMCertificate, "ca.crt", block.Bytes, "holds no PEM certificate"},
		{"key as certificate", checkTLSPair, "tls.crt", key, "swapped"},
		{"certificate as key", checkTLSPair, "tls.key", cert, "swapped"},
		{"encrypted key", checkPEMPrivateKey, "tls.key", encrypted, "encrypted private key"},
		{"empty key", checkPEMPrivateKey, "tls.key", nil, "holds no PEM private key"},
		{"credentials", checkCredsFile, "audit.creds", creds, ""},
		{"JWT alone", checkCredsFile, "audit.creds", seedless, "it needs a user JWT and then a user nkey seed"},
		{"bare seed", checkCredsFile, "audit.creds", []byte("SUAIO3FHUX5PNV2LQIIP7TZ3N4L7TX3W53MQGEIVYFIGA635OZCKEYHFLM"), "it needs a user JWT"},
		{"account seed", checkCredsFile, "audit.creds", badSeed, "its second section is not a user nkey seed"},
		{"PEM as credentials", checkCredsFile, "audit.creds", cert, "no NATS credentials file"},
		{"S3 key", checkS3Key, "AWS_ACCESS_KEY_ID", []byte("AKIAIOSFODNN7EXAMPLE"), ""},
		{"S3 secret", checkS3Key, "AWS_SECRET_ACCESS_KEY", []byte("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"), ""},
		{"S3 key with a newline", checkS3Key, "AWS_ACCESS_KEY_ID", []byte("AKIAIOSFODNN7EXAMPLE\n"), "a file given to --from-file often ends with a newline"},
		{"S3 key with a space", checkS3Key, "AWS_SECRET_ACCESS_KEY", []byte("wJalr XUtn"), "holds a space"},
		{"empty S3 key", checkS3Key, "AWS_ACCESS_KEY_ID", nil, "is empty"},
	} {
		err := tc.check(tc.key, tc.value)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: got %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
}
