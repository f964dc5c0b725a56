// Package secrettest makes Secret values of the forms the operator checks (internal/secretvalue): a
// certificate and its key, a NATS credentials file.
package secrettest

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
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"
)

// Cert is a self-signed certificate and its key, in PEM, made once.
var Cert = sync.OnceValues(func() (certPEM, keyPEM []byte) {
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

// Creds is a NATS credentials file of a user signed by a made-up account, made once.
var Creds = sync.OnceValue(func() []byte {
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

// Value is a value of the form the operator checks for a key named key: a certificate for
// *.crt, a key for *.key, a credentials file for *.creds, else placeholder text.
func Value(key string) []byte {
	cert, privateKey := Cert()
	switch {
	case strings.HasSuffix(key, ".crt"):
		return cert
	case strings.HasSuffix(key, ".key"):
		return privateKey
	case strings.HasSuffix(key, ".creds"):
		return Creds()
	}
	return []byte("not-a-real-" + key)
}
