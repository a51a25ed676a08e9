package e2e_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitopskit/kit/git/gittest"
	"github.com/gitopskit/kit/oci"
	"github.com/gitopskit/kit/oci/ocitest"

	kustomizev1 "github.com/gitopskit/kit/examples/api/kustomize/v1"
	"github.com/gitopskit/kit/examples/api/meta"
	sourcev1 "github.com/gitopskit/kit/examples/api/source/v1"
)

// A Git repository becomes a Ready Kustomization; a new commit is applied
// (through the GitRepository's reconcile request and the Kustomization's
// watch on its source); a manifest removed from git is pruned.
func TestGitSyncChangeAndPrune(t *testing.T) {
	f := newFixture(t)
	srv := gittest.NewServer(t)
	repo := srv.InitRepository("app.git")
	c1 := repo.Commit("main", "app", map[string]string{
		"deploy/config.yaml": cm("config", "one"),
		"deploy/flags.yaml":  cm("flags", "on"),
		"README.md":          "not a manifest\n",
	})
	src := gitRepository("app", srv.HTTPURL("app.git"))
	ks := kustomization("app", f.ns, src, "./deploy")
	f.create(src, ks)
	f.applied(ks, "main@sha1:"+c1)
	if got := f.configMapData(f.ns, "config")["value"]; got != "one" {
		t.Fatalf("config value = %q after the first sync, want one", got)
	}
	wantInventory := []string{f.ns + "_config__ConfigMap", f.ns + "_flags__ConfigMap"}
	if diff := cmp.Diff(wantInventory, inventoryIDs(ks)); diff != "" {
		t.Errorf("inventory (-want +got):\n%s", diff)
	}

	c2 := repo.Commit("main", "change", map[string]string{"deploy/config.yaml": cm("config", "two")})
	f.request(src)
	f.applied(ks, "main@sha1:"+c2)
	if got := f.configMapData(f.ns, "config")["value"]; got != "two" {
		t.Errorf("config value = %q after the change, want two", got)
	}

	c3 := repo.Commit("main", "remove flags", nil, gittest.Deleting("deploy/flags.yaml"))
	f.request(src)
	f.applied(ks, "main@sha1:"+c3)
	if data := f.configMapData(f.ns, "flags"); data != nil {
		t.Errorf("ConfigMap flags still exists after its manifest was removed: %v", data)
	}
	if diff := cmp.Diff(wantInventory[:1], inventoryIDs(ks)); diff != "" {
		t.Errorf("inventory after the prune (-want +got):\n%s", diff)
	}
}

func inventoryIDs(ks *kustomizev1.Kustomization) []string {
	if ks.Status.Inventory == nil {
		return nil
	}
	var ids []string
	for _, e := range ks.Status.Inventory.Entries {
		ids = append(ids, e.ID)
	}
	return ids
}

// A Kustomization waits for the ones it depends on: nothing of it is
// applied while its dependency does not exist, and it is applied once the
// dependency is Ready.
func TestDependsOnOrder(t *testing.T) {
	f := newFixture(t)
	srv := gittest.NewServer(t)
	repo := srv.InitRepository("app.git")
	c := repo.Commit("main", "layers", map[string]string{
		"infra/base.yaml": cm("base", "infra"),
		"apps/app.yaml":   cm("app", "app"),
	})
	src := gitRepository("app", srv.HTTPURL("app.git"))
	apps := kustomization("apps", f.ns, src, "./apps")
	apps.Spec.DependsOn = []meta.DependencyReference{{Name: "infra"}}
	f.create(src, apps)

	msg := f.notReady(apps, "infra")
	t.Logf("while its dependency is missing: %s", msg)
	if data := f.configMapData(f.ns, "app"); data != nil {
		t.Fatalf("apps was applied before its dependency existed")
	}

	infra := kustomization("infra", f.ns, src, "./infra")
	f.create(infra)
	rev := "main@sha1:" + c
	f.applied(infra, rev)
	f.applied(apps, rev)
	if f.configMapData(f.ns, "base") == nil || f.configMapData(f.ns, "app") == nil {
		t.Fatal("objects missing once both Kustomizations are Ready")
	}
	// The dependent became Ready after its dependency did.
	ready := func(ks *kustomizev1.Kustomization) time.Time {
		for _, c := range ks.Status.Conditions {
			if c.Type == "Ready" {
				return c.LastTransitionTime.Time
			}
		}
		return time.Time{}
	}
	if ready(apps).Before(ready(infra)) {
		t.Errorf("apps Ready at %s, before infra at %s", ready(apps), ready(infra))
	}
}

// An OCIRepository pulling a Flux-format artifact feeds a Kustomization.
func TestOCISource(t *testing.T) {
	f := newFixture(t)
	reg := ocitest.New(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "config.yaml"), []byte(cm("from-oci", "v1")), 0o644); err != nil {
		t.Fatal(err)
	}
	client, err := oci.NewClient(reg.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	digest, err := client.Push(ctx, reg.Repo("app")+":v1", dir, oci.PushOptions{Source: "https://example.com/app.git", Revision: "main@sha1:0123"})
	if err != nil {
		t.Fatal(err)
	}
	src := &sourcev1.OCIRepository{
		ObjectMeta: metav1.ObjectMeta{Name: "app"},
		Spec: sourcev1.OCIRepositorySpec{
			URL:       "oci://" + reg.Repo("app"),
			Reference: &sourcev1.OCIRepositoryRef{Tag: "v1"},
			Insecure:  true, // ocitest serves plain HTTP on loopback
			Interval:  metav1.Duration{Duration: 10 * time.Minute},
		},
	}
	ks := kustomization("app", f.ns, src, "./")
	f.create(src, ks)
	f.applied(ks, "v1@"+digest)
	if got := f.configMapData(f.ns, "from-oci")["value"]; got != "v1" {
		t.Errorf("value = %q, want v1", got)
	}
}

// Failures leave the Kustomization Ready=False with a message saying what
// is wrong, keep lastAppliedRevision, and delete nothing already applied,
// although prune is on.
func TestFailuresDeleteNothing(t *testing.T) {
	f := newFixture(t)
	srv := gittest.NewServer(t)
	repo := srv.InitRepository("app.git")
	good := repo.Commit("main", "good", map[string]string{"deploy/a.yaml": cm("a", "1"), "deploy/b.yaml": cm("b", "1")})
	goodRev := "main@sha1:" + good
	src := gitRepository("app", srv.HTTPURL("app.git"))
	ks := kustomization("app", f.ns, src, "./deploy")
	f.create(src, ks)
	f.applied(ks, goodRev)

	intact := func(step string) {
		t.Helper()
		for _, name := range []string{"a", "b"} {
			if f.configMapData(f.ns, name) == nil {
				t.Fatalf("%s: ConfigMap %s was deleted", step, name)
			}
		}
		if ks.Status.LastAppliedRevision != goodRev {
			t.Errorf("%s: lastAppliedRevision = %q, want %q", step, ks.Status.LastAppliedRevision, goodRev)
		}
	}

	t.Run("wrong path", func(t *testing.T) {
		update(f, ks, func(k *kustomizev1.Kustomization) { k.Spec.Path = "./nope" })
		t.Logf("message: %s", f.notReady(ks, `"./nope"`, "not found"))
		intact("wrong path")
		update(f, ks, func(k *kustomizev1.Kustomization) { k.Spec.Path = "./deploy" })
		f.applied(ks, goodRev)
	})

	t.Run("invalid YAML", func(t *testing.T) {
		bad := repo.Commit("main", "break b", map[string]string{
			"deploy/kustomization.yaml": "resources:\n- a.yaml\n- b.yaml\n",
			"deploy/b.yaml":             "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\ndata: [unclosed\n",
		})
		f.request(src)
		t.Logf("message: %s", f.notReady(ks, "b.yaml", "main@sha1:"+bad))
		intact("invalid YAML")
		fixed := repo.Commit("main", "fix b", map[string]string{"deploy/b.yaml": cm("b", "1")})
		f.request(src)
		goodRev = "main@sha1:" + fixed
		f.applied(ks, goodRev)
	})

	t.Run("missing Secret", func(t *testing.T) {
		update(f, src, func(s *sourcev1.GitRepository) { s.Spec.SecretRef = &meta.LocalObjectReference{Name: "absent-creds"} })
		t.Logf("GitRepository message: %s", f.notReady(src, "absent-creds", "not found"))
		// The Kustomization keeps its last artifact and applied objects.
		f.request(ks)
		f.applied(ks, goodRev)
		intact("missing Secret")
		update(f, src, func(s *sourcev1.GitRepository) { s.Spec.SecretRef = nil })
	})

	t.Run("unreachable source", func(t *testing.T) {
		update(f, src, func(s *sourcev1.GitRepository) { s.Spec.URL = "http://127.0.0.1:1/app.git" })
		t.Logf("GitRepository message: %s", f.notReady(src, "127.0.0.1:1"))
		f.request(ks)
		f.applied(ks, goodRev)
		intact("unreachable source")
	})

	t.Run("unreachable source of a new Kustomization", func(t *testing.T) {
		// A Kustomization whose source never had an artifact says so.
		down := gitRepository("down", "http://127.0.0.1:1/app.git")
		fresh := kustomization("fresh", f.ns, down, "./deploy")
		f.create(down, fresh)
		t.Logf("message: %s", f.notReady(fresh, "down"))
		intact("new Kustomization")
	})
}

// gitopsd allows cross-namespace references by default, as Flux does
// (--no-cross-namespace-refs and --cross-namespace-selector restrict them):
// a Kustomization applies a GitRepository of another namespace.
func TestCrossNamespaceSource(t *testing.T) {
	f := newFixture(t)
	sourceNS := env.Namespace(t)
	srv := gittest.NewServer(t)
	repo := srv.InitRepository("shared.git")
	c := repo.Commit("main", "shared", map[string]string{"config.yaml": cm("shared", "yes")})
	src := gitRepository("shared", srv.HTTPURL("shared.git"))
	src.Namespace = sourceNS
	ks := kustomization("consumer", f.ns, src, "./")
	ks.Spec.SourceRef.Namespace = sourceNS
	f.create(src, ks)
	f.applied(ks, "main@sha1:"+c)
	if got := f.configMapData(f.ns, "shared")["value"]; got != "yes" {
		t.Errorf("value = %q, want yes", got)
	}
}
