package source_test

import (
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gitopskit/kit/artifact"
	"github.com/gitopskit/kit/artifact/storage"
	"github.com/gitopskit/kit/examples/api/meta"
	sourcev1 "github.com/gitopskit/kit/examples/api/source/v1"
	"github.com/gitopskit/kit/examples/internal/controller/source"
	"github.com/gitopskit/kit/git/gittest"
	"github.com/gitopskit/kit/oci/ocitest"
	"github.com/gitopskit/kit/runtime/conditions"
	"github.com/gitopskit/kit/runtime/reconcile"
)

// files lists the regular files and links under dir, slash-separated.
func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// request sets the reconcile request annotation to v and waits until it
// was handled and the object is Ready.
func (h *harness) request(obj *sourcev1.GitRepository, v string) {
	h.t.Helper()
	h.update(obj, func() {
		if obj.Annotations == nil {
			obj.Annotations = map[string]string{}
		}
		obj.Annotations[reconcile.RequestedAtAnnotation] = v
	})
	h.eventually(obj, func() bool { return obj.Status.LastHandledReconcileAt == v && conditions.IsReady(obj) })
}

// A remote whose HEAD is another branch than main is checked out at that
// branch when spec.ref is empty, and the revision names it.
func TestGitRepositoryRemoteHEADNotMain(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	srv := gittest.NewServer(t)
	repo := srv.InitRepository("app.git")
	repo.Commit("main", "on main", map[string]string{"f": "main"})
	dev := repo.Commit("develop", "on develop", map[string]string{"f": "develop"})
	repo.SetHEAD("develop")
	obj := gitRepository("app", srv.HTTPURL("app.git"), func(s *sourcev1.GitRepositorySpec) {
		s.Provider = sourcev1.GitProviderGeneric
	})
	h.create(obj)
	h.ready(obj)
	if got, want := obj.Status.Artifact.Revision, "develop@sha1:"+dev; got != want {
		t.Errorf("revision = %q, want %q", got, want)
	}
	if got := readFile(t, fetchArtifact(t, obj.Status.Artifact), "f"); got != "develop" {
		t.Errorf("content = %q, want the develop branch's", got)
	}
}

// spec.sparseCheckout leaves out every folder it does not name; changing
// it gives a new artifact of the same revision, and observedSparseCheckout
// says what the artifact was built with.
func TestGitRepositorySparseCheckout(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	srv := gittest.NewServer(t)
	c1 := srv.InitRepository("app.git").Commit("main", "init", map[string]string{
		"deploy/app.yaml": "app\n", "apps/web/web.yaml": "web\n", "docs/readme.md": "docs\n", "root.yaml": "root\n",
	})
	obj := gitRepository("app", srv.HTTPURL("app.git"), func(s *sourcev1.GitRepositorySpec) {
		s.SparseCheckout = []string{"deploy"}
	})
	h.create(obj)
	h.ready(obj)
	if diff := cmp.Diff([]string{"deploy/app.yaml"}, files(t, fetchArtifact(t, obj.Status.Artifact))); diff != "" {
		t.Errorf("artifact files (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"deploy"}, obj.Status.ObservedSparseCheckout); diff != "" {
		t.Errorf("observedSparseCheckout (-want +got):\n%s", diff)
	}
	first := obj.Status.Artifact.DeepCopy()

	h.update(obj, func() { obj.Spec.SparseCheckout = []string{"deploy", "./apps/web/"} })
	h.eventually(obj, func() bool {
		return conditions.IsReady(obj) && len(obj.Status.ObservedSparseCheckout) == 2
	})
	if obj.Status.Artifact.Revision != "main@sha1:"+c1 || obj.Status.Artifact.Digest == first.Digest {
		t.Errorf("artifact %s %s, want a new digest of the same revision", obj.Status.Artifact.Revision, obj.Status.Artifact.Digest)
	}
	if diff := cmp.Diff([]string{"apps/web/web.yaml", "deploy/app.yaml"}, files(t, fetchArtifact(t, obj.Status.Artifact))); diff != "" {
		t.Errorf("artifact files (-want +got):\n%s", diff)
	}

	h.update(obj, func() { obj.Spec.SparseCheckout = nil })
	h.eventually(obj, func() bool { return conditions.IsReady(obj) && obj.Status.ObservedSparseCheckout == nil })
	if got := files(t, fetchArtifact(t, obj.Status.Artifact)); len(got) != 4 {
		t.Errorf("without sparse checkout: artifact files %v, want all 4", got)
	}
}

// spec.recurseSubmodules checks the submodules out into the artifact (and
// without it they are left out); a new submodule commit recorded in the
// parent gives a new artifact with it. A submodule URL that would read the
// local disk is refused.
func TestGitRepositoryRecurseSubmodules(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	srv := gittest.NewServer(t)
	lib := srv.InitRepository("lib.git")
	l1 := lib.Commit("main", "lib 1", map[string]string{"lib.yaml": "lib: 1\n"})
	app := srv.InitRepository("app.git")
	app.Commit("main", "init", map[string]string{"app.yaml": "app\n"})
	app.Submodule("main", "vendor/lib", srv.HTTPURL("lib.git"), l1)

	plain := gitRepository("plain", srv.HTTPURL("app.git"))
	h.create(plain)
	h.ready(plain)
	if got := files(t, fetchArtifact(t, plain.Status.Artifact)); slices.Contains(got, "vendor/lib/lib.yaml") {
		t.Errorf("submodule checked out without recurseSubmodules: %v", got)
	}

	obj := gitRepository("recursive", srv.HTTPURL("app.git"), func(s *sourcev1.GitRepositorySpec) { s.RecurseSubmodules = true })
	h.create(obj)
	h.ready(obj)
	dir := fetchArtifact(t, obj.Status.Artifact)
	if got := readFile(t, dir, "vendor/lib/lib.yaml"); got != "lib: 1\n" {
		t.Errorf("submodule content = %q", got)
	}
	if !obj.Status.ObservedRecurseSubmodules {
		t.Error("observedRecurseSubmodules is false")
	}

	l2 := lib.Commit("main", "lib 2", map[string]string{"lib.yaml": "lib: 2\n"})
	bump := app.Submodule("main", "vendor/lib", srv.HTTPURL("lib.git"), l2)
	h.request(obj, "bump")
	if got, want := obj.Status.Artifact.Revision, "main@sha1:"+bump; got != want {
		t.Fatalf("revision = %q, want %q", got, want)
	}
	if got := readFile(t, fetchArtifact(t, obj.Status.Artifact), "vendor/lib/lib.yaml"); got != "lib: 2\n" {
		t.Errorf("submodule content after the bump = %q", got)
	}

	hostile := srv.InitRepository("hostile.git")
	hostile.Commit("main", "init", map[string]string{"app.yaml": "app\n"})
	hostile.Submodule("main", "etc", "file:///etc", l1)
	bad := gitRepository("hostile", srv.HTTPURL("hostile.git"), func(s *sourcev1.GitRepositorySpec) { s.RecurseSubmodules = true })
	h.create(bad)
	msg := h.notReady(bad, "submodule")
	t.Logf("file:// submodule: %s", msg)
	if bad.Status.Artifact != nil {
		t.Errorf("artifact stored with a file:// submodule: %+v", bad.Status.Artifact)
	}
}

// spec.proxySecretRef sends the fetch through the proxy with its
// credentials; a wrong proxy password is refused without appearing in the
// status, even though the proxy echoes it; a proxy Secret without an
// address says which key is missing.
func TestGitRepositoryProxy(t *testing.T) {
	t.Parallel()
	const proxyPass = "pr0xy-Pass-9c1e"
	h := newHarness(t)
	srv := gittest.NewServer(t)
	c1 := srv.InitRepository("app.git").Commit("main", "init", map[string]string{"f": "proxied"})
	p := newProxy(t, "squid", proxyPass)

	h.secret("proxy", map[string]string{"address": p.url, "username": "squid", "password": proxyPass})
	obj := gitRepository("app", srv.HTTPURL("app.git"), func(s *sourcev1.GitRepositorySpec) {
		s.ProxySecretRef = &meta.LocalObjectReference{Name: "proxy"}
	})
	h.create(obj)
	h.ready(obj)
	if got, want := obj.Status.Artifact.Revision, "main@sha1:"+c1; got != want {
		t.Errorf("revision = %q, want %q", got, want)
	}
	if p.served.Load() == 0 {
		t.Error("nothing went through the proxy")
	}

	h.secret("wrong-proxy", map[string]string{"address": p.url, "username": "squid", "password": proxyPass + "-wrong"})
	wrong := gitRepository("wrong", srv.HTTPURL("app.git"), func(s *sourcev1.GitRepositorySpec) {
		s.ProxySecretRef = &meta.LocalObjectReference{Name: "wrong-proxy"}
	})
	h.create(wrong)
	h.eventually(wrong, func() bool { return conditions.IsFalse(wrong, conditions.Ready) })
	msg := conditions.Get(wrong, conditions.Ready).Message
	t.Logf("wrong proxy password: %s", msg)
	if strings.Contains(msg, proxyPass) || strings.Contains(msg, "c3F1aWQ6") { // base64 "squid:"
		t.Errorf("message leaks the proxy credentials: %q", msg)
	}

	h.secret("no-address", map[string]string{"username": "squid"})
	missing := gitRepository("missing", srv.HTTPURL("app.git"), func(s *sourcev1.GitRepositorySpec) {
		s.ProxySecretRef = &meta.LocalObjectReference{Name: "no-address"}
	})
	h.create(missing)
	h.notReady(missing, "no-address", "address")
}

// A proxy URL with credentials in its address is accepted too, and they are
// masked as well.
func TestGitRepositoryProxyAddressCredentials(t *testing.T) {
	t.Parallel()
	const proxyPass = "addr-Pass-51f0"
	h := newHarness(t)
	srv := gittest.NewServer(t)
	srv.InitRepository("app.git").Commit("main", "init", map[string]string{"f": "x"})
	p := newProxy(t, "squid", proxyPass)
	u, err := url.Parse(p.url)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword("squid", proxyPass+"-wrong")
	h.secret("proxy", map[string]string{"address": u.String()})
	obj := gitRepository("app", srv.HTTPURL("app.git"), func(s *sourcev1.GitRepositorySpec) {
		s.ProxySecretRef = &meta.LocalObjectReference{Name: "proxy"}
	})
	h.create(obj)
	h.eventually(obj, func() bool { return conditions.IsFalse(obj, conditions.Ready) })
	msg := conditions.Get(obj, conditions.Ready).Message
	t.Logf("wrong password in the address: %s", msg)
	if strings.Contains(msg, proxyPass) {
		t.Errorf("message leaks the proxy password: %q", msg)
	}
	if p.served.Load() != 0 {
		t.Errorf("the proxy forwarded %d requests with a wrong password", p.served.Load())
	}
}

// The reconcilers' Retention (gitopsd's --artifact-retention-records and
// --artifact-retention-ttl) decides which older artifacts survive a new
// one: with one record only the current one is kept; with an age limit an
// older artifact goes even within the record count.
func TestArtifactRetention(t *testing.T) {
	t.Parallel()
	h := newHarness(t,
		withGit(func(r *source.GitRepositoryReconciler) { r.Retention = storage.GCOptions{Keep: 1} }),
		withOCI(func(r *source.OCIRepositoryReconciler) {
			r.Retention = storage.GCOptions{Keep: 10, MaxAge: time.Millisecond}
		}))
	srv := gittest.NewServer(t)
	repo := srv.InitRepository("app.git")
	repo.Commit("main", "one", map[string]string{"f": "1"})
	git := gitRepository("app", srv.HTTPURL("app.git"))
	h.create(git)
	h.ready(git)
	firstGit := *git.Status.Artifact

	reg := ocitest.New(t)
	push(t, reg, reg.Repo("app")+":stable", "v: 1\n")
	oci := ociRepository("app", reg, "app", func(s *sourcev1.OCIRepositorySpec) { s.Reference = &sourcev1.OCIRepositoryRef{Tag: "stable"} })
	h.create(oci)
	h.ready(oci)
	firstOCI := *oci.Status.Artifact

	repo.Commit("main", "two", map[string]string{"f": "2"})
	h.request(git, "two")
	if git.Status.Artifact.Digest == firstGit.Digest {
		t.Fatal("no new GitRepository artifact")
	}
	push(t, reg, reg.Repo("app")+":stable", "v: 2\n")
	h.update(oci, func() { oci.Annotations = map[string]string{reconcile.RequestedAtAnnotation: "two"} })
	h.eventually(oci, func() bool { return oci.Status.LastHandledReconcileAt == "two" && conditions.IsReady(oci) })
	if oci.Status.Artifact.Digest == firstOCI.Digest {
		t.Fatal("no new OCIRepository artifact")
	}
	st := h.artifacts.Storage()
	for name, tc := range map[string]struct{ old, cur artifact.Artifact }{
		"GitRepository (1 record)":  {firstGit, *git.Status.Artifact},
		"OCIRepository (age limit)": {firstOCI, *oci.Status.Artifact},
	} {
		if st.Exists(tc.old) {
			t.Errorf("%s: the previous artifact was kept", name)
		}
		if !st.Exists(tc.cur) {
			t.Errorf("%s: the current artifact is gone", name)
		}
	}
}
