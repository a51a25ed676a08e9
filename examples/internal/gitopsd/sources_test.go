package gitopsd

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gitopskit/kit/artifact/storage"
	"github.com/gitopskit/kit/oci/ocitest"
)

// The source flags parse into SourceOptions and select the reconcilers'
// retention and trusted root.
func TestSourceFlags(t *testing.T) {
	t.Parallel()
	rootFile := filepath.Join(t.TempDir(), "trusted_root.json")
	if err := os.WriteFile(rootFile, ocitest.NewKeylessSigner(t, "dev@example.com", "https://accounts.google.com").TrustedRootJSON(), 0o600); err != nil {
		t.Fatal(err)
	}
	opts := DefaultOptions()
	fs := flag.NewFlagSet("gitopsd", flag.ContinueOnError)
	opts.BindFlags(fs)
	if err := fs.Parse([]string{
		"--storage-path=/data", "--artifact-retention-records=5", "--artifact-retention-ttl=10m",
		"--sigstore-trusted-root=" + rootFile,
	}); err != nil {
		t.Fatal(err)
	}
	if err := opts.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if diff := cmp.Diff(storage.GCOptions{Keep: 5, MaxAge: 10 * time.Minute}, opts.Source.Retention()); diff != "" {
		t.Errorf("retention (-want +got):\n%s", diff)
	}
	tr, err := opts.Source.TrustedRoot()
	if err != nil || tr == nil || tr.Path() != rootFile {
		t.Fatalf("trusted root: %v, %v", tr, err)
	}
	if _, err := tr.Get(); err != nil {
		t.Fatal(err)
	}
}

// Without the flags: the current artifact and the one before it, no age
// limit, no trusted root.
func TestSourceDefaults(t *testing.T) {
	t.Parallel()
	opts := DefaultOptions()
	fs := flag.NewFlagSet("gitopsd", flag.ContinueOnError)
	opts.BindFlags(fs)
	if err := fs.Parse([]string{"--storage-path=/data"}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(storage.GCOptions{Keep: 2}, opts.Source.Retention()); diff != "" {
		t.Errorf("retention (-want +got):\n%s", diff)
	}
	if tr, err := opts.Source.TrustedRoot(); tr != nil || err != nil {
		t.Errorf("trusted root without the flag: %v, %v", tr, err)
	}
	for _, name := range []string{"artifact-retention-records", "artifact-retention-ttl", "sigstore-trusted-root"} {
		if fs.Lookup(name) == nil {
			t.Errorf("no --%s flag", name)
		}
	}
}

func TestSourceValidate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	notJSON := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(notJSON, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.json")
	if err := os.WriteFile(big, []byte(strings.Repeat(" ", 4<<20+1)), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		change func(*SourceOptions)
		want   string
	}{
		{"no records", func(o *SourceOptions) { o.ArtifactRetentionRecords = 0 }, "--artifact-retention-records"},
		{"negative ttl", func(o *SourceOptions) { o.ArtifactRetentionTTL = -time.Second }, "--artifact-retention-ttl"},
		{"missing trusted root", func(o *SourceOptions) { o.SigstoreTrustedRoot = filepath.Join(dir, "absent.json") }, "--sigstore-trusted-root"},
		{"invalid trusted root", func(o *SourceOptions) { o.SigstoreTrustedRoot = notJSON }, "--sigstore-trusted-root"},
		{"oversized trusted root", func(o *SourceOptions) { o.SigstoreTrustedRoot = big }, "larger than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := DefaultOptions()
			o.StoragePath = "/data"
			tc.change(&o.Source)
			err := o.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate = %v, want an error naming %s", err, tc.want)
			}
		})
	}
}
