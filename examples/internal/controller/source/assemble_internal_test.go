package source

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCleanRelative(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"": ".", ".": ".", "./": ".", "deploy": "deploy", "./deploy/": "deploy", "a//b/./c": "a/b/c", "a..b": "a..b", "...": "...",
	} {
		got, err := cleanRelative("f", in)
		if err != nil || got != want {
			t.Errorf("cleanRelative(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"/etc", "..", "../x", "a/../../x", "a/..", "a\\..\\b", "a\x00b", "a/../b"} {
		if got, err := cleanRelative("spec.x", in); !errors.Is(err, errUnsafePath) || !strings.Contains(err.Error(), "spec.x") {
			t.Errorf("cleanRelative(%q) = %q, %v; want errUnsafePath naming the field", in, got, err)
		}
	}
}

func TestLinkStaysInside(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		rel, target string
		want        bool
	}{
		{"a", "b", true},
		{"d/a", "../b", true},
		{"d/e/a", "../../b/c", true},
		{"a", "./b", true},
		{"a", "../b", false}, // climbs above the subtree
		{"d/a", "../../b", false},
		{"a", "/etc/passwd", false},
		{"d/a", "l/../..", false}, // ".." after a normal element: l may be a link
		{"d/e/a", "x/../../../y", false},
		{"a", "", false},
		{"d/a", "..", true}, // the subtree's root
		{"a", "..", false},
		{"a", "b\x00", false},
	} {
		if got := linkStaysInside(tc.rel, tc.target); got != tc.want {
			t.Errorf("linkStaysInside(%q, %q) = %t, want %t", tc.rel, tc.target, got, tc.want)
		}
	}
}

// tree writes files (a value starting with "-> " is a symbolic link to the
// rest) under a new folder and returns it.
func tree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, v := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		if target, ok := strings.CutPrefix(v, "-> "); ok {
			err = os.Symlink(target, p)
		} else {
			err = os.WriteFile(p, []byte(v), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func openRoot(t *testing.T, dir string) *os.Root {
	t.Helper()
	r, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// copyTree copies files, folders and inside links, and refuses links out
// of the copied folder in every form, and limits crossed.
func TestCopyTree(t *testing.T) {
	t.Parallel()
	src := tree(t, map[string]string{
		"sub/a.yaml": "a", "sub/deep/b.yaml": "b", "sub/deep/up": "-> ../a.yaml", "sub/link": "-> deep/b.yaml",
		"outside.yaml": "secret",
	})
	dst := t.TempDir()
	lim := &copyLimits{entries: 100, bytes: 100}
	if err := copyTree(openRoot(t, src), openRoot(t, dst), "sub", "to/here", lim); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("copy to a missing parent: %v", err)
	}
	if err := os.Mkdir(filepath.Join(dst, "to"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := copyTree(openRoot(t, src), openRoot(t, dst), "sub", "to/here", lim); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dst, "to/here/deep/up")); err != nil || string(b) != "a" {
		t.Errorf("link inside the copy: %q, %v", b, err)
	}
	if lim.entries != 100-5 || lim.bytes != 100-2 {
		t.Errorf("limits left: %+v", lim)
	}

	for name, files := range map[string]map[string]string{
		"parent":                 {"sub/x": "-> ../outside.yaml", "outside.yaml": "s"},
		"absolute":               {"sub/x": "-> /etc/passwd"},
		"through another link":   {"sub/l": "-> .", "sub/d/x": "-> ../l/../../outside.yaml", "outside.yaml": "s"},
		"dot-dot after a name":   {"sub/d/x": "-> e/../../../outside.yaml"},
		"the copied root itself": {"sub": "-> other", "other/a": "a"},
	} {
		t.Run(name, func(t *testing.T) {
			src := tree(t, files)
			err := copyTree(openRoot(t, src), openRoot(t, t.TempDir()), "sub", "out", &copyLimits{entries: 100, bytes: 100})
			if !errors.Is(err, errUnsafePath) {
				t.Fatalf("want errUnsafePath, got %v", err)
			}
			t.Logf("refused: %v", err)
		})
	}

	for name, lim := range map[string]copyLimits{"entries": {entries: 2, bytes: 100}, "bytes": {entries: 100, bytes: 1}} {
		err := copyTree(openRoot(t, src), openRoot(t, t.TempDir()), "sub", "out", &lim)
		if !errors.Is(err, errCopyLimit) {
			t.Errorf("%s limit: want errCopyLimit, got %v", name, err)
		}
	}
}

// replaceFolder empties toPath and creates its parents, and refuses a
// parent that is a link or a file.
func TestReplaceFolder(t *testing.T) {
	t.Parallel()
	dir := tree(t, map[string]string{
		"vendor/lib/old.yaml": "old", "keep.yaml": "k", "link": "-> vendor", "file": "f",
	})
	root := openRoot(t, dir)
	if err := replaceFolder(root, "vendor/lib"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "vendor/lib")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("toPath not removed: %v", err)
	}
	if err := replaceFolder(root, "new/deep/lib"); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "new/deep")); err != nil || !fi.IsDir() {
		t.Errorf("parents not created: %v", err)
	}
	for _, p := range []string{"link/lib", "file/lib", "link/a/b"} {
		if err := replaceFolder(root, p); !errors.Is(err, errUnsafePath) {
			t.Errorf("replaceFolder(%q): want errUnsafePath, got %v", p, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "keep.yaml")); err != nil {
		t.Errorf("unrelated file removed: %v", err)
	}
	// The link itself as toPath is replaced, not followed.
	if err := replaceFolder(root, "link"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "vendor")); err != nil {
		t.Errorf("the link's target was removed: %v", err)
	}
}
