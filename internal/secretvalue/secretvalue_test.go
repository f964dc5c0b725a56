package secretvalue

import (
	"encoding/pem"
	"strings"
	"testing"

	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/secrettest"
)

func TestSecretValueChecks(t *testing.T) {
	cert, key := secrettest.Cert()
	encrypted := pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{1}})
	rsa := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: []byte{1}})
	block, _ := pem.Decode(cert)
	creds := secrettest.Creds()
	seedless := []byte(strings.Split(string(creds), "*****")[0])
	badSeed := []byte(strings.Replace(string(creds), "\nSU", "\nSA", 1))
	for _, tc := range []struct {
		name  string
		check func(string, []byte) error
		key   string
		value []byte
		want  string // "" for no error
	}{
		{"certificate", PEMCertificate, "ca.crt", cert, ""},
		{"certificate after text", PEMCertificate, "ca.crt", append([]byte("issuer: test\n"), cert...), ""},
		{"chain with key", TLSPair, "tls.crt", append(append([]byte{}, cert...), key...), ""},
		{"key", TLSPair, "tls.key", key, ""},
		{"RSA key", PEMPrivateKey, "tls.key", rsa, ""},
		{"no certificate", PEMCertificate, "ca.crt", []byte("not-a-real-ca"), "holds no PEM certificate"},
		{"DER certificate", PEMCertificate, "ca.crt", block.Bytes, "holds no PEM certificate"},
		{"key as certificate", TLSPair, "tls.crt", key, "swapped"},
		{"certificate as key", TLSPair, "tls.key", cert, "swapped"},
		{"encrypted key", PEMPrivateKey, "tls.key", encrypted, "encrypted private key"},
		{"empty key", PEMPrivateKey, "tls.key", nil, "holds no PEM private key"},
		{"credentials", CredsFile, "audit.creds", creds, ""},
		{"JWT alone", CredsFile, "audit.creds", seedless, "it needs a user JWT and then a user nkey seed"},
		{"bare seed", CredsFile, "audit.creds", []byte("SUAIO3FHUX5PNV2LQIIP7TZ3N4L7TX3W53MQGEIVYFIGA635OZCKEYHFLM"), "it needs a user JWT"},
		{"account seed", CredsFile, "audit.creds", badSeed, "its second section is not a user nkey seed"},
		{"PEM as credentials", CredsFile, "audit.creds", cert, "no NATS credentials file"},
		{"S3 key", S3Key, "AWS_ACCESS_KEY_ID", []byte("AKIAIOSFODNN7EXAMPLE"), ""},
		{"S3 secret", S3Key, "AWS_SECRET_ACCESS_KEY", []byte("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"), ""},
		{"S3 key with a newline", S3Key, "AWS_ACCESS_KEY_ID", []byte("AKIAIOSFODNN7EXAMPLE\n"), "a file given to --from-file often ends with a newline"},
		{"S3 key with a space", S3Key, "AWS_SECRET_ACCESS_KEY", []byte("wJalr XUtn"), "holds a space"},
		{"empty S3 key", S3Key, "AWS_ACCESS_KEY_ID", nil, "is empty"},
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

func TestCredsAccount(t *testing.T) {
	account, err := CredsAccount(secrettest.Creds())
	if err != nil || !strings.HasPrefix(account, "A") || len(account) != 56 {
		t.Fatalf("account = %q, %v; want an account public key", account, err)
	}
	if _, err := CredsAccount([]byte("-----BEGIN NATS USER JWT-----\nnot.a.jwt!\n------END NATS USER JWT------\n")); err == nil {
		t.Fatal("a JWT that does not decode must be an error")
	}
}
