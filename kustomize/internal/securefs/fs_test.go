package securefs

import (
	"context"
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

func TestContextStopsEverything(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	f, _ := newFS(t, Options{Context: ctx})
	if _, err := f.ReadFile("/source/a.yaml"); err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := f.ReadFile("/source/a.yaml"); !errors.Is(err, context.Canceled) {
		t.Errorf("ReadFile after cancel: %v", err)
	}
	if f.Exists("/source/a.yaml") || f.IsDir("/source/d") {
		t.Error("Exists/IsDir after cancel")
	}
	if _, _, err := f.CleanedAbs("/source/d"); !errors.Is(err, context.Canceled) {
		t.Errorf("CleanedAbs after cancel: %v", err)
	}
	if len(f.Refusals()) == 0 {
		t.Error("the refusals were not recorded")
	}
}

func TestOverrideAndMemory(t *testing.T) {
	t.Parallel()
	f, _ := newFS(t, Options{})
	f.Override("d/kustomization.yaml", []byte("generated"))
	f.Override("a.yaml", []byte("replaced"))
	for p, want := range map[string]string{"/source/d/kustomization.yaml": "generated", "/source/a.yaml": "replaced", "/source/d/b.yaml": "bb"} {
		if b, err := f.ReadFile(p); err != nil || string(b) != want {
			t.Errorf("%s: %q %v", p, b, err)
		}
	}
	if st, err := f.Stat("/source/d/kustomization.yaml"); err != nil || st.IsDir() || st.Size() != 9 {
		t.Errorf("Stat of an override: %v %v", st, err)
	}
	if d, file, err := f.CleanedAbs("/source/d/kustomization.yaml"); err != nil || d != "/source/d" || file != "kustomization.yaml" {
		t.Errorf("CleanedAbs of an override: %q %q %v", d, file, err)
	}

	m := NewMemory(Options{MaxBytes: 10})
	if err := m.AddOverlayFile("x.yaml", []byte("0123456789abc")); err != nil {
		t.Fatal(err)
	}
	if _, err := m.ReadFile("/overlay/x.yaml"); !errors.Is(err, ErrLimit) {
		t.Errorf("memory files count against the limits: %v", err)
	}
	var pe *PathEscapeError
	if _, err := m.ReadFile("/source/a.yaml"); !errors.As(err, &pe) {
		t.Errorf("a memory filesystem has no source: %v", err)
	}
}

// Every file passes the alias bound and Inspect, through ReadFile and
// Open alike, and a refusal is recorded.
func TestContentChecks(t *testing.T) {
	t.Parallel()
	refuse := errors.New("refused by inspect")
	var seen []string
	f, outer := newFS(t, Options{AliasFloor: 10, Inspect: func(name string, data []byte) error {
		seen = append(seen, name)
		if string(data) == "bb" {
			return refuse
		}
		return nil
	}})
	bomb := "a: &a [1, 2, 3, 4, 5, 6, 7, 8]\nb: &b [*a, *a, *a, *a]\nc: [*b, *b, *b, *b]\n"
	os.WriteFile(filepath.Join(outer, "src", "bomb.yaml"), []byte(bomb), 0o644)
	if _, err := f.ReadFile("/source/a.yaml"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.ReadFile("/source/d/b.yaml"); !errors.Is(err, refuse) {
		t.Errorf("Inspect refusal: %v", err)
	}
	if _, err := f.Open("/source/d/b.yaml"); !errors.Is(err, refuse) {
		t.Errorf("Open must go through Inspect: %v", err)
	}
	var ae *AliasError
	if _, err := f.ReadFile("/source/bomb.yaml"); !errors.As(err, &ae) || ae.Path != "bomb.yaml" || ae.Line != 1 || !errors.Is(err, ErrLimit) {
		t.Errorf("alias bound: %v", err)
	}
	if diff := cmp.Diff([]string{"/source/a.yaml", "/source/d/b.yaml", "/source/d/b.yaml"}, seen); diff != "" {
		t.Errorf("Inspect saw (-want +got):\n%s", diff)
	}
	if n := len(f.Refusals()); n != 3 {
		t.Errorf("%d refusals recorded, want 3", n)
	}
	if file, err := f.Open("/source/a.yaml"); err != nil {
		t.Error(err)
	} else if _, err := file.Write([]byte("x")); !errors.Is(err, ErrReadOnly) {
		t.Errorf("write to an opened file: %v", err)
	}
}
