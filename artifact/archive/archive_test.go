package archive_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gitopskit/kit/artifact/archive"
)

// writeTree creates files (content) and, for names ending in '/', directories.
func writeTree(t testing.TB, dir string, files map[string]string, perm os.FileMode) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if name[len(name)-1] == '/' {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), perm); err != nil {
			t.Fatal(err)
		}
	}
}

type entry struct {
	Name, Link string
	Type       byte
	Mode       int64
	Content    string
}

// readArchive lists a tar.gz with the standard library and checks the
// normalised header fields on the way.
func readArchive(t testing.TB, data []byte) []entry {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var out []entry
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.ModTime.Unix() != 0 || h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" {
			t.Errorf("%s: header not normalised: %+v", h.Name, h)
		}
		c, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, entry{Name: h.Name, Link: h.Linkname, Type: h.Typeflag, Mode: h.Mode, Content: string(c)})
	}
	return out
}

func build(t testing.TB, dir string, opts archive.Options) ([]byte, archive.Result) {
	t.Helper()
	var buf bytes.Buffer
	res, err := archive.Build(context.Background(), &buf, dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(buf.Bytes())
	if want := "sha256:" + hex.EncodeToString(sum[:]); string(res.Digest) != want {
		t.Fatalf("digest %s, want %s", res.Digest, want)
	}
	if res.Size != int64(buf.Len()) {
		t.Fatalf("size %d, want %d", res.Size, buf.Len())
	}
	return buf.Bytes(), res
}

func TestBuildContentAndNormalisation(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"b.yaml":        "b",
		"a/z.yaml":      "z",
		"a/b/c.yaml":    "c",
		"empty/":        "",
		"a.yaml":        "a",
		"script.sh":     "#!/bin/sh",
		".git/HEAD":     "ref",
		"logo.png":      "png",
		".gitignore":    "x",
		".github/x.yml": "ci",
	}, 0o600)
	if err := os.Chmod(filepath.Join(dir, "script.sh"), 0o700); err != nil {
		t.Fatal(err)
	}
	data, res := build(t, dir, archive.Options{})
	want := []entry{
		{Name: "a/", Type: tar.TypeDir, Mode: 0o755},
		{Name: "a/b/", Type: tar.TypeDir, Mode: 0o755},
		{Name: "a/b/c.yaml", Type: tar.TypeReg, Mode: 0o644, Content: "c"},
		{Name: "a/z.yaml", Type: tar.TypeReg, Mode: 0o644, Content: "z"},
		{Name: "a.yaml", Type: tar.TypeReg, Mode: 0o644, Content: "a"},
		{Name: "b.yaml", Type: tar.TypeReg, Mode: 0o644, Content: "b"},
		{Name: "empty/", Type: tar.TypeDir, Mode: 0o755},
		{Name: "script.sh", Type: tar.TypeReg, Mode: 0o755, Content: "#!/bin/sh"},
	}
	if diff := cmp.Diff(want, readArchive(t, data)); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
	if res.Entries != len(want) || len(res.Skipped) != 0 {
		t.Errorf("result %+v", res)
	}
}

// TestReproducible builds the same content created in different orders, with
// different permissions, times, owners and GOMAXPROCS, and compares bytes.
func TestReproducible(t *testing.T) {
	// Not parallel: it changes GOMAXPROCS.
	rng := rand.New(rand.NewPCG(3, 4))
	files := map[string]string{}
	for i := range 300 {
		files[fmt.Sprintf("d%d/f%03d.yaml", i%7, i)] = fmt.Sprintf("kind: ConfigMap\nname: n%d\n", i)
	}
	big := make([]byte, 300<<10) // several compression blocks, half random
	for i := range big {
		if i%2 == 0 {
			big[i] = byte(rng.Uint32())
		} else {
			big[i] = 'y'
		}
	}
	files["big.bin"] = string(big)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}

	mk := func(order []string, perm os.FileMode, mtime time.Time, uid int) string {
		dir := t.TempDir()
		for _, n := range order {
			writeTree(t, dir, map[string]string{n: files[n]}, perm)
			p := filepath.Join(dir, filepath.FromSlash(n))
			if err := os.Chtimes(p, mtime, mtime); err != nil {
				t.Fatal(err)
			}
			if os.Geteuid() == 0 {
				if err := os.Lchown(p, uid, uid); err != nil {
					t.Fatal(err)
				}
			}
		}
		return dir
	}
	reversed := make([]string, len(names))
	for i, n := range names {
		reversed[len(names)-1-i] = n
	}
	rng.Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
	old := syscall.Umask(0o077)
	dirA := mk(names, 0o644, time.Unix(1000, 0), 1000)
	syscall.Umask(0o022)
	dirB := mk(reversed, 0o664, time.Unix(2_000_000_000, 0), 2000)
	syscall.Umask(old)

	ref, _ := build(t, dirA, archive.Options{BlockSize: 64 << 10})
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, procs := range []int{1, 2, 8} {
		runtime.GOMAXPROCS(procs)
		for _, workers := range []int{0, 3} {
			for _, dir := range []string{dirA, dirB} {
				got, _ := build(t, dir, archive.Options{BlockSize: 64 << 10, Workers: workers})
				if !bytes.Equal(ref, got) {
					t.Fatalf("GOMAXPROCS=%d workers=%d dir=%s: bytes differ", procs, workers, dir)
				}
			}
		}
	}
	if n := len(readArchive(t, ref)); n != 308 {
		t.Errorf("entries = %d, want 308", n)
	}
}

func TestIgnoreRules(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		".sourceignore":      "# comment\n*.tmp\n/build/\n",
		"app/.sourceignore":  "secret.yaml\n!keep.tmp\n",
		"app/secret.yaml":    "s",
		"app/keep.tmp":       "k",
		"app/drop.tmp":       "d",
		"app/ok.yaml":        "ok",
		"other/secret.yaml":  "visible",
		"build/out":          "o",
		"sub/build/out":      "kept: anchored pattern",
		"x.tmp":              "x",
		"logo.png":           "png",
		"caller/dropme.yaml": "c",
		".git/config":        "g",
	}, 0o644)
	data, _ := build(t, dir, archive.Options{Ignore: []string{"caller/dropme.yaml", "!logo.png"}})
	var got []string
	for _, e := range readArchive(t, data) {
		got = append(got, e.Name)
	}
	want := []string{".sourceignore", "app/", "app/.sourceignore", "app/keep.tmp", "app/ok.yaml", "caller/", "logo.png", "other/", "other/secret.yaml", "sub/", "sub/build/", "sub/build/out"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}

	data, _ = build(t, dir, archive.Options{NoDefaultIgnore: true, NoIgnoreFile: true})
	if n := len(readArchive(t, data)); n != 20 {
		t.Errorf("without ignore rules: %d entries, want 20", n)
	}
}

func TestSymlinks(t *testing.T) {
	t.Parallel()
	outside := t.TempDir()
	writeTree(t, outside, map[string]string{"secret": "s"}, 0o644)
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"a/file": "f", "a/sub/x": "x"}, 0o644)
	links := map[string]string{
		"ok":            "a/file",
		"a/up":          "../a/file",
		"a/dirlink":     "sub",
		"abs":           filepath.Join(outside, "secret"),
		"escape":        "../" + filepath.Base(outside) + "/secret",
		"dot":           ".",
		"tricky":        "dot/../" + filepath.Base(dir) + "/a/file", // leaves the root and comes back
		"dangling":      "missing",
		"outsidedir":    outside,
		"a/sub/deep/..": "",
	}
	for name, target := range links {
		if target == "" {
			continue
		}
		if err := os.Symlink(target, filepath.Join(dir, filepath.FromSlash(name))); err != nil {
			t.Fatal(err)
		}
	}
	data, res := build(t, dir, archive.Options{})
	got := map[string]string{}
	for _, e := range readArchive(t, data) {
		if e.Type == tar.TypeSymlink {
			got[e.Name] = e.Link
		}
	}
	want := map[string]string{"ok": "a/file", "a/up": "../a/file", "a/dirlink": "sub", "dot": "."}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("links (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"abs", "dangling", "escape", "outsidedir", "tricky"}, res.Skipped); diff != "" {
		t.Errorf("skipped (-want +got):\n%s", diff)
	}
}

func TestBuildCancelled(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"a": "a"}, 0o644)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := archive.Build(ctx, io.Discard, dir, archive.Options{}); err == nil {
		t.Fatal("expected a cancellation error")
	}
	if _, err := archive.Build(context.Background(), io.Discard, filepath.Join(dir, "missing"), archive.Options{}); err == nil {
		t.Fatal("expected an error for a missing directory")
	}
}

// FuzzIgnoreFile feeds arbitrary .sourceignore content (it comes from the
// repository being archived): Build must succeed, never panic, and keep its
// output readable.
func FuzzIgnoreFile(f *testing.F) {
	for _, s := range []string{"*.yaml\n!keep.yaml\n", "/a/**/b\n", "[\n", "\\!x\n#c\n", "**/\n!**\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, rules string) {
		dir := t.TempDir()
		writeTree(t, dir, map[string]string{"a/b/keep.yaml": "k", "a/x.yaml": "x", "c.txt": "c", ".sourceignore": rules}, 0o644)
		var buf bytes.Buffer
		if _, err := archive.Build(context.Background(), &buf, dir, archive.Options{Workers: 1}); err != nil {
			t.Fatal(err)
		}
		readArchive(t, buf.Bytes())
	})
}
