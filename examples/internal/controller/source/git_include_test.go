package source_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	sourcev1 "github.com/gitopskit/kit/examples/api/source/v1"
	"github.com/gitopskit/kit/examples/internal/controller/source"
	"github.com/gitopskit/kit/git/gittest"
	"github.com/gitopskit/kit/runtime/acl"
	"github.com/gitopskit/kit/runtime/conditions"
)

func include(name, from, to string) sourcev1.GitRepositoryInclude {
	return sourcev1.GitRepositoryInclude{Repository: sourcev1.IncludedRepositoryReference{Name: name}, FromPath: from, ToPath: to}
}

// spec.include copies another GitRepository's artifact — a folder of it
// into toPath, replacing what the repository holds there, or all of it
// into a folder named after it — and records the included artifacts; a
// new revision of the included repository gives a new artifact at once,
// without a reconcile request, with the including repository's revision.
func TestGitRepositoryInclude(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	srv := gittest.NewServer(t)
	libRepo := srv.InitRepository("lib.git")
	libRepo.Commit("main", "lib", map[string]string{
		"manifests/a.yaml": "a: 1\n", "manifests/sub/b.yaml": "b: 1\n", "manifests/sub/link": "b.yaml", "other.yaml": "other\n",
	}, gittest.Symlinks("manifests/sub/link"))
	appRepo := srv.InitRepository("app.git")
	c1 := appRepo.Commit("main", "app", map[string]string{"app.yaml": "app\n", "vendor/lib/stale.yaml": "stale\n"})

	lib := gitRepository("lib", srv.HTTPURL("lib.git"))
	h.create(lib)
	h.ready(lib)
	app := gitRepository("app", srv.HTTPURL("app.git"), func(s *sourcev1.GitRepositorySpec) {
		s.Include = []sourcev1.GitRepositoryInclude{include("lib", "manifests", "vendor/lib"), include("lib", "", "")}
	})
	h.create(app)
	h.ready(app)
	if got, want := app.Status.Artifact.Revision, "main@sha1:"+c1; got != want {
		t.Errorf("revision = %q, want the including repository's %q", got, want)
	}
	dir := fetchArtifact(t, app.Status.Artifact)
	want := []string{
		"app.yaml", "lib/manifests/a.yaml", "lib/manifests/sub/b.yaml", "lib/manifests/sub/link", "lib/other.yaml",
		"vendor/lib/a.yaml", "vendor/lib/sub/b.yaml", "vendor/lib/sub/link",
	}
	if diff := cmp.Diff(want, files(t, dir)); diff != "" {
		t.Errorf("artifact files (-want +got):\n%s", diff)
	}
	if got := readFile(t, dir, "vendor/lib/a.yaml"); got != "a: 1\n" {
		t.Errorf("included content = %q", got)
	}
	if diff := cmp.Diff([]any{*lib.Status.Artifact, *lib.Status.Artifact}, toAny(app.Status.IncludedArtifacts)); diff != "" {
		t.Errorf("includedArtifacts (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(app.Spec.Include, app.Status.ObservedInclude); diff != "" {
		t.Errorf("observedInclude (-spec +observed):\n%s", diff)
	}
	if msg := conditions.Get(app, conditions.Ready).Message; msg != "stored artifact for revision 'main@sha1:"+c1+"' with 2 included artifacts" {
		t.Errorf("Ready message = %q", msg)
	}
	first := app.Status.Artifact.DeepCopy()

	// A new lib revision: only lib is asked to look; app follows by itself.
	l2 := libRepo.Commit("main", "lib 2", map[string]string{"manifests/a.yaml": "a: 2\n"})
	h.request(lib, "lib-2")
	if got := lib.Status.Artifact.Revision; got != "main@sha1:"+l2 {
		t.Fatalf("lib revision = %q", got)
	}
	h.eventually(app, func() bool {
		return len(app.Status.IncludedArtifacts) == 2 && app.Status.IncludedArtifacts[0].Revision == "main@sha1:"+l2 && conditions.IsReady(app)
	})
	if app.Status.Artifact.Revision != first.Revision || app.Status.Artifact.Digest == first.Digest {
		t.Errorf("after the included change: artifact %s %s, want a new digest of revision %s",
			app.Status.Artifact.Revision, app.Status.Artifact.Digest, first.Revision)
	}
	if got := readFile(t, fetchArtifact(t, app.Status.Artifact), "vendor/lib/a.yaml"); got != "a: 2\n" {
		t.Errorf("included content after the change = %q", got)
	}
	if app.Status.LastHandledReconcileAt != "" {
		t.Errorf("app handled a request it never got: %q", app.Status.LastHandledReconcileAt)
	}
}

func toAny[T any](s []T) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// An include of a GitRepository that does not exist yet waits, retried
// rather than stalled, and completes as soon as it has an artifact.
func TestGitRepositoryIncludeWaits(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	srv := gittest.NewServer(t)
	srv.InitRepository("lib.git").Commit("main", "lib", map[string]string{"lib.yaml": "lib\n"})
	srv.InitRepository("app.git").Commit("main", "app", map[string]string{"app.yaml": "app\n"})
	app := gitRepository("app", srv.HTTPURL("app.git"), func(s *sourcev1.GitRepositorySpec) {
		s.Include = []sourcev1.GitRepositoryInclude{include("later", "", "")}
	})
	h.create(app)
	h.notReady(app, "spec.include[0]", "GitRepository "+h.ns+"/later not found")
	if r := conditions.Get(app, conditions.Ready).Reason; r != "IncludeUnavailable" || conditions.IsTrue(app, conditions.Stalled) {
		t.Errorf("a missing include should be retried: %s", describe(app))
	}
	h.create(gitRepository("later", srv.HTTPURL("lib.git")))
	h.ready(app)
	if got := readFile(t, fetchArtifact(t, app.Status.Artifact), "later/lib.yaml"); got != "lib\n" {
		t.Errorf("included content = %q", got)
	}
}

// What an include cannot do: a symbolic link of the included folder that
// leads out of it, a toPath through a symbolic link of the including
// repository, a fromPath the artifact lacks, including itself, a cycle,
// and a namespace the cross-namespace policy refuses. Nothing is stored.
func TestGitRepositoryIncludeRefused(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	srv := gittest.NewServer(t)
	srv.InitRepository("lib.git").Commit("main", "lib", map[string]string{
		"manifests/a.yaml": "a\n", "secret.yaml": "not for you\n", "manifests/escape": "../secret.yaml",
		"manifests/deep/ok": "../a.yaml",
	}, gittest.Symlinks("manifests/escape", "manifests/deep/ok"))
	srv.InitRepository("linked.git").Commit("main", "app", map[string]string{
		"deploy/x.yaml": "x\n", "vendor": "deploy",
	}, gittest.Symlinks("vendor"))
	srv.InitRepository("app.git").Commit("main", "app", map[string]string{"app.yaml": "app\n"})
	lib := gitRepository("lib", srv.HTTPURL("lib.git"))
	h.create(lib)
	h.ready(lib)

	tests := []struct {
		name    string
		url     string
		include []sourcev1.GitRepositoryInclude
		want    []string // in the Ready message
		stalled bool
	}{
		{name: "link out of fromPath", url: srv.HTTPURL("app.git"),
			include: []sourcev1.GitRepositoryInclude{include("lib", "manifests", "vendor/lib")},
			want:    []string{"spec.include[0]", "symbolic link manifests/escape -> ../secret.yaml leads out of the copied folder"}},
		{name: "link out of a deeper fromPath", url: srv.HTTPURL("app.git"),
			include: []sourcev1.GitRepositoryInclude{include("lib", "manifests/deep", "vendor/lib")},
			want:    []string{"spec.include[0]", "symbolic link manifests/deep/ok -> ../a.yaml leads out"}},
		{name: "toPath through a link", url: srv.HTTPURL("linked.git"),
			include: []sourcev1.GitRepositoryInclude{include("lib", "", "vendor/lib")},
			want:    []string{`spec.include[0].toPath "vendor/lib"`, "vendor is a symbolic link"}},
		{name: "missing fromPath", url: srv.HTTPURL("app.git"),
			include: []sourcev1.GitRepositoryInclude{include("lib", "nope", "")},
			want:    []string{`spec.include[0].fromPath "nope": not in the artifact`}},
		{name: "itself", url: srv.HTTPURL("app.git"),
			include: []sourcev1.GitRepositoryInclude{include("refused-e", "", "x")},
			want:    []string{"cannot include itself"}, stalled: true},
		{name: "other namespace", url: srv.HTTPURL("app.git"),
			include: []sourcev1.GitRepositoryInclude{{Repository: sourcev1.IncludedRepositoryReference{Name: "lib", Namespace: "elsewhere"}}},
			want:    []string{"spec.include[0]", "GitRepository elsewhere/lib", "cross-namespace"}, stalled: true},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := *h
			h.t = t
			obj := gitRepository("refused-"+string(rune('a'+i)), tc.url, func(s *sourcev1.GitRepositorySpec) { s.Include = tc.include })
			h.create(obj)
			msg := h.notReady(obj, tc.want...)
			t.Logf("message: %s", msg)
			if conditions.IsTrue(obj, conditions.Stalled) != tc.stalled {
				t.Errorf("stalled = %t, want %t: %s", !tc.stalled, tc.stalled, describe(obj))
			}
			if obj.Status.Artifact != nil {
				t.Errorf("artifact stored: %+v", obj.Status.Artifact)
			}
		})
	}

	t.Run("cycle", func(t *testing.T) {
		h := *h
		h.t = t
		a := gitRepository("cycle-a", srv.HTTPURL("app.git"), func(s *sourcev1.GitRepositorySpec) {
			s.Include = []sourcev1.GitRepositoryInclude{include("cycle-b", "", "")}
		})
		b := gitRepository("cycle-b", srv.HTTPURL("app.git"), func(s *sourcev1.GitRepositorySpec) {
			s.Include = []sourcev1.GitRepositoryInclude{include("lib", "", ""), include("cycle-a", "", "")}
		})
		h.create(a)
		h.create(b)
		for _, obj := range []*sourcev1.GitRepository{a, b} {
			msg := h.notReady(obj, "include cycle")
			t.Logf("%s: %s", obj.Name, msg)
			if !conditions.IsTrue(obj, conditions.Stalled) {
				t.Errorf("%s: a cycle should stall: %s", obj.Name, describe(obj))
			}
		}
	})
}

// A GitRepository of another namespace is included when the
// cross-namespace policy allows it.
func TestGitRepositoryIncludeCrossNamespace(t *testing.T) {
	t.Parallel()
	other := env.Namespace(t)
	h := newHarness(t, withNamespaces(other), withGit(func(r *source.GitRepositoryReconciler) { r.ACL = acl.AllowAll() }))
	srv := gittest.NewServer(t)
	srv.InitRepository("lib.git").Commit("main", "lib", map[string]string{"lib.yaml": "shared\n"})
	srv.InitRepository("app.git").Commit("main", "app", map[string]string{"app.yaml": "app\n"})
	lib := gitRepository("shared", srv.HTTPURL("lib.git"))
	lib.Namespace = other
	if err := h.c.Create(context.Background(), lib); err != nil {
		t.Fatal(err)
	}
	app := gitRepository("app", srv.HTTPURL("app.git"), func(s *sourcev1.GitRepositorySpec) {
		s.Include = []sourcev1.GitRepositoryInclude{{
			Repository: sourcev1.IncludedRepositoryReference{Name: "shared", Namespace: other}, ToPath: "vendor/shared",
		}}
	})
	h.create(app)
	h.ready(app)
	if got := readFile(t, fetchArtifact(t, app.Status.Artifact), "vendor/shared/lib.yaml"); got != "shared\n" {
		t.Errorf("included content = %q", got)
	}
}
