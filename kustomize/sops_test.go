package kustomize

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
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
	"github.com/getsops/sops/v3/stores/dotenv"
	sopsyaml "github.com/getsops/sops/v3/stores/yaml"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

type plainStore interface {
	LoadPlainFile([]byte) (sops.TreeBranches, error)
	EmitEncryptedFile(sops.Tree) ([]byte, error)
}

// sopsEncrypt encrypts plain with sops' own library, the way `sops -e`
// does, for the given master keys.
func sopsEncrypt(t *testing.T, st plainStore, plain []byte, regex string, mks ...keys.MasterKey) []byte {
	t.Helper()
	branches, err := st.LoadPlainFile(plain)
	if err != nil {
		t.Fatal(err)
	}
	tree := sops.Tree{Branches: branches, Metadata: sops.Metadata{
		KeyGroups:      []sops.KeyGroup{mks},
		EncryptedRegex: regex,
		Version:        "3.13.3",
	}}
	dataKey := make([]byte, 32)
	rand.Read(dataKey)
	for _, k := range mks {
		if err := k.Encrypt(dataKey); err != nil {
			t.Fatalf("encrypting data key: %v", err)
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
	out, err := st.EmitEncryptedFile(tree)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func newAgeKey(t *testing.T) (identity string, mk *sopsage.MasterKey) {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	mk, err = sopsage.MasterKeyFromRecipient(id.Recipient().String())
	if err != nil {
		t.Fatal(err)
	}
	return id.String(), mk
}

func newPGPKey(t *testing.T) (armored []byte, mk *pgp.MasterKey) {
	t.Helper()
	e, err := openpgp.NewEntity("gitopskit test", "", "test@example.com", nil)
	if err != nil {
		t.Fatal(err)
	}
	var priv bytes.Buffer
	w, _ := armor.Encode(&priv, openpgp.PrivateKeyType, nil)
	if err := e.SerializePrivate(w, nil); err != nil {
		t.Fatal(err)
	}
	w.Close()
	// sops encrypts for a public key found in a keyring file.
	var pub bytes.Buffer
	if err := e.Serialize(&pub); err != nil {
		t.Fatal(err)
	}
	ring := filepath.Join(t.TempDir(), "pubring.gpg")
	if err := os.WriteFile(ring, pub.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	mk = pgp.NewMasterKeyFromFingerprint(strings.ToUpper(hex.EncodeToString(e.PrimaryKey.Fingerprint)))
	pgp.PubRing(ring).ApplyToMasterKey(mk)
	return priv.Bytes(), mk
}

const plainSecret = `apiVersion: v1
kind: Secret
metadata:
  name: db
  namespace: apps
stringData:
  password: hunter2-plaintext
`

func yamlStore() *sopsyaml.Store { return sopsyaml.NewStore(&config.YAMLStoreConfig{}) }

func secretValue(t *testing.T, objs []*unstructured.Unstructured, name, key string) string {
	t.Helper()
	s := find(t, objs, "Secret", name)
	if v, ok, _ := unstructured.NestedString(s.Object, "stringData", key); ok {
		return v
	}
	v, _, _ := unstructured.NestedString(s.Object, "data", key)
	b, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestSOPSRoundTrip(t *testing.T) {
	t.Parallel()
	ageID, ageMK := newAgeKey(t)
	pgpPriv, pgpMK := newPGPKey(t)
	for _, tc := range []struct {
		name string
		mk   keys.MasterKey
		dec  Decryption
	}{
		{"age", ageMK, Decryption{AgeIdentities: []string{ageID}}},
		{"openpgp", pgpMK, Decryption{PGPKeys: [][]byte{pgpPriv}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			enc := sopsEncrypt(t, yamlStore(), []byte(plainSecret), "^(data|stringData)$", tc.mk)
			env := sopsEncrypt(t, dotenv.NewStore(&config.DotenvStoreConfig{}), []byte("API_TOKEN=tok-plaintext\n"), "", tc.mk)
			if bytes.Contains(enc, []byte("hunter2")) || bytes.Contains(env, []byte("tok-plaintext")) {
				t.Fatal("test setup: not encrypted")
			}
			writeTree(t, root, map[string]string{
				"app/kustomization.yaml": "resources:\n- secret.yaml\nsecretGenerator:\n- name: gen\n  envs:\n  - api.env\n",
				"app/secret.yaml":        string(enc),
				"app/api.env":            string(env),
				"plain/secret.yaml":      string(enc),
			})
			objs := mustBuild(t, root, "app", Options{Decrypt: &tc.dec})
			if v := secretValue(t, objs, "db", "password"); v != "hunter2-plaintext" {
				t.Errorf("password = %q", v)
			}
			if _, ok := find(t, objs, "Secret", "db").Object["sops"]; ok {
				t.Error("sops metadata left in the object")
			}
			for _, o := range objs {
				if strings.HasPrefix(o.GetName(), "gen-") {
					if v := secretValue(t, objs, o.GetName(), "API_TOKEN"); v != "tok-plaintext" {
						t.Errorf("generated secret API_TOKEN = %q", v)
					}
				}
			}
			// Generator mode decrypts too.
			objs = mustBuild(t, root, "plain", Options{Decrypt: &tc.dec})
			if v := secretValue(t, objs, "db", "password"); v != "hunter2-plaintext" {
				t.Errorf("generator mode password = %q", v)
			}
		})
	}
}

func TestSOPSErrors(t *testing.T) {
	t.Parallel()
	ageID, ageMK := newAgeKey(t)
	otherID, _ := newAgeKey(t)
	otherPGP, _ := newPGPKey(t)
	root := t.TempDir()
	enc := sopsEncrypt(t, yamlStore(), []byte(plainSecret), "^(data|stringData)$", ageMK)
	optOut := sopsEncrypt(t, yamlStore(), []byte(strings.Replace(plainSecret, "namespace: apps", "namespace: apps\n  annotations:\n    kustomize.gitopskit.dev/decrypt: disabled", 1)), "^(data|stringData)$", ageMK)
	tampered := bytes.Replace(enc, []byte("namespace: apps"), []byte("namespace: evil"), 1)
	writeTree(t, root, map[string]string{
		"app/secret.yaml":      string(enc),
		"optout/secret.yaml":   string(optOut),
		"tampered/secret.yaml": string(tampered),
	})
	for name, dec := range map[string]*Decryption{
		"wrong age key": {AgeIdentities: []string{otherID}},
		"wrong pgp key": {PGPKeys: [][]byte{otherPGP}},
		"no key":        {},
	} {
		_, err := Build(context.Background(), root, "app", Options{Decrypt: dec})
		var de *DecryptError
		if !errors.As(err, &de) || de.Object != "Secret/apps/db" || de.Path != "app/secret.yaml" {
			t.Errorf("%s: want DecryptError naming Secret/apps/db, got %v", name, err)
			continue
		}
		msg := err.Error()
		for _, leak := range []string{otherID, "AGE-SECRET-KEY", "PRIVATE KEY", "hunter2"} {
			if strings.Contains(msg, leak) {
				t.Errorf("%s: error leaks %q: %s", name, leak, msg)
			}
		}
	}
	// Without Decrypt the file passes through encrypted.
	objs := mustBuild(t, root, "app", Options{})
	if _, ok := find(t, objs, "Secret", "db").Object["sops"]; !ok {
		t.Error("encrypted object changed without decryption enabled")
	}
	// Opt-out: passes through encrypted even with the right key around.
	objs = mustBuild(t, root, "optout", Options{Decrypt: &Decryption{AgeIdentities: []string{ageID}}})
	if v, _, _ := unstructured.NestedString(find(t, objs, "Secret", "db").Object, "stringData", "password"); !strings.HasPrefix(v, "ENC[") {
		t.Errorf("opted-out secret decrypted: %q", v)
	}
	// Tampering is detected by the MAC.
	_, err := Build(context.Background(), root, "tampered", Options{Decrypt: &Decryption{AgeIdentities: []string{ageID}}})
	var de *DecryptError
	if !errors.As(err, &de) || !strings.Contains(err.Error(), "MAC mismatch") {
		t.Errorf("tampered file: want MAC mismatch, got %v", err)
	}
	// Malformed keys are reported without their content.
	_, err = Build(context.Background(), root, "app", Options{Decrypt: &Decryption{AgeIdentities: []string{"AGE-SECRET-KEY-1NOTAKEY"}}})
	if err == nil || strings.Contains(err.Error(), "NOTAKEY") {
		t.Errorf("bad key error: %v", err)
	}
}
