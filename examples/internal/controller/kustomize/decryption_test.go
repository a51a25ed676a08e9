package kustomize

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/getsops/sops/v3"
	"github.com/getsops/sops/v3/aes"
	sopsage "github.com/getsops/sops/v3/age"
	"github.com/getsops/sops/v3/config"
	"github.com/getsops/sops/v3/keys"
	"github.com/getsops/sops/v3/pgp"
	sopsyaml "github.com/getsops/sops/v3/stores/yaml"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/runtime/conditions"

	kustomizev1 "github.com/gitopskit/kit/examples/api/kustomize/v1"
	"github.com/gitopskit/kit/examples/api/meta"
)

// sopsEncryptYAML encrypts a YAML document for the age recipient with
// sops' library, as `sops --encrypt --age <recipient>
// --encrypted-regex '^(data|stringData)$'` does.
func sopsEncryptYAML(t *testing.T, plain, recipient string) string {
	t.Helper()
	mk, err := sopsage.MasterKeyFromRecipient(recipient)
	if err != nil {
		t.Fatal(err)
	}
	return sopsEncrypt(t, plain, mk)
}

// sopsEncrypt encrypts a YAML document's data and stringData for the
// master key with sops' library.
func sopsEncrypt(t *testing.T, plain string, mk keys.MasterKey) string {
	t.Helper()
	store := sopsyaml.NewStore(&config.YAMLStoreConfig{})
	branches, err := store.LoadPlainFile([]byte(plain))
	if err != nil {
		t.Fatal(err)
	}
	tree := sops.Tree{Branches: branches, Metadata: sops.Metadata{
		KeyGroups:      []sops.KeyGroup{{mk}},
		EncryptedRegex: "^(data|stringData)$",
		Version:        "3.13.3",
	}}
	dataKey := make([]byte, 32)
	if _, err := rand.Read(dataKey); err != nil {
		t.Fatal(err)
	}
	for _, k := range []keys.MasterKey{mk} {
		if err := k.Encrypt(dataKey); err != nil {
			t.Fatal(err)
		}
	}
	cipher := aes.NewCipher()
	mac, err := tree.Encrypt(dataKey, cipher)
	if err != nil {
		t.Fatal(err)
	}
	tree.Metadata.LastModified = time.Now().UTC()
	tree.Metadata.MessageAuthenticationCode, err = cipher.Encrypt(mac, dataKey, tree.Metadata.LastModified.Format(time.RFC3339))
	if err != nil {
		t.Fatal(err)
	}
	out, err := store.EmitEncryptedFile(tree)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// A SOPS-encrypted Secret is decrypted with the age key of the decryption
// Secret; without the right key the build fails, naming the file, and
// nothing is applied.
func TestDecryptionAge(t *testing.T) {
	f := newFixture(t)
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	const plain = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: hunter2-plaintext\n"
	encrypted := sopsEncryptYAML(t, plain, id.Recipient().String())
	if strings.Contains(encrypted, "hunter2") {
		t.Fatal("the test fixture is not encrypted")
	}
	art := f.artifact("app", map[string]string{"secret.yaml": encrypted, "a.yaml": cm("a")})
	f.gitRepository("app", &art)

	other, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	keysSecret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "sops-keys"},
		Data:       map[string][]byte{"wrong.agekey": []byte(other.String())},
	}
	if err := f.c.Create(context.Background(), keysSecret); err != nil {
		t.Fatal(err)
	}
	ks := f.kustomization("app", "app", func(s *kustomizev1.KustomizationSpec) {
		s.Decryption = &kustomizev1.Decryption{Provider: "sops", SecretRef: &meta.LocalObjectReference{Name: "sops-keys"}}
	})
	got := f.waitNotReady(ks, BuildFailedReason, art.Revision)
	msg := conditions.Get(got, conditions.Ready).Message
	if !strings.Contains(msg, "secret.yaml") || strings.Contains(msg, "AGE-SECRET-KEY") {
		t.Errorf("Ready message = %q", msg)
	}
	if f.configMap(f.ns, "a") != nil {
		t.Error("objects applied although the build failed")
	}

	keysSecret.Data["identity.agekey"] = []byte(id.String())
	if err := f.c.Update(context.Background(), keysSecret); err != nil {
		t.Fatal(err)
	}
	f.waitReady(ks, art.Revision)
	sec := &corev1.Secret{}
	if err := f.c.Get(context.Background(), client.ObjectKey{Namespace: f.ns, Name: "db"}, sec); err != nil {
		t.Fatal(err)
	}
	if v := string(sec.Data["password"]); v != "hunter2-plaintext" {
		t.Errorf("password = %q, want the decrypted value", v)
	}
}

// newPGPKey returns an armored OpenPGP private key and the sops master key
// of its public half (sops encrypts for a key found in a public keyring
// file).
func newPGPKey(t *testing.T) ([]byte, *pgp.MasterKey) {
	t.Helper()
	e, err := openpgp.NewEntity("gitopsd test", "", "test@example.com", nil)
	if err != nil {
		t.Fatal(err)
	}
	var priv bytes.Buffer
	w, err := armor.Encode(&priv, openpgp.PrivateKeyType, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.SerializePrivate(w, nil); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	var pub bytes.Buffer
	if err := e.Serialize(&pub); err != nil {
		t.Fatal(err)
	}
	ring := filepath.Join(t.TempDir(), "pubring.gpg")
	if err := os.WriteFile(ring, pub.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	mk := pgp.NewMasterKeyFromFingerprint(strings.ToUpper(hex.EncodeToString(e.PrimaryKey.Fingerprint)))
	pgp.PubRing(ring).ApplyToMasterKey(mk)
	return priv.Bytes(), mk
}

// An OpenPGP key in a value ending in .asc decrypts too.
func TestDecryptionOpenPGP(t *testing.T) {
	f := newFixture(t)
	armored, mk := newPGPKey(t)
	encrypted := sopsEncrypt(t, "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: pgp-plaintext\n", mk)
	art := f.artifact("app", map[string]string{"secret.yaml": encrypted})
	f.gitRepository("app", &art)
	if err := f.c.Create(context.Background(), &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "sops-keys"},
		Data:       map[string][]byte{"team.asc": armored},
	}); err != nil {
		t.Fatal(err)
	}
	ks := f.kustomization("app", "app", func(s *kustomizev1.KustomizationSpec) {
		s.Decryption = &kustomizev1.Decryption{Provider: "sops", SecretRef: &meta.LocalObjectReference{Name: "sops-keys"}}
	})
	f.waitReady(ks, art.Revision)
	sec := &corev1.Secret{}
	if err := f.c.Get(context.Background(), client.ObjectKey{Namespace: f.ns, Name: "db"}, sec); err != nil {
		t.Fatal(err)
	}
	if v := string(sec.Data["password"]); v != "pgp-plaintext" {
		t.Errorf("password = %q, want the decrypted value", v)
	}
}
