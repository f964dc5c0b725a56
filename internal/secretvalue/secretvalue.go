// Package secretvalue checks the values of Secret keys the pipeline's clients read as files, and reads
// what the operator needs from them (a NATS user's account). It is pure: no Kubernetes, no I/O.
package secretvalue

import (
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/nats-io/nkeys"
)

// The checks look at the form only (PEM
// blocks of the right type, a credentials file's two sections), as the clients find what they need in
// a file, and catch the common mistakes: an empty or wrong value, DER instead of PEM, a certificate and
// key swapped. Whether a certificate is trusted is for the TLS handshake to say. The errors never
// quote the value.

// decoratedSection is a section of a NATS credentials file as the NATS clients find it (nkeys'
// creds_utils.go, async-nats' auth_utils.rs): a value between two lines of dashes.
var decoratedSection = regexp.MustCompile(`\s*(?:(?:[-]{3,}.*[-]{3,}\r?\n)([\w\-.=]+)(?:\r?\n[-]{3,}.*[-]{3,}\r?\n))`)

// jwtForm is a compact JWT: three base64url parts.
var jwtForm = regexp.MustCompile(`^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$`)

// CredsFile says whether value is a NATS credentials file: a user JWT, then a user nkey seed,
// each between lines of dashes, as `nsc generate creds` writes it.
func CredsFile(_ string, value []byte) error {
	sections := decoratedSection.FindAllSubmatch(value, -1)
	if len(sections) < 2 {
		return errors.New("is no NATS credentials file: it needs a user JWT and then a user nkey seed, each between lines of dashes, as `nsc generate creds` writes them")
	}
	if !jwtForm.Match(sections[0][1]) {
		return errors.New("is no NATS credentials file: its first section is not a JWT")
	}
	if _, err := nkeys.ParseDecoratedUserNKey(value); err != nil {
		return fmt.Errorf("is no NATS credentials file: its second section is not a user nkey seed (%v)", err)
	}
	return nil
}

// pemTypes lists the types of the PEM blocks in value.
func pemTypes(value []byte) []string {
	var types []string
	for {
		var block *pem.Block
		block, value = pem.Decode(value)
		if block == nil {
			return types
		}
		types = append(types, block.Type)
	}
}

func isPrivateKey(pemType string) bool {
	return strings.HasSuffix(pemType, "PRIVATE KEY") && pemType != "ENCRYPTED PRIVATE KEY"
}

// PEMCertificate says whether value holds a PEM certificate.
func PEMCertificate(_ string, value []byte) error {
	types := pemTypes(value)
	for _, t := range types {
		if t == "CERTIFICATE" {
			return nil
		}
	}
	for _, t := range types {
		if isPrivateKey(t) {
			return errors.New("holds a private key and no certificate (are the certificate and the key swapped?)")
		}
	}
	return errors.New("holds no PEM certificate (-----BEGIN CERTIFICATE-----)")
}

// PEMPrivateKey says whether value holds an unencrypted PEM private key.
func PEMPrivateKey(_ string, value []byte) error {
	types := pemTypes(value)
	for _, t := range types {
		if isPrivateKey(t) {
			return nil
		}
	}
	for _, t := range types {
		switch t {
		case "ENCRYPTED PRIVATE KEY":
			return errors.New("holds an encrypted private key, which the pipeline has no passphrase for: store the key unencrypted")
		case "CERTIFICATE":
			return errors.New("holds a certificate and no private key (are the certificate and the key swapped?)")
		}
	}
	return errors.New("holds no PEM private key (-----BEGIN PRIVATE KEY-----, or RSA or EC PRIVATE KEY)")
}

// TLSPair checks a kubernetes.io/tls Secret's certificate and key.
func TLSPair(key string, value []byte) error {
	if key == "tls.key" {
		return PEMPrivateKey(key, value)
	}
	return PEMCertificate(key, value)
}

// S3Key says whether value can be an S3 access key or secret key, which ClickHouse reads from its
// environment and signs requests with as it is: not empty, and without the spaces or line break that
// `echo` or an editor leaves in a file given to `kubectl create secret --from-file`.
func S3Key(_ string, value []byte) error {
	if len(value) == 0 {
		return errors.New("is empty")
	}
	for _, c := range value {
		if c <= ' ' || c == 0x7f {
			return errors.New("holds a space, a line break or another control character (a file given to --from-file often ends with a newline)")
		}
	}
	return nil
}

// CredsAccount is the account of a credentials file's user: its JWT's issuer_account, or its issuer.
// The JWT is not verified; the server does that.
func CredsAccount(creds []byte) (string, error) {
	token, err := nkeys.ParseDecoratedJWT(creds)
	if err != nil {
		return "", err
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", fmt.Errorf("the credentials' JWT has %d parts, want 3", len(parts))
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", fmt.Errorf("decode the credentials' JWT: %w", err)
	}
	var claims struct {
		Issuer string `json:"iss"`
		NATS   struct {
			IssuerAccount string `json:"issuer_account"`
		} `json:"nats"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		return "", fmt.Errorf("decode the credentials' JWT: %w", err)
	}
	if claims.NATS.IssuerAccount != "" {
		return claims.NATS.IssuerAccount, nil
	}
	return claims.Issuer, nil
}
