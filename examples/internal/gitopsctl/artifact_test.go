package gitopsctl

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitopskit/kit/oci/ocitest"
)

// artifact push, list, tag and pull against a registry with basic auth;
// the credentials come from the environment and never show, not even in
// the error of a registry refusing them.
func TestArtifact(t *testing.T) {
	t.Parallel()
	reg := ocitest.New(t, ocitest.WithBasicAuth("flux", "p4ssw0rd-value"))
	c := newCtl(t)
	c.cfg = nil
	c.env = map[string]string{credsEnv: "flux:p4ssw0rd-value"}
	src := t.TempDir()
	writeTree(t, src, map[string]string{"deploy/config.yaml": cm("config", "one"), "README.md": "# app\n"})
	url := "oci://" + reg.Repo("app-config")

	r := c.run("artifact", "push", url+":v1.0.0", "--path", src, "--source", "https://github.com/org/app",
		"--revision", "main@sha1:0123456789abcdef0123456789abcdef01234567", "--annotation", "team=platform", "--insecure")
	expect(t, r, ExitOK, "pushed sha256:")
	ref := strings.TrimSpace(r.stdout)
	if !strings.HasPrefix(ref, url+"@sha256:") {
		t.Fatalf("push printed %q, want %s@sha256:<digest>", ref, url)
	}
	digest := strings.TrimPrefix(ref, url+"@")

	expect(t, c.run("artifact", "tag", url+":v1.0.0", "--tag", "latest", "--tag", "stable", "--insecure"), ExitOK, "tagged "+url+":v1.0.0 as latest", "as stable")
	r = c.run("artifact", "list", url, "--insecure")
	expect(t, r, ExitOK, "ARTIFACT", url+":latest  "+digest, url+":stable", url+":v1.0.0")
	r = c.run("artifact", "list", url, "--semver", ">=1.0.0", "--insecure")
	expect(t, r, ExitOK, url+":v1.0.0")
	if strings.Contains(r.stdout, "latest") {
		t.Errorf("--semver lists a non-semver tag:\n%s", r.stdout)
	}

	out := filepath.Join(t.TempDir(), "out")
	r = c.run("artifact", "pull", url, "--semver", "1.x", "--output", out, "--insecure")
	expect(t, r, ExitOK, "pulled v1.0.0@"+digest, "source https://github.com/org/app at main@sha1:0123456789abcdef")
	got, err := os.ReadFile(filepath.Join(out, "deploy/config.yaml"))
	if err != nil || string(got) != cm("config", "one") {
		t.Errorf("pulled deploy/config.yaml = %q, %v", got, err)
	}

	bad := newCtl(t)
	bad.cfg = nil
	r = bad.run("artifact", "list", url, "--insecure", "--creds", "flux:wrong-p4ssw0rd")
	expect(t, r, ExitError)
	r2 := c.run("artifact", "push", url+":v2", "--path", filepath.Join(src, "nope"), "--insecure")
	expect(t, r2, ExitError, "--path")
	for _, res := range []result{r, r2} {
		if strings.Contains(res.stdout+res.stderr, "p4ssw0rd") {
			t.Errorf("a credential is printed:\n%s", res)
		}
	}
}
