package controller

import (
	"encoding/pem"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/nats-io/nkeys"
)

// The checks of Secret values the pipeline's clients read as files. They look at the form only (PEM
// blocks of the right type, a credentials file's two sections), as the clients find what they need in
// a file, and catch the common mistakes: an empty or wrong value, DER instead of PEM, a certificate and
// key swapped. Whether a certificate is trusted is for the TLS handshake to say. The errors never
// quote the value.

// decoratedSection is a section of a NATS credentials file as the NATS clients find it (nkeys'
// creds_utils.go, async-nats' auth_utils.rs): a value between two lines of dashes.
var decoratedSection = regexp.MustCompile(`\s*(?:(?:[-]{3,}.*[-]{3,}\r?\n)([\w\-.=]+)(?:\r?\n[-]{3,}.*[-]{3,}\r?\n))`)

// jwtForm is a compact JWT: three base64url parts.
var jwtForm = regexp.MustCompile(`^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$`)

// checkCredsFile says whether value is a NATS credentials file: a user JWT, then a user nkey seed,
// each between lines of dashes, as `nsc generate creds` writes it.
func checkCredsFile(_ string, value []byte) error {
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

// checkPEMCertificate says whether value holds a PEM certificate.
func checkPEMCertificate(_ string, value []byte) error {
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

// checkPEMPrivateKey says whether value holds an unencrypted PEM private key.
func checkPEMPrivateKey(_ string, value []byte) error {
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

// checkTLSPair checks a kubernetes.io/tls Secret's certificate and key.
func checkTLSPair(key string, value []byte) error {
	if key == "tls.key" {
		return checkPEMPrivateKey(key, value)
	}
	return checkPEMCertificate(key, value)
}

// checkS3Key says whether value can be an S3 access key or secret key, which ClickHouse reads from its
// environment and signs requests with as it is: not empty, and without the spaces or line break that
// `echo` or an editor leaves in a file given to `kubectl create secret --from-file`.
func checkS3Key(_ string, value []byte) error {
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
