package secrets

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// The keys TLSFromSecret reads, as in Secrets of type kubernetes.io/tls.
const (
	CAKey   = "ca.crt"
	CertKey = corev1.TLSCertKey       // "tls.crt"
	KeyKey  = corev1.TLSPrivateKeyKey // "tls.key"
)

// TLS is validated TLS material from a Secret: a CA bundle, a client
// certificate and key, or both. The PEM fields are kept for libraries that
// take PEM bytes; Config builds a *tls.Config from them.
type TLS struct {
	// CA is the PEM bundle of certificate authorities to trust, if any.
	CA []byte
	// Cert and Key are the PEM client certificate (chain) and private key,
	// if any; they come together.
	Cert []byte
	Key  []byte

	pool *x509.CertPool
	pair *tls.Certificate
}

// TLSFromSecret reads ca.crt, tls.crt and tls.key. A CA alone is enough for
// server verification, a certificate and key alone for client
// authentication; a certificate without its key (or a key without its
// certificate) is an error, as is a Secret with none of the three keys.
//
// Every certificate is parsed and the key must match the certificate, so a
// Secret that would fail a handshake fails here. Encrypted PEM keys are not
// supported.
func TLSFromSecret(s *corev1.Secret) (*TLS, error) {
	if s == nil {
		return nil, ErrNilSecret
	}
	ca, hasCA := value(s, CAKey)
	cert, hasCert := value(s, CertKey)
	key, hasKey := value(s, KeyKey)
	switch {
	case !hasCA && !hasCert && !hasKey:
		return nil, keyErr(s, CAKey, ErrMissingKey, fmt.Sprintf("set %s, or %s and %s, or all three", CAKey, CertKey, KeyKey))
	case hasCert && !hasKey:
		return nil, keyErr(s, KeyKey, ErrMissingKey, fmt.Sprintf("%s is set and needs its private key", CertKey))
	case hasKey && !hasCert:
		return nil, keyErr(s, CertKey, ErrMissingKey, fmt.Sprintf("%s is set and needs its certificate", KeyKey))
	}
	t := &TLS{}
	if hasCA {
		pool, err := parseCABundle(ca)
		if err != nil {
			return nil, keyErr(s, CAKey, ErrInvalidValue, err.Error())
		}
		t.CA, t.pool = ca, pool
	}
	if hasCert {
		pair, err := parsePair(s, cert, key)
		if err != nil {
			return nil, err
		}
		t.Cert, t.Key, t.pair = cert, key, pair
	}
	return t, nil
}

// Config returns a new *tls.Config (TLS 1.2 or later) trusting only the CA
// bundle when there is one (the system roots otherwise) and presenting the
// client certificate when there is one. Set ServerName on it when dialling
// by IP address or through a proxy.
func (t *TLS) Config() *tls.Config {
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if t.pool != nil {
		c.RootCAs = t.pool.Clone()
	}
	if t.pair != nil {
		c.Certificates = []tls.Certificate{*t.pair}
	}
	return c
}

// String masks the key.
func (t *TLS) String() string {
	return fmt.Sprintf("TLS{CA: %d bytes, Cert: %d bytes, Key: %s}", len(t.CA), len(t.Cert), mask(t.Key))
}

// GoString masks the key.
func (t *TLS) GoString() string { return "&secrets." + t.String() }

// pemErr is a fixed-text error; the messages of encoding/pem and crypto/x509
// are not passed on, since some quote their input.
type pemErr string

func (e pemErr) Error() string { return string(e) }

func parseCABundle(data []byte) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	n := 0
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		n++
		if block.Type != "CERTIFICATE" {
			return nil, pemErr(fmt.Sprintf("PEM block %d is not a CERTIFICATE", n))
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, pemErr(fmt.Sprintf("PEM block %d is not a valid X.509 certificate", n))
		}
		pool.AddCert(c)
	}
	if n == 0 {
		return nil, pemErr("no PEM-encoded certificate found")
	}
	return pool, nil
}

func parsePair(s *corev1.Secret, cert, key []byte) (*tls.Certificate, error) {
	if _, err := parseCABundle(cert); err != nil {
		return nil, keyErr(s, CertKey, ErrInvalidValue, err.Error())
	}
	block, _ := pem.Decode(key)
	switch {
	case block == nil:
		return nil, keyErr(s, KeyKey, ErrInvalidValue, "no PEM-encoded private key found")
	case !strings.HasSuffix(block.Type, "PRIVATE KEY"):
		return nil, keyErr(s, KeyKey, ErrInvalidValue, "the PEM block is not a PRIVATE KEY")
	case block.Headers["Proc-Type"] != "":
		return nil, keyErr(s, KeyKey, ErrInvalidValue, "encrypted PEM private keys are not supported")
	}
	if _, err := parsePrivateKey(block.Bytes); err != nil {
		return nil, keyErr(s, KeyKey, ErrInvalidValue, "not a valid PKCS#1, PKCS#8 or SEC 1 private key")
	}
	pair, err := tls.X509KeyPair(cert, key)
	if err != nil {
		return nil, keyErr(s, KeyKey, ErrInvalidValue, fmt.Sprintf("does not match the certificate in %s", CertKey))
	}
	return &pair, nil
}

func parsePrivateKey(der []byte) (any, error) {
	if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		return k, nil
	}
	if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return k, nil
	}
	return x509.ParseECPrivateKey(der)
}
