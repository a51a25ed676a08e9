package source

import (
	"strings"
	"testing"
)

// FuzzOCIRepositoryURL checks that spec.url parsing never panics, accepts
// only oci://<host>/<path> without tag, digest or credentials, and never
// echoes a URL holding '@' (which may carry credentials) in its error.
func FuzzOCIRepositoryURL(f *testing.F) {
	for _, s := range []string{
		"oci://ghcr.io/org/app",
		"oci://127.0.0.1:5000/app/",
		"oci://user:pass@ghcr.io/app",
		"oci://ghcr.io/app:v1",
		"oci://ghcr.io/app@sha256:abc",
		"https://ghcr.io/app",
		"oci://ghcr.io",
		"oci:///app",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, u string) {
		repo, host, err := ociRepository(u)
		if err != nil {
			if strings.Contains(u, "@") && strings.Contains(err.Error(), u) {
				t.Fatalf("error echoes a URL with '@': %v", err)
			}
			return
		}
		if !strings.HasPrefix(u, "oci://"+repo) || strings.Contains(repo, "@") || host == "" || !strings.HasPrefix(repo, host+"/") {
			t.Fatalf("ociRepository(%q) = %q, %q", u, repo, host)
		}
		if last := repo[strings.LastIndex(repo, "/")+1:]; last == "" || strings.Contains(last, ":") {
			t.Fatalf("ociRepository(%q) = %q: tag or empty name accepted", u, repo)
		}
	})
}

func TestIgnorePatterns(t *testing.T) {
	in := "# comment\n\n*.md\r\n  \n!keep.md\n"
	got := ignorePatterns(&in)
	want := []string{"# comment", "*.md", "!keep.md"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("ignorePatterns = %q, want %q", got, want)
	}
	if ignorePatterns(nil) != nil {
		t.Fatal("nil ignore gives patterns")
	}
}
