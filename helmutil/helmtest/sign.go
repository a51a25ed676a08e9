package helmtest

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/provenance"
	"sigs.k8s.io/yaml"
)

// Signer holds an OpenPGP key pair that signs chart packages the way
// `helm package --sign` does.
type Signer struct {
	entity *openpgp.Entity
}

// NewSigner generates an RSA key (2048 bits, for speed) for the identity
// name and email.
func NewSigner(t testing.TB, name, email string) *Signer {
	t.Helper()
	e, err := openpgp.NewEntity(name, "helmtest", email, &packet.Config{RSABits: 2048})
	if err != nil {
		t.Fatalf("helmtest: generate key: %v", err)
	}
	return &Signer{entity: e}
}

// Keyring returns the public key as an ASCII-armored keyring, the form a
// verifier reads (`gpg --export --armor`).
func (s *Signer) Keyring() []byte {
	var b bytes.Buffer
	w, err := armor.Encode(&b, openpgp.PublicKeyType, nil)
	if err != nil {
		panic(err) // writing to a bytes.Buffer
	}
	if err := s.entity.Serialize(w); err != nil {
		panic(err)
	}
	w.Close()
	return b.Bytes()
}

// Fingerprint returns the key's fingerprint in upper-case hex.
func (s *Signer) Fingerprint() string {
	return upperHex(s.entity.PrimaryKey.Fingerprint)
}

func upperHex(b []byte) string {
	const digits = "0123456789ABCDEF"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&0xf])
	}
	return string(out)
}

// Sign returns the provenance file (.prov) of the chart package data named
// filename (its base name, e.g. app-1.0.0.tgz), made by Helm's own signer.
func (s *Signer) Sign(t testing.TB, data []byte, filename string) []byte {
	t.Helper()
	ch, err := loader.LoadArchive(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("helmtest: sign %s: %v", filename, err)
	}
	md, err := yaml.Marshal(ch.Metadata)
	if err != nil {
		t.Fatal(err)
	}
	sig := &provenance.Signatory{Entity: s.entity}
	prov, err := sig.ClearSign(data, filename, md)
	if err != nil {
		t.Fatalf("helmtest: sign %s: %v", filename, err)
	}
	return []byte(prov)
}

// SignFile writes path.prov, the provenance file of the chart package at
// path.
func (s *Signer) SignFile(t testing.TB, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+".prov", s.Sign(t, data, filepath.Base(path)), 0o644); err != nil {
		t.Fatal(err)
	}
}
