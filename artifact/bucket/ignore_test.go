package bucket_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gitopskit/kit/artifact/archive"
	"github.com/gitopskit/kit/artifact/bucket"
	"github.com/gitopskit/kit/artifact/buckettest"
)

// ignoreTree exercises the rules: defaults, nested .sourceignore files with
// negations, anchored and directory patterns, a .sourceignore inside an
// ignored folder (never read), one that ignores itself.
var ignoreTree = map[string]string{
	"cm.yaml":                   "a",
	"logo.png":                  "default-ignored",
	"keep.png":                  "re-included by the root .sourceignore",
	".git/config":               "default-ignored folder",
	".github/workflows/ci.yaml": "default-ignored folder",
	".sourceignore":             "# root rules\n*.md\n!keep.png\n/build/\ntmp*\n",
	"README.md":                 "ignored by the root",
	"docs/guide.md":             "ignored by the root (unanchored)",
	"docs/guide.yaml":           "kept",
	"build/out.yaml":            "anchored folder",
	"src/build/out.yaml":        "not anchored here: kept",
	"tmpfile":                   "glob",
	"apps/.sourceignore":        "!*.md\nsecret.yaml\n.sourceignore\n",
	"apps/NOTES.md":             "re-included below apps/",
	"apps/secret.yaml":          "ignored below apps/",
	"apps/sub/secret.yaml":      "ignored below apps/ too",
	"apps/sub/cm.yaml":          "kept",
	"other/secret.yaml":         "kept: apps/ rules stay in apps/",
	"build/.sourceignore":       "!*\n", // inside an ignored folder: never read
	"build/x.yaml":              "stays ignored",
	"caller/drop.yaml":          "dropped by the caller's pattern",
	"caller/keep.yaml":          "kept",
}

var callerIgnore = []string{"/caller/drop.yaml", "*.tgz"}

// TestIgnoreRulesMatchArchive checks the selection against what
// archive.Build keeps from the same tree on disk with the same options:
// one set of rules, applied the same way.
func TestIgnoreRulesMatchArchive(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := buckettest.NewServer(t)
	srv.CreateBucket(t, "bkt")
	srv.PutObjects(t, "bkt", ignoreTree)
	c := newClient(t, srv)

	dir := t.TempDir()
	for k, v := range ignoreTree {
		p := filepath.Join(dir, filepath.FromSlash(k))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, opts := range []bucket.ListOptions{
		{Ignore: callerIgnore},
		{Ignore: callerIgnore, NoDefaultIgnore: true},
		{Ignore: callerIgnore, NoIgnoreFile: true},
		{},
	} {
		l, err := c.List(ctx, "bkt", opts)
		if err != nil {
			t.Fatal(err)
		}
		want := archivedFiles(t, dir, archive.Options{Ignore: opts.Ignore, NoDefaultIgnore: opts.NoDefaultIgnore, NoIgnoreFile: opts.NoIgnoreFile})
		if diff := cmp.Diff(want, keys(l)); diff != "" {
			t.Errorf("options %+v: selection differs from archive (-archive +bucket):\n%s", opts, diff)
		}
		if l.Ignored != len(ignoreTree)-len(l.Objects) {
			t.Errorf("options %+v: %d ignored, want %d", opts, l.Ignored, len(ignoreTree)-len(l.Objects))
		}
	}
	// build/.sourceignore lies in an ignored folder: it was never read.
	for _, r := range srv.Requests() {
		if r.Key == "build/.sourceignore" {
			t.Error("read the .sourceignore of an ignored folder")
		}
	}
}

// archivedFiles lists the regular files archive.Build packs from dir.
func archivedFiles(t *testing.T, dir string, opts archive.Options) []string {
	t.Helper()
	var buf bytes.Buffer
	if _, err := archive.Build(context.Background(), &buf, dir, opts); err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var out []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			out = append(out, h.Name)
		}
	}
	sort.Strings(out)
	return out
}

func TestIgnoreFileLimits(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := buckettest.NewServer(t)
	srv.CreateBucket(t, "bkt")
	srv.PutObject(t, "bkt", "a.yaml", []byte("a"))
	srv.PutObject(t, "bkt", "dir/.sourceignore", bytes.Repeat([]byte("x\n"), (1<<20)/2+1))
	c := newClient(t, srv)
	_, err := c.List(ctx, "bkt", bucket.ListOptions{})
	if !errors.Is(err, archive.ErrIgnoreFileTooLarge) || !strings.Contains(err.Error(), "dir/.sourceignore") {
		t.Fatalf("large .sourceignore: %v", err)
	}
	if n := srv.Count("GetObject"); n != 0 {
		t.Errorf("%d downloads of a .sourceignore over the limit, want 0 (its listed size is enough)", n)
	}
	// Left out by the caller, the folder's .sourceignore is never read.
	if _, err := c.List(ctx, "bkt", bucket.ListOptions{Ignore: []string{"/dir/"}}); err != nil {
		t.Errorf("ignored folder: %v", err)
	}
	if _, err := c.List(ctx, "bkt", bucket.ListOptions{NoIgnoreFile: true}); err != nil {
		t.Errorf("NoIgnoreFile: %v", err)
	}
}
