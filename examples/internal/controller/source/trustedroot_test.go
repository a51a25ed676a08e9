package source_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gitopskit/kit/examples/internal/controller/source"
	"github.com/gitopskit/kit/oci/ocitest"
)

// A trusted root file is read again when it changes (a rotated root is used
// without a restart), and a file that became invalid is an error, never
// the previous root.
func TestTrustedRootFile(t *testing.T) {
	t.Parallel()
	a := ocitest.NewKeylessSigner(t, "a@example.com", "https://accounts.google.com")
	b := ocitest.NewKeylessSigner(t, "b@example.com", "https://accounts.google.com")
	p := filepath.Join(t.TempDir(), "trusted_root.json")
	write := func(data []byte, mtime time.Time) {
		t.Helper()
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	t0 := time.Now().Add(-time.Hour)
	write(a.TrustedRootJSON(), t0)
	f, err := source.NewTrustedRootFile(p)
	if err != nil {
		t.Fatal(err)
	}
	first, err := f.Get()
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := f.Get(); again != first {
		t.Error("an unchanged file was parsed again")
	}
	write(b.TrustedRootJSON(), t0.Add(time.Minute))
	second, err := f.Get()
	if err != nil {
		t.Fatal(err)
	}
	if second == first {
		t.Fatal("the changed file was not read again")
	}
	got, err := second.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := b.TrustedRoot().MarshalJSON(); string(got) != string(want) {
		t.Error("the root read is not the new file's")
	}

	write([]byte("{"), t0.Add(2*time.Minute))
	if _, err := f.Get(); err == nil || !strings.Contains(err.Error(), p) {
		t.Fatalf("invalid file: got %v, want an error naming it", err)
	}
	if _, err := source.NewTrustedRootFile(filepath.Join(t.TempDir(), "absent.json")); err == nil {
		t.Error("a missing file was accepted")
	}
}
