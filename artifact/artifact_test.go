package artifact_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitopskit/kit/artifact"
)

const (
	sha1Hex   = "0123456789abcdef0123456789abcdef01234567"
	sha256Hex = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08" // "test"
)

func TestParseRevision(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    artifact.Revision
		wantErr bool
	}{
		{in: "main@sha1:" + sha1Hex, want: artifact.Revision{Name: "main", Digest: "sha1:" + sha1Hex}},
		{in: "v1.2.0@sha256:" + sha256Hex, want: artifact.Revision{Name: "v1.2.0", Digest: "sha256:" + sha256Hex}},
		{in: "sha256:" + sha256Hex, want: artifact.Revision{Digest: "sha256:" + sha256Hex}},
		{in: "refs/heads/feature/x@sha1:" + sha1Hex, want: artifact.Revision{Name: "refs/heads/feature/x", Digest: "sha1:" + sha1Hex}},
		{in: "user@example@sha1:" + sha1Hex, want: artifact.Revision{Name: "user@example", Digest: "sha1:" + sha1Hex}},
		{in: "main/" + sha1Hex, want: artifact.Revision{Name: "main", Digest: "sha1:" + sha1Hex}},
		{in: "feature/a/" + sha1Hex, want: artifact.Revision{Name: "feature/a", Digest: "sha1:" + sha1Hex}},
		{in: "latest/" + sha256Hex, want: artifact.Revision{Name: "latest", Digest: "sha256:" + sha256Hex}},
		{in: sha1Hex, want: artifact.Revision{Digest: "sha1:" + sha1Hex}},
		{in: "", wantErr: true},
		{in: "main", wantErr: true},
		{in: "@sha1:" + sha1Hex, wantErr: true},
		{in: "/" + sha1Hex, wantErr: true},
		{in: "main@sha1:" + strings.ToUpper(sha1Hex), wantErr: true},
		{in: "main@sha1:abc", wantErr: true},
		{in: "main@md5:" + sha1Hex, wantErr: true},
		{in: "sha1:" + sha1Hex + "0", wantErr: true},
		{in: "ma\nin@sha1:" + sha1Hex, wantErr: true},
		{in: strings.Repeat("a", 5000) + "@sha1:" + sha1Hex, wantErr: true},
	}
	for _, tt := range tests {
		got, err := artifact.ParseRevision(tt.in)
		if tt.wantErr {
			if !errors.Is(err, artifact.ErrInvalidRevision) {
				t.Errorf("ParseRevision(%.40q) error = %v, want ErrInvalidRevision", tt.in, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseRevision(%q): %v", tt.in, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("ParseRevision(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}

func TestRevisionsEqual(t *testing.T) {
	t.Parallel()
	if !artifact.RevisionsEqual("main/"+sha1Hex, "main@sha1:"+sha1Hex) {
		t.Error("legacy and current forms should be equal")
	}
	if artifact.RevisionsEqual("main@sha1:"+sha1Hex, "dev@sha1:"+sha1Hex) {
		t.Error("different names should differ")
	}
	if artifact.RevisionsEqual("junk", "other") || !artifact.RevisionsEqual("junk", "junk") {
		t.Error("unparseable revisions compare as strings")
	}
	if got := artifact.NewRevision("v1", "sha256:"+sha256Hex); got != "v1@sha256:"+sha256Hex {
		t.Errorf("NewRevision = %q", got)
	}
	if got := artifact.NewRevision("", "sha256:"+sha256Hex); got != "sha256:"+sha256Hex {
		t.Errorf("NewRevision bare = %q", got)
	}
}

func FuzzParseRevision(f *testing.F) {
	for _, s := range []string{"main@sha1:" + sha1Hex, "sha256:" + sha256Hex, "a@b@sha1:" + sha1Hex, "main/" + sha1Hex, sha1Hex, "x@", "@", "/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := artifact.ParseRevision(s)
		if err != nil {
			if !errors.Is(err, artifact.ErrInvalidRevision) {
				t.Fatalf("error %v does not wrap ErrInvalidRevision", err)
			}
			return
		}
		if r.Digest == "" {
			t.Fatalf("parsed %q with no digest", s)
		}
		again, err := artifact.ParseRevision(r.String())
		if err != nil {
			t.Fatalf("String() of %q = %q does not parse: %v", s, r.String(), err)
		}
		if again != r {
			t.Fatalf("round trip of %q: %+v != %+v", s, again, r)
		}
	})
}

func TestDigests(t *testing.T) {
	t.Parallel()
	d, err := artifact.NewDigester(artifact.SHA256, artifact.SHA384, artifact.SHA512, artifact.BLAKE3, artifact.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Write([]byte("test")); err != nil {
		t.Fatal(err)
	}
	all := d.Digests()
	if len(all) != 4 {
		t.Fatalf("got %d digests, want 4 (duplicates computed once)", len(all))
	}
	if got := d.Digest(artifact.SHA256); got != "sha256:"+sha256Hex {
		t.Errorf("sha256 = %s", got)
	}
	for _, dg := range all {
		if err := dg.Validate(); err != nil {
			t.Errorf("%s: %v", dg, err)
		}
		if err := artifact.Verify(strings.NewReader("test"), dg); err != nil {
			t.Errorf("verify %s: %v", dg.Algorithm(), err)
		}
		var mm *artifact.DigestMismatchError
		if err := artifact.Verify(strings.NewReader("tesT"), dg); !errors.As(err, &mm) || mm.Expected != dg {
			t.Errorf("verify wrong content with %s: %v", dg.Algorithm(), err)
		}
	}
	if _, err := artifact.NewDigester(artifact.SHA1); !errors.Is(err, artifact.ErrUnsupportedAlgorithm) {
		t.Errorf("sha1 digester: %v", err)
	}
	if d.Digest(artifact.SHA1) != "" {
		t.Error("digest of an algorithm not computed should be empty")
	}

	for _, bad := range []string{"", "sha256", "sha256:" + strings.ToUpper(sha256Hex), "sha1:" + sha1Hex, "md5:abcd", "sha256:" + sha256Hex[1:]} {
		if _, err := artifact.ParseDigest(bad); !errors.Is(err, artifact.ErrInvalidDigest) {
			t.Errorf("ParseDigest(%q) = %v, want ErrInvalidDigest", bad, err)
		}
		if err := artifact.Verify(strings.NewReader("test"), artifact.Digest(bad)); err == nil {
			t.Errorf("Verify against %q should fail", bad)
		}
	}

	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, []byte("test"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := artifact.FromFile(path, "")
	if err != nil || got != "sha256:"+sha256Hex {
		t.Errorf("FromFile = %s, %v", got, err)
	}
	if err := artifact.VerifyFile(path, "sha256:"+sha256Hex); err != nil {
		t.Error(err)
	}
	var mm *artifact.DigestMismatchError
	if err := artifact.VerifyFile(path, artifact.Digest("sha256:"+strings.Repeat("0", 64))); !errors.As(err, &mm) {
		t.Errorf("VerifyFile mismatch = %v", err)
	}
}

func TestArtifactJSONAndDeepCopy(t *testing.T) {
	t.Parallel()
	size := int64(42)
	a := &artifact.Artifact{
		Path:           "gitrepository/ns/name/abc.tar.gz",
		URL:            "http://server/gitrepository/ns/name/abc.tar.gz",
		Revision:       "main@sha1:" + sha1Hex,
		Digest:         "sha256:" + sha256Hex,
		LastUpdateTime: metav1.NewTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)),
		Size:           &size,
		Metadata:       map[string]string{"k": "v"},
	}
	b, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"path":"gitrepository/ns/name/abc.tar.gz","url":"http://server/gitrepository/ns/name/abc.tar.gz","revision":"main@sha1:` + sha1Hex +
		`","digest":"sha256:` + sha256Hex + `","lastUpdateTime":"2026-01-02T03:04:05Z","size":42,"metadata":{"k":"v"}}`
	if !bytes.Equal(b, []byte(want)) {
		t.Errorf("json:\n got %s\nwant %s", b, want)
	}

	c := a.DeepCopy()
	if diff := cmp.Diff(a, c); diff != "" {
		t.Fatalf("DeepCopy differs:\n%s", diff)
	}
	*c.Size = 7
	c.Metadata["k"] = "changed"
	if *a.Size != 42 || a.Metadata["k"] != "v" {
		t.Error("DeepCopy shares memory with the original")
	}
	if (*artifact.Artifact)(nil).DeepCopy() != nil {
		t.Error("nil DeepCopy should be nil")
	}
	if !a.HasRevision("main/"+sha1Hex) || a.HasRevision("dev@sha1:"+sha1Hex) {
		t.Error("HasRevision")
	}
	if !a.HasDigest("sha256:"+sha256Hex) || a.HasDigest("") || (*artifact.Artifact)(nil).HasDigest("sha256:"+sha256Hex) {
		t.Error("HasDigest")
	}
}

func FuzzParseDigest(f *testing.F) {
	for _, s := range []string{"sha256:" + sha256Hex, "sha1:" + sha1Hex, "blake3:" + sha256Hex, "sha512:", ":", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := artifact.ParseDigest(s)
		if err != nil {
			if !errors.Is(err, artifact.ErrInvalidDigest) {
				t.Fatalf("error %v does not wrap ErrInvalidDigest", err)
			}
			return
		}
		if string(d) != s || !d.Algorithm().Available() || d.Algorithm().New().Size()*2 != len(d.Hex()) {
			t.Fatalf("accepted inconsistent digest %q", s)
		}
	})
}
