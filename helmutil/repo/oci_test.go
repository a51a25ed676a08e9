package repo_test

import (
	"bytes"
	"crypto"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/gitopskit/kit/oci"
	"github.com/gitopskit/kit/oci/ocitest"

	"github.com/gitopskit/kit/helmutil/helmtest"
	"github.com/gitopskit/kit/helmutil/repo"
)

// An OCI chart is selected by semver and pulled only with a trusted cosign
// signature.
func TestOCIChartBySemverWithCosignSignature(t *testing.T) {
	reg := ocitest.New(t, ocitest.WithTLS(), ocitest.WithBasicAuth("u", "p"))
	var signedTgz string
	digests := map[string]string{}
	for _, v := range []string{"1.0.0", "1.2.0", "1.3.0-rc.1", "2.0.0", "1.2.1+build.7"} {
		tgz := helmtest.PackageChart(t, helmtest.WriteChart(t, t.TempDir(), helmtest.Chart{Name: "app", Version: v}), t.TempDir())
		_, d := helmtest.PushChart(t, reg, tgz, "charts", helmtest.PushOptions{Username: "u", Password: "p"})
		digests[v] = d
		if v == "1.2.1+build.7" {
			signedTgz = tgz
		}
	}
	c, err := oci.NewClient(reg.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	r, err := repo.NewOCIRepository("oci://"+reg.Repo("charts"), c)
	if err != nil {
		t.Fatal(err)
	}
	for constraint, want := range map[string]string{
		"":              "2.0.0",
		"1.x":           "1.2.1+build.7",
		">=1.3.0-0 <2":  "1.3.0-rc.1",
		"1.0.0":         "1.0.0",
		"1.2.1+build.7": "1.2.1+build.7",
	} {
		got, err := r.Resolve(ctx(t), "app", constraint)
		if err != nil || got.Version != want || got.Digest != digests[want] {
			t.Fatalf("%q: %+v %v, want %s", constraint, got, err, want)
		}
	}
	if _, err := r.Resolve(ctx(t), "app", "3.x"); !errors.Is(err, repo.ErrVersionNotFound) {
		t.Fatalf("no match: %v", err)
	}

	signer := ocitest.NewSigner(t)
	ch, err := r.Resolve(ctx(t), "app", "~1.2")
	if err != nil {
		t.Fatal(err)
	}
	reg.Sign(t, signer, reg.Repo("charts/app")+"@"+ch.Digest)
	verify := &oci.VerifyOptions{PublicKeys: []crypto.PublicKey{signer.PublicKey()}}
	dir := t.TempDir()
	dst := filepath.Join(dir, "app.tgz")
	pulled, err := r.Pull(ctx(t), ch, dst, repo.OCIPullOptions{Verify: verify})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(signedTgz)
	got, _ := os.ReadFile(dst)
	if !bytes.Equal(want, got) || pulled.Verified == nil || pulled.Revision != "1.2.1+build.7@"+ch.Digest {
		t.Fatalf("pulled %+v", pulled)
	}

	// Unsigned, or signed by another key: refused, nothing written.
	os.Remove(dst)
	unsigned, _ := r.Resolve(ctx(t), "app", "2.0.0")
	if _, err := r.Pull(ctx(t), unsigned, dst, repo.OCIPullOptions{Verify: verify}); !errors.Is(err, oci.ErrNoSignature) {
		t.Fatalf("unsigned: %v", err)
	}
	other := ocitest.NewSigner(t)
	if _, err := r.Pull(ctx(t), ch, dst, repo.OCIPullOptions{Verify: &oci.VerifyOptions{PublicKeys: []crypto.PublicKey{other.PublicKey()}}}); !errors.Is(err, oci.ErrUntrusted) {
		t.Fatalf("other key: %v", err)
	}
	// Over the chart size limit: refused before the layer is fetched.
	if _, err := r.Pull(ctx(t), ch, dst, repo.OCIPullOptions{MaxBytes: 10}); !errors.Is(err, oci.ErrTooLarge) {
		t.Fatalf("over the limit: %v", err)
	}
	assertEmptyDir(t, dir)
}
