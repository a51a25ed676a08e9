package image

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	imagev1 "github.com/gitopskit/kit/examples/api/image/v1"
	"github.com/gitopskit/kit/examples/api/meta"
	"github.com/gitopskit/kit/git"
	"github.com/gitopskit/kit/git/gogit"
	"github.com/gitopskit/kit/git/verify"
	"github.com/gitopskit/kit/runtime/conditions"
)

// armored returns e's private or public key, armored; the private key
// encrypted with passphrase when one is given.
func armored(t *testing.T, e *openpgp.Entity, private bool, passphrase ...string) []byte {
	t.Helper()
	var b bytes.Buffer
	typ := openpgp.PublicKeyType
	if private {
		typ = openpgp.PrivateKeyType
	}
	w, err := armor.Encode(&b, typ, nil)
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case private && len(passphrase) > 0:
		enc := *e
		if err := enc.EncryptPrivateKeys([]byte(passphrase[0]), nil); err != nil {
			t.Fatal(err)
		}
		err = enc.SerializePrivateWithoutSigning(w, nil)
	case private:
		err = e.SerializePrivate(w, nil)
	default:
		err = e.Serialize(w)
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// An OpenPGP key in git.asc signs the pushed commit: git/verify accepts
// the commit's signature with the key's public half. An encrypted key is
// decrypted with the Secret's passphrase, which is never shown; a wrong
// one is InvalidSigningKey.
func TestAutomationSignsWithOpenPGP(t *testing.T) {
	f := newAutomationFixture(t, nil)
	h := f.h
	e, err := openpgp.NewEntity("gitopsd", "", "gitopsd@example.com", nil)
	if err != nil {
		t.Fatal(err)
	}
	h.create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "pgp"}, Data: map[string][]byte{"git.asc": armored(t, e, true)}})
	obj := automation("apps", func(s *imagev1.ImageUpdateAutomationSpec) {
		s.GitSpec.Commit.SigningKey = &imagev1.SigningKey{SecretRef: meta.LocalObjectReference{Name: "pgp"}}
	})
	h.create(obj)
	h.waitReady(obj)
	c, err := gogit.New(f.srv.HTTPURL("config.git"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Clone(context.Background(), filepath.Join(t.TempDir(), "c"), gogit.CloneOptions{Reference: git.Reference{Branch: "main"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Commit.Hash != obj.Status.LastPushCommit {
		t.Fatalf("main is %s, lastPushCommit %s", res.Commit.Hash, obj.Status.LastPushCommit)
	}
	kr, err := verify.NewKeyRing([][]byte{armored(t, e, false)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verify.Verify(res.Commit, kr, verify.ModeHead); err != nil {
		t.Errorf("the pushed commit does not verify: %v", err)
	}

	const pass = "pgp-key-passphrase-42"
	enc, err := openpgp.NewEntity("gitopsd", "", "gitopsd@example.com", nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, p := range map[string]string{"good": pass, "wrong": "not-the-" + pass} {
		h.create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "pgp-" + name}, Data: map[string][]byte{
			"git.asc": armored(t, enc, true, pass), "passphrase": []byte(p),
		}})
	}
	// The first automation pushed everything: a new tag gives the next
	// one something to commit.
	pushImage(t, f.reg, "app", "v1.5.0")
	h.request(&imagev1.ImageRepository{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: h.ns}})
	h.waitFor(obj, "the push of v1.5.0", func() bool { return obj.Status.LastPushCommit != res.Commit.Hash })
	wrong := automation("wrong", func(s *imagev1.ImageUpdateAutomationSpec) {
		s.GitSpec.Commit.SigningKey = &imagev1.SigningKey{SecretRef: meta.LocalObjectReference{Name: "pgp-wrong"}}
	})
	h.create(wrong)
	if c := h.waitNotReady(wrong, reasonInvalidSigningKey); !strings.Contains(c.Message, "the passphrase does not decrypt") || strings.Contains(c.Message, pass) {
		t.Errorf("conditions %+v", wrong.Status.Conditions)
	}
	// Only the next automation may push v1.6.0.
	if err := h.c.Patch(context.Background(), obj, client.RawPatch(client.Merge.Type(), []byte(`{"spec":{"suspend":true}}`))); err != nil {
		t.Fatal(err)
	}
	h.waitEvent("Normal Suspended")
	pushImage(t, f.reg, "app", "v1.6.0")
	good := automation("good", func(s *imagev1.ImageUpdateAutomationSpec) {
		s.GitSpec.Commit.SigningKey = &imagev1.SigningKey{SecretRef: meta.LocalObjectReference{Name: "pgp-good"}}
	})
	h.create(good)
	h.request(&imagev1.ImageRepository{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: h.ns}})
	h.waitFor(good, "a push signed with the encrypted key", func() bool { return good.Status.LastPushCommit != "" && conditions.IsReady(good) })
	res, err = c.Clone(context.Background(), filepath.Join(t.TempDir(), "c2"), gogit.CloneOptions{Reference: git.Reference{Branch: "main"}})
	if err != nil {
		t.Fatal(err)
	}
	kr, err = verify.NewKeyRing([][]byte{armored(t, enc, false)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Commit.Hash != good.Status.LastPushCommit {
		t.Fatalf("main is %s, the good automation pushed %s", res.Commit.Hash, good.Status.LastPushCommit)
	}
	if _, err := verify.Verify(res.Commit, kr, verify.ModeHead); err != nil {
		t.Errorf("the commit signed with the encrypted key does not verify: %v", err)
	}
}
