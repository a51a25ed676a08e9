package oci_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/gitopskit/kit/artifact/untar"
	"github.com/gitopskit/kit/oci"
	"github.com/gitopskit/kit/oci/ocitest"
)

var appFiles = map[string]string{
	"kustomization.yaml":   "resources: [deploy.yaml]\n",
	"deploy.yaml":          "kind: Deployment\n",
	"nested/dir/file.yaml": "a: 1\n",
}

func TestPushPullByTagAndDigest(t *testing.T) {
	t.Parallel()
	reg := ocitest.New(t)
	c := newClient(t, reg)
	src := writeTree(t, appFiles)
	ref := reg.Repo("team/app") + ":v1.0.0"
	digest, err := c.Push(ctx(t), ref, src, oci.PushOptions{
		Source: "https://github.com/org/app", Revision: "main@sha1:0123456789abcdef0123456789abcdef01234567", Created: fixedTime,
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(digest, "sha256:") || len(digest) != len("sha256:")+64 {
		t.Fatalf("digest %q", digest)
	}
	digestRef := reg.Repo("team/app") + "@" + digest

	for _, r := range []string{ref, "oci://" + ref, digestRef} {
		dst := filepath.Join(t.TempDir(), "out")
		md, err := c.Pull(ctx(t), r, dst, oci.PullOptions{})
		if err != nil {
			t.Fatalf("pull %s: %v", r, err)
		}
		diff(t, appFiles, readTree(t, dst))
		wantRev := "v1.0.0@" + digest
		if r == digestRef {
			wantRev = digest
		}
		diff(t, wantRev, md.Revision)
		diff(t, digest, md.Digest)
		diff(t, "https://github.com/org/app", md.Source)
		diff(t, "main@sha1:0123456789abcdef0123456789abcdef01234567", md.SourceRevision)
		diff(t, "2025-01-02T03:04:05Z", md.Created)
		diff(t, oci.ContentMediaType, string(md.Layer.MediaType))
	}
}

// The manifest we push carries exactly Flux's media types and annotations.
func TestPushManifestIsFluxFormat(t *testing.T) {
	t.Parallel()
	reg := ocitest.New(t)
	c := newClient(t, reg)
	ref := reg.Repo("app") + ":v1"
	_, err := c.Push(ctx(t), ref, writeTree(t, appFiles), oci.PushOptions{
		Source: "https://github.com/org/app", Revision: "main@sha1:abc", Created: fixedTime,
		Annotations: map[string]string{"team": "platform", oci.AnnotationCreated: "ignored"},
	})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := name.ParseReference(ref, name.Insecure)
	desc, err := remote.Get(r, remote.WithTransport(reg.HTTPClient().Transport))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(desc.Manifest, &m); err != nil {
		t.Fatal(err)
	}
	layers := m["layers"].([]any)
	if len(layers) != 1 {
		t.Fatalf("%d layers", len(layers))
	}
	got := map[string]any{
		"schemaVersion": m["schemaVersion"],
		"mediaType":     m["mediaType"],
		"config":        m["config"].(map[string]any)["mediaType"],
		"configSize":    m["config"].(map[string]any)["size"],
		"layer":         layers[0].(map[string]any)["mediaType"],
		"annotations":   m["annotations"],
	}
	want := map[string]any{
		"schemaVersion": 2.0,
		"mediaType":     "application/vnd.oci.image.manifest.v1+json",
		"config":        "application/vnd.cncf.flux.config.v1+json",
		"configSize":    2.0,
		"layer":         "application/vnd.cncf.flux.content.v1.tar+gzip",
		"annotations": map[string]any{
			"org.opencontainers.image.source":   "https://github.com/org/app",
			"org.opencontainers.image.revision": "main@sha1:abc",
			"org.opencontainers.image.created":  "2025-01-02T03:04:05Z",
			"team":                              "platform",
		},
	}
	diff(t, want, got)
	// Only known top-level keys.
	for k := range m {
		switch k {
		case "schemaVersion", "mediaType", "config", "layers", "annotations":
		default:
			t.Errorf("unexpected manifest key %q", k)
		}
	}
}

func TestPushTwiceSameDigest(t *testing.T) {
	t.Parallel()
	reg := ocitest.New(t)
	c := newClient(t, reg)
	src := writeTree(t, appFiles)
	o := oci.PushOptions{Revision: "main@sha1:abc", Created: fixedTime, Tags: []string{"latest"}}
	d1, err := c.Push(ctx(t), reg.Repo("app")+":a", src, o)
	if err != nil {
		t.Fatal(err)
	}
	d2, err := c.Push(ctx(t), reg.Repo("app")+":b", writeTree(t, appFiles), o)
	if err != nil {
		t.Fatal(err)
	}
	diff(t, d1, d2)
	latest, err := c.Resolve(ctx(t), reg.Repo("app")+":latest")
	if err != nil {
		t.Fatal(err)
	}
	diff(t, d1, latest)
}

// An artifact laid out by hand in Flux's format (not by Push) pulls.
func TestPullHandMadeFluxArtifact(t *testing.T) {
	t.Parallel()
	reg := ocitest.New(t)
	c := newClient(t, reg)
	layer := makeTar(t, true,
		tarEntry{name: "./", typ: '5', mode: 0o755},
		tarEntry{name: "./app/config.yaml", body: "x: 1\n"},
		tarEntry{name: "./app/run.sh", body: "#!/bin/sh\n", mode: 0o755},
	)
	ann := map[string]string{oci.AnnotationSource: "https://example.com/repo.git", oci.AnnotationRevision: "v1@sha1:beef", oci.AnnotationCreated: "2024-01-01T00:00:00Z"}
	digest := pushHandMade(t, reg, reg.Repo("flux/app")+":6.0.0", layer, oci.ContentMediaType, ann)
	dst := filepath.Join(t.TempDir(), "out")
	md, err := c.Pull(ctx(t), "oci://"+reg.Repo("flux/app")+":6.0.0", dst, oci.PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	diff(t, map[string]string{"app/config.yaml": "x: 1\n", "app/run.sh": "#!/bin/sh\n"}, readTree(t, dst))
	diff(t, "6.0.0@"+digest, md.Revision)
	diff(t, ann, md.Annotations)
	diff(t, "v1@sha1:beef", md.SourceRevision)
}

func TestPushFile(t *testing.T) {
	t.Parallel()
	reg := ocitest.New(t)
	c := newClient(t, reg)
	dir := writeTree(t, map[string]string{"bundle.zip": "not really a zip"})
	file := filepath.Join(dir, "bundle.zip")

	// Archived alone (default ignore rules do not drop a .zip given explicitly).
	if _, err := c.PushFile(ctx(t), reg.Repo("file")+":archived", file, oci.PushOptions{Created: fixedTime}); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "out")
	if _, err := c.Pull(ctx(t), reg.Repo("file")+":archived", dst, oci.PullOptions{}); err != nil {
		t.Fatal(err)
	}
	diff(t, map[string]string{"bundle.zip": "not really a zip"}, readTree(t, dst))

	// As is, under a media type of its own, copied back as is.
	const mt = "application/vnd.example.zip"
	if _, err := c.PushFile(ctx(t), reg.Repo("file")+":raw", file, oci.PushOptions{LayerMediaType: mt}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "copy.zip")
	md, err := c.Pull(ctx(t), reg.Repo("file")+":raw", out, oci.PullOptions{LayerMediaType: mt, Copy: true})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "not really a zip", string(b))
	diff(t, mt, string(md.Layer.MediaType))

	if _, err := c.Pull(ctx(t), reg.Repo("file")+":raw", filepath.Join(t.TempDir(), "x"), oci.PullOptions{LayerMediaType: "application/other"}); !errors.Is(err, oci.ErrNoLayer) {
		t.Fatalf("want ErrNoLayer, got %v", err)
	}
}

func TestPullHostileLayers(t *testing.T) {
	t.Parallel()
	reg := ocitest.New(t)
	c := newClient(t, reg)
	big := strings.Repeat("A", 1<<20)
	tests := []struct {
		name  string
		layer []byte
		opts  oci.PullOptions
		c     *oci.Client
		want  error
	}{
		{"path escape", makeTar(t, true, tarEntry{name: "ok.yaml", body: "a"}, tarEntry{name: "../../evil", body: "x"}), oci.PullOptions{}, c, untar.ErrUnsafePath},
		{"absolute path", makeTar(t, true, tarEntry{name: "/etc/evil", body: "x"}), oci.PullOptions{}, c, untar.ErrUnsafePath},
		{"symlink out then write through", makeTar(t, true, tarEntry{name: "l", typ: '2', link: "/"}, tarEntry{name: "l/etc/x", body: "x"}), oci.PullOptions{}, c, nil},
		{"bomb over untar limit", makeTar(t, true, tarEntry{name: "big", body: big}), oci.PullOptions{Untar: untar.Options{MaxBytes: 64 << 10}}, c, untar.ErrLimitExceeded},
		{"layer over size limit", makeTar(t, true, tarEntry{name: "big", body: big}), oci.PullOptions{}, newClient(t, reg, oci.WithMaxLayerSize(1024)), oci.ErrTooLarge},
		{"layer over the call's size limit", makeTar(t, true, tarEntry{name: "big", body: big}), oci.PullOptions{MaxLayerSize: 1024}, c, oci.ErrTooLarge},
		{"copied layer over the call's size limit", makeTar(t, true, tarEntry{name: "big", body: big}), oci.PullOptions{MaxLayerSize: 1024, Copy: true}, c, oci.ErrTooLarge},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ref := reg.Repo("hostile") + ":" + string(rune('a'+i))
			pushHandMade(t, reg, ref, tt.layer, oci.ContentMediaType, nil)
			dst := filepath.Join(t.TempDir(), "out")
			_, err := tt.c.Pull(ctx(t), ref, dst, tt.opts)
			if err == nil {
				t.Fatal("hostile layer pulled")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("want %v, got %v", tt.want, err)
			}
			assertNothingAt(t, dst)
		})
	}
}

// A registry serving a blob whose bytes differ from its digest (same length,
// still a valid tar) is caught before anything lands in dst.
func TestPullTamperedLayer(t *testing.T) {
	t.Parallel()
	tamper := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodGet || !strings.Contains(r.URL.Path, "/blobs/") {
				next.ServeHTTP(w, r)
				return
			}
			rec := &recorder{header: http.Header{}}
			next.ServeHTTP(rec, r)
			for k, v := range rec.header {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.code())
			_, _ = w.Write(bytes.ReplaceAll(rec.body.Bytes(), []byte("GOOD-CONTENT"), []byte("EVIL-CONTENT")))
		})
	}
	reg := ocitest.New(t, ocitest.WithMiddleware(tamper))
	c := newClient(t, reg)
	ref := reg.Repo("tampered") + ":v1"
	pushHandMade(t, reg, ref, makeTar(t, false, tarEntry{name: "f.yaml", body: "GOOD-CONTENT"}), oci.ContentMediaType, nil)
	for _, copyLayer := range []bool{false, true} {
		dst := filepath.Join(t.TempDir(), "out")
		_, err := c.Pull(ctx(t), ref, dst, oci.PullOptions{Copy: copyLayer})
		if err == nil {
			t.Fatalf("copy=%v: tampered layer pulled", copyLayer)
		}
		assertNothingAt(t, dst)
	}
}

type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }
func (r *recorder) WriteHeader(s int)           { r.status = s }
func (r *recorder) code() int {
	if r.status == 0 {
		return http.StatusOK
	}
	return r.status
}

func TestPullErrors(t *testing.T) {
	t.Parallel()
	reg := ocitest.New(t)
	c := newClient(t, reg)
	dst := filepath.Join(t.TempDir(), "out")
	if _, err := c.Pull(ctx(t), reg.Repo("missing")+":v1", dst, oci.PullOptions{}); !errors.Is(err, oci.ErrNotFound) {
		t.Fatalf("want ErrNotFound, got %v", err)
	}
	ref := reg.Repo("app") + ":v1"
	d, err := c.Push(ctx(t), ref, writeTree(t, appFiles), oci.PushOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// A digest the registry does not have.
	bad := reg.Repo("app") + "@" + d[:len(d)-4] + "0000"
	if _, err := c.Pull(ctx(t), bad, dst, oci.PullOptions{}); err == nil {
		t.Fatal("pulled an unknown digest")
	}
	for _, r := range []string{"", "not a ref", "oci://user:secret@" + ref} {
		_, err := c.Pull(ctx(t), r, dst, oci.PullOptions{})
		if !errors.Is(err, oci.ErrInvalidReference) {
			t.Fatalf("%q: want ErrInvalidReference, got %v", r, err)
		}
		if strings.Contains(err.Error(), "secret") {
			t.Fatalf("error leaks credentials: %v", err)
		}
	}
	_ = io.Discard
}
