package image

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	imagev1 "github.com/gitopskit/kit/examples/api/image/v1"
	"github.com/gitopskit/kit/examples/api/meta"
	"github.com/gitopskit/kit/git"
	"github.com/gitopskit/kit/git/gogit"
	"github.com/gitopskit/kit/git/verify"
)

// armored returns e's private or public key, armored.
func armored(t *testing.T, e *openpgp.Entity, private bool) []byte {
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
	if private {
		err = e.SerializePrivate(w, nil)
	} else {
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
// the commit's signature with the key's public half.
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
}
