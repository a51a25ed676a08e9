package securefs

import (
	"errors"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func newFS(t *testing.T, opts Options) (*FS, string) {
	t.Helper()
	outer := t.TempDir()
	root := filepath.Join(outer, "src")
	for name, data := range map[string]string{"src/a.yaml": "a", "src/d/b.yaml": "bb", "outside.txt": "secret"} {
		p := filepath.Join(outer, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(data), 0o644)
	}
	os.Symlink("../outside.txt", filepath.Join(root, "out-link"))
	os.Symlink("d/b.yaml", filepath.Join(root, "in-link"))
	os.Symlink("../nowhere", filepath.Join(root, "dangling-out"))
	f, err := New(root, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f, outer
}

func TestFS(t *testing.T) {
	t.Parallel()
	f, outer := newFS(t, Options{})
	if b, err := f.ReadFile("/source/in-link"); err != nil || string(b) != "bb" {
		t.Fatalf("in-root symlink: %q, %v", b, err)
	}
	for _, p := range []string{"/source/out-link", "/source/dangling-out", "/source/../outside.txt", filepath.Join(outer, "outside.txt"), "/etc/passwd", "relative/../../x"} {
		var pe *PathEscapeError
		if _, err := f.ReadFile(p); !errors.As(err, &pe) {
			t.Errorf("ReadFile(%q): want PathEscapeError, got %v", p, err)
		}
	}
	if _, err := f.ReadFile("/source/missing"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	if len(f.Escapes()) == 0 {
		t.Error("escapes not recorded")
	}
	for name, err := range map[string]error{
		"WriteFile": f.WriteFile("/source/new", nil),
		"MkdirAll":  f.MkdirAll("/source/x"),
		"Mkdir":     f.Mkdir("/source/x"),
		"RemoveAll": f.RemoveAll("/source/a.yaml"),
	} {
		if !errors.Is(err, ErrReadOnly) {
			t.Errorf("%s: want ErrReadOnly, got %v", name, err)
		}
	}
	names, err := f.ReadDir("/source")
	sort.Strings(names)
	if err != nil || !cmp.Equal(names, []string{"a.yaml", "d", "dangling-out", "in-link", "out-link"}) {
		t.Errorf("ReadDir: %v, %v", names, err)
	}
	if d, file, err := f.CleanedAbs("/source/in-link"); err != nil || d != "/source" || file != "in-link" {
		t.Errorf("CleanedAbs: %q %q %v", d, file, err)
	}
	if !f.IsDir("/source/d") || f.Exists("/source/out-link") {
		t.Error("IsDir/Exists wrong")
	}
	m, err := f.Glob("/source/d/*.yaml")
	if err != nil || !cmp.Equal(m, []string{"/source/d/b.yaml"}) {
		t.Errorf("Glob: %v %v", m, err)
	}
	if err := f.AddOverlayFile("kustomization.yaml", []byte("k")); err != nil {
		t.Fatal(err)
	}
	if b, err := f.ReadFile("/overlay/kustomization.yaml"); err != nil || string(b) != "k" {
		t.Errorf("overlay: %q %v", b, err)
	}
}

func TestLimits(t *testing.T) {
	t.Parallel()
	f, _ := newFS(t, Options{MaxFiles: 1})
	if _, err := f.ReadFile("/source/a.yaml"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.ReadFile("/source/d/b.yaml"); !errors.Is(err, ErrLimit) || f.LimitErr() == nil {
		t.Fatalf("want ErrLimit, got %v", err)
	}
	f, _ = newFS(t, Options{MaxBytes: 2})
	if _, err := f.ReadFile("/source/a.yaml"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.ReadFile("/source/d/b.yaml"); !errors.Is(err, ErrLimit) {
		t.Fatalf("want ErrLimit, got %v", err)
	}
}
