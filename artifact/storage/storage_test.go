package storage_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gitopskit/kit/artifact"
	"github.com/gitopskit/kit/artifact/archive"
	"github.com/gitopskit/kit/artifact/storage"
)

var key = storage.Key{Kind: "gitrepository", Namespace: "default", Name: "podinfo"}

func newStorage(t *testing.T) *storage.Storage {
	t.Helper()
	s, err := storage.New(t.TempDir(), storage.WithBaseURL("http://source.example/"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func srcDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for n, c := range files {
		p := filepath.Join(dir, n)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestArchiveStoreVerifyLookup(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStorage(t)
	a, err := s.Archive(ctx, key, srcDir(t, map[string]string{"a.yaml": "a"}), "main@sha1:0123456789abcdef0123456789abcdef01234567", archive.Options{})
	if err != nil {
		t.Fatal(err)
	}
	wantPath := "gitrepository/default/podinfo/" + a.Digest.Hex() + ".tar.gz"
	if a.Path != wantPath || a.URL != "http://source.example/"+wantPath || a.Size == nil || a.LastUpdateTime.IsZero() {
		t.Fatalf("artifact %+v", a)
	}
	local, err := s.LocalPath(a)
	if err != nil {
		t.Fatal(err)
	}
	if err := artifact.VerifyFile(local, a.Digest); err != nil {
		t.Fatal(err)
	}
	if err := s.Verify(ctx, a); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(local); fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v", fi.Mode())
	}

	got, err := s.Lookup(ctx, key, filepath.Base(local))
	if err != nil {
		t.Fatal(err)
	}
	want := a
	want.Revision = ""
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("lookup (-want +got):\n%s", diff)
	}
	if _, err := s.Lookup(ctx, key, "missing.tar.gz"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("lookup missing: %v", err)
	}

	// Tampering is detected, by size and by digest.
	if err := os.WriteFile(local, []byte("tampered"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s.Verify(ctx, a); !errors.Is(err, storage.ErrSizeMismatch) {
		t.Errorf("verify tampered size: %v", err)
	}
	a.Size = nil
	var mm *artifact.DigestMismatchError
	if err := s.Verify(ctx, a); !errors.As(err, &mm) {
		t.Errorf("verify tampered digest: %v", err)
	}
	f, err := s.Open(ctx, a.Path)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if f.Digest == a.Digest {
		t.Error("Open served a stale cached digest after the file changed")
	}
}

func TestStoreReplacesAtomically(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStorage(t)
	for _, content := range []string{"first", "second"} {
		a, err := s.Store(ctx, key, "index.yaml", strings.NewReader(content), "sha256:"+strings.Repeat("a", 64))
		if err != nil {
			t.Fatal(err)
		}
		local, _ := s.LocalPath(a)
		b, _ := os.ReadFile(local)
		if string(b) != content || *a.Size != int64(len(content)) {
			t.Fatalf("stored %q size %d", b, *a.Size)
		}
		if err := s.Verify(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	ents, _ := os.ReadDir(filepath.Join(s.Root(), "gitrepository/default/podinfo"))
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if diff := cmp.Diff([]string{".lock", "index.yaml"}, names); diff != "" {
		t.Errorf("directory (-want +got):\n%s", diff)
	}
	// A failing reader leaves the previous file and no temporary file.
	_, err := s.Store(ctx, key, "index.yaml", &failingReader{}, "")
	if err == nil {
		t.Fatal("expected the reader's error")
	}
	b, _ := os.ReadFile(filepath.Join(s.Root(), "gitrepository/default/podinfo/index.yaml"))
	if string(b) != "second" {
		t.Errorf("content after failed store: %q", b)
	}
	ents, _ = os.ReadDir(filepath.Join(s.Root(), "gitrepository/default/podinfo"))
	if len(ents) != 2 {
		t.Errorf("leftovers: %v", ents)
	}
}

type failingReader struct{ n int }

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n > 0 {
		return 0, errors.New("connection lost")
	}
	r.n++
	return copy(p, "partial"), nil
}

func TestNamesThatEscapeAreRejected(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStorage(t)
	bad := []storage.Key{
		{Kind: "..", Namespace: "ns", Name: "n"},
		{Kind: "k", Namespace: "a/b", Name: "n"},
		{Kind: "k", Namespace: "ns", Name: ""},
		{Kind: "k", Namespace: ".hidden", Name: "n"},
		{Kind: "k", Namespace: "ns", Name: `..\..`},
		{Kind: "k", Namespace: "ns", Name: "n\x00"},
		{Kind: "k", Namespace: "ns", Name: strings.Repeat("n", 300)},
	}
	for _, k := range bad {
		if _, err := s.Store(ctx, k, "f", strings.NewReader("x"), ""); !errors.Is(err, storage.ErrInvalidName) {
			t.Errorf("Store(%q): %v", k, err)
		}
	}
	for _, f := range []string{"..", ".lock", "a/b", ""} {
		if _, err := s.Store(ctx, key, f, strings.NewReader("x"), ""); !errors.Is(err, storage.ErrInvalidName) {
			t.Errorf("Store file %q: %v", f, err)
		}
	}
	for _, p := range []string{"../../etc/passwd", "k/ns/n/../../x", "k/ns/n", "/k/ns/n/f", "k/ns/n/.lock"} {
		if _, err := s.LocalPath(artifact.Artifact{Path: p}); !errors.Is(err, storage.ErrInvalidName) {
			t.Errorf("LocalPath(%q): %v", p, err)
		}
		if _, err := s.Open(ctx, p); !errors.Is(err, storage.ErrInvalidName) {
			t.Errorf("Open(%q): %v", p, err)
		}
	}
	if entries, _ := os.ReadDir(s.Root()); len(entries) != 0 {
		t.Errorf("rejected names created %v", entries)
	}

	// A link planted in the tree cannot expose a file outside the root.
	outside := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(outside, []byte("secret"), 0o644)
	dir := filepath.Join(s.Root(), "k", "ns", "n")
	os.MkdirAll(dir, 0o755)
	os.Symlink(outside, filepath.Join(dir, "f"))
	if _, err := s.Open(ctx, "k/ns/n/f"); err == nil {
		t.Error("Open followed a link out of the root")
	}
	os.MkdirAll(filepath.Join(dir, "sub"), 0o755)
	if _, err := s.Open(ctx, "k/ns/n/sub"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Open(dir) = %v, want ErrNotFound", err)
	}
}

func TestGC(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStorage(t)
	now := time.Now()
	var arts []artifact.Artifact
	for i := range 5 {
		a, err := s.Store(ctx, key, fmt.Sprintf("a%d.tar.gz", i), strings.NewReader(fmt.Sprint(i)), "")
		if err != nil {
			t.Fatal(err)
		}
		local, _ := s.LocalPath(a)
		mt := now.Add(-time.Duration(10-i) * time.Hour) // a0 oldest, a4 newest
		os.Chtimes(local, mt, mt)
		arts = append(arts, a)
	}
	dir := filepath.Join(s.Root(), "gitrepository/default/podinfo")
	os.WriteFile(filepath.Join(dir, ".tmp-crashed"), []byte("x"), 0o644)

	// The current artifact is the oldest: it must survive.
	deleted, err := s.GC(ctx, arts[0], storage.GCOptions{Keep: 2})
	if err != nil {
		t.Fatal(err)
	}
	p := func(n string) string { return "gitrepository/default/podinfo/" + n }
	want := []string{p(".tmp-crashed"), p("a3.tar.gz"), p("a2.tar.gz"), p("a1.tar.gz")}
	if diff := cmp.Diff(want, deleted); diff != "" {
		t.Errorf("deleted (-want +got):\n%s", diff)
	}
	if !s.Exists(arts[0]) || !s.Exists(arts[4]) || s.Exists(arts[1]) {
		t.Error("wrong files kept")
	}
	// MaxAge removes a4 (6 hours old) but never the current one.
	deleted, err = s.GC(ctx, arts[0], storage.GCOptions{Keep: 10, MaxAge: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{p("a4.tar.gz")}, deleted); diff != "" {
		t.Errorf("deleted (-want +got):\n%s", diff)
	}
	if !s.Exists(arts[0]) {
		t.Error("current artifact deleted")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.GC(cctx, arts[0], storage.GCOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled GC: %v", err)
	}
	if err := s.Remove(ctx, key); err != nil {
		t.Fatal(err)
	}
	if s.Exists(arts[0]) {
		t.Error("Remove left the artifact")
	}
}

func TestConcurrentWritersSameKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStorage(t)
	src := srcDir(t, map[string]string{"a.yaml": "a", "b/c.yaml": "c"})
	var wg sync.WaitGroup
	digests := make([]artifact.Digest, 8)
	for i := range digests {
		wg.Go(func() {
			a, err := s.Archive(ctx, key, src, "", archive.Options{})
			if err != nil {
				t.Error(err)
				return
			}
			digests[i] = a.Digest
			if _, err := s.GC(ctx, a, storage.GCOptions{Keep: 1}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for _, d := range digests[1:] {
		if d != digests[0] {
			t.Fatalf("digests differ: %v", digests)
		}
	}
}

// TestLockAcrossProcesses holds a key's lock and runs this test binary as a
// second process that tries to take it.
func TestLockAcrossProcesses(t *testing.T) {
	if root := os.Getenv("STORAGE_LOCK_HELPER_ROOT"); root != "" {
		s, err := storage.New(root)
		if err != nil {
			os.Exit(2)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		unlock, err := s.Lock(ctx, key)
		if errors.Is(err, context.DeadlineExceeded) {
			os.Exit(3)
		}
		if err != nil {
			os.Exit(2)
		}
		unlock()
		os.Exit(0)
	}
	t.Parallel()
	s := newStorage(t)
	helper := func() int {
		cmd := exec.Command(os.Args[0], "-test.run=^TestLockAcrossProcesses$")
		cmd.Env = append(os.Environ(), "STORAGE_LOCK_HELPER_ROOT="+s.Root())
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatalf("helper: %v\n%s", err, out.String())
		}
		return 0
	}
	unlock, err := s.Lock(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	if code := helper(); code != 3 {
		t.Errorf("helper took a held lock (exit %d)", code)
	}
	unlock()
	if code := helper(); code != 0 {
		t.Errorf("helper could not take a free lock (exit %d)", code)
	}
}

func TestLockInProcess(t *testing.T) {
	t.Parallel()
	s := newStorage(t)
	unlock, err := s.Lock(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := s.Lock(ctx, key); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("second Lock: %v", err)
	}
	other, err := s.Lock(context.Background(), storage.Key{Kind: "k", Namespace: "ns", Name: "other"})
	if err != nil {
		t.Fatal(err)
	}
	other()
	unlock()
	again, err := s.Lock(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	again()
}

// FuzzOpen feeds request paths, as the server receives them, to Open: it
// must refuse or return a regular file inside the root.
func FuzzOpen(f *testing.F) {
	for _, s := range []string{"k/ns/n/f", "../k/ns/n/f", "k/ns/n/.lock", "k/ns/n/d", "k/ns/n/link", "k//n/f", "k/ns/n/f/"} {
		f.Add(s)
	}
	root := f.TempDir()
	s, err := storage.New(root)
	if err != nil {
		f.Fatal(err)
	}
	if _, err := s.Store(context.Background(), storage.Key{Kind: "k", Namespace: "ns", Name: "n"}, "f", strings.NewReader("data"), ""); err != nil {
		f.Fatal(err)
	}
	outside := filepath.Join(f.TempDir(), "secret")
	os.WriteFile(outside, []byte("secret"), 0o644)
	os.Symlink(outside, filepath.Join(root, "k/ns/n/link"))
	os.Mkdir(filepath.Join(root, "k/ns/n/d"), 0o755)
	f.Fuzz(func(t *testing.T, p string) {
		file, err := s.Open(context.Background(), p)
		if err != nil {
			return
		}
		defer file.Close()
		b, _ := io.ReadAll(file)
		if string(b) != "data" || p != "k/ns/n/f" {
			t.Fatalf("Open(%q) served %q", p, b)
		}
	})
}
