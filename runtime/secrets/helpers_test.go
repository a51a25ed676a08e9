package secrets_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// marker is planted in secret values; no error may contain it. It holds a
// '!' so that it can never pass for a registry address.
const marker = "S3CR3T!MARKER"

func secret(data map[string]string) *corev1.Secret {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "creds"}, Data: map[string][]byte{}}
	for k, v := range data {
		s.Data[k] = []byte(v)
	}
	return s
}

// pki is a CA, a client certificate signed by it and a second, unrelated key.
type pki struct {
	caPEM, certPEM, keyPEM, otherKeyPEM string
	caCert                              *x509.Certificate
}

var testPKI = sync.OnceValue(func() pki {
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		panic(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "client"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		panic(err)
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	return pki{
		caPEM:       pemString("CERTIFICATE", caDER),
		certPEM:     pemString("CERTIFICATE", der),
		keyPEM:      pemString("PRIVATE KEY", mustPKCS8(key)),
		otherKeyPEM: pemString("PRIVATE KEY", mustPKCS8(other)),
		caCert:      caCert,
	}
})

func mustPKCS8(k any) []byte {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		panic(err)
	}
	return der
}

func pemString(typ string, der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

// sshKeys is an ed25519 identity, plain and encrypted with marker as
// passphrase, and a known_hosts line.
type sshKeys struct {
	plain, encrypted, knownHosts string
	pub                          ssh.PublicKey
}

var testSSH = sync.OnceValue(func() sshKeys {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	plain, err := ssh.MarshalPrivateKey(priv, "test")
	if err != nil {
		panic(err)
	}
	enc, err := ssh.MarshalPrivateKeyWithPassphrase(priv, "test", []byte(marker))
	if err != nil {
		panic(err)
	}
	hostPub, _, _ := ed25519.GenerateKey(rand.Reader)
	hk, _ := ssh.NewPublicKey(hostPub)
	signer, _ := ssh.NewSignerFromKey(priv)
	return sshKeys{
		plain:      string(pem.EncodeToMemory(plain)),
		encrypted:  string(pem.EncodeToMemory(enc)),
		knownHosts: "# comment\n" + knownhosts.Line([]string{"git.example.com"}, hk) + "\n",
		pub:        signer.PublicKey(),
	}
})

func mustNotLeak(t *testing.T, err error) {
	t.Helper()
	if err != nil && containsMarker(err.Error()) {
		t.Fatalf("error leaks a secret value: %v", err)
	}
}
