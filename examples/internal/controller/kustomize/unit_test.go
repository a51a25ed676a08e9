package kustomize

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/event"

	"github.com/gitopskit/kit/artifact"
	"github.com/gitopskit/kit/kustomize"

	kustomizev1 "github.com/gitopskit/kit/examples/api/kustomize/v1"
	"github.com/gitopskit/kit/examples/api/meta"
	sourcev1 "github.com/gitopskit/kit/examples/api/source/v1"
)

func TestBuildPath(t *testing.T) {
	t.Parallel()
	root := writeTree(t, map[string]string{"deploy/prod/a.yaml": "x", "file.yaml": "x"})
	cases := []struct {
		in, want, err string
	}{
		{in: "", want: "."},
		{in: ".", want: "."},
		{in: "./", want: "."},
		{in: "./deploy/prod", want: "deploy/prod"},
		{in: "deploy//prod/", want: "deploy/prod"},
		{in: "/deploy", want: "deploy"},      // rooted at the artifact
		{in: "../../deploy", want: "deploy"}, // cannot climb out
		{in: "deploy/../../../etc", err: "not found"},
		{in: "nope", err: `path "nope" not found`},
		{in: "file.yaml", err: "not a folder"},
	}
	for _, tc := range cases {
		got, err := buildPath(root, tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("buildPath(%q) = %q, %v; want error containing %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("buildPath(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// FuzzBuildPath checks that no spec.path leads outside the artifact.
func FuzzBuildPath(f *testing.F) {
	for _, s := range []string{"", ".", "./a", "../a", "/a/../..", "a/b/../../..", "a\x00b", `a\..\..`} {
		f.Add(s)
	}
	root := f.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "a", "b"), 0o755); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, p string) {
		got, err := buildPath(root, p)
		if err != nil {
			return
		}
		if got != "." && !filepath.IsLocal(got) {
			t.Fatalf("buildPath(%q) = %q, which is not inside the root", p, got)
		}
	})
}

func TestOverlay(t *testing.T) {
	t.Parallel()
	obj := &kustomizev1.Kustomization{Spec: kustomizev1.KustomizationSpec{
		TargetNamespace: "apps",
		NamePrefix:      "p-",
		NameSuffix:      "-s",
		Components:      []string{"c"},
		Images:          []kustomizev1.Image{{Name: "nginx", NewName: "r/nginx", NewTag: "2", Digest: "sha256:ab"}},
		Patches: []kustomizev1.Patch{
			{Patch: "smp"},
			{Patch: "json", Target: &kustomizev1.Selector{Group: "g", Version: "v", Kind: "K", Namespace: "n", Name: "x", LabelSelector: "l=1", AnnotationSelector: "a=1"}},
		},
	}}
	want := kustomize.Overlay{
		Namespace: "apps", NamePrefix: "p-", NameSuffix: "-s",
		Components: []string{"c"},
		Images:     []kustomize.Image{{Name: "nginx", NewName: "r/nginx", NewTag: "2", Digest: "sha256:ab"}},
		Patches: []kustomize.Patch{
			{Patch: "smp"},
			{Patch: "json", Target: &kustomize.Selector{Group: "g", Version: "v", Kind: "K", Namespace: "n", Name: "x", LabelSelector: "l=1", AnnotationSelector: "a=1"}},
		},
	}
	if diff := cmp.Diff(want, overlay(obj)); diff != "" {
		t.Errorf("overlay (-want +got):\n%s", diff)
	}
	if !overlay(&kustomizev1.Kustomization{}).IsZero() {
		t.Error("an empty spec gives a non-empty overlay")
	}
}

func TestIndexes(t *testing.T) {
	t.Parallel()
	k := &kustomizev1.Kustomization{
		ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "web"},
		Spec: kustomizev1.KustomizationSpec{
			SourceRef: kustomizev1.CrossNamespaceSourceReference{Kind: "OCIRepository", Name: "src"},
			DependsOn: []meta.DependencyReference{{Name: "db"}, {Name: "infra", Namespace: "platform"}, {Kind: "HelmRelease", Name: "cache"}},
		},
	}
	if diff := cmp.Diff([]string{"OCIRepository/apps/src"}, indexSourceRef(k)); diff != "" {
		t.Errorf("sourceRef index (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"Kustomization/apps/db", "Kustomization/platform/infra", "HelmRelease/apps/cache"}, indexDependsOn(k)); diff != "" {
		t.Errorf("dependsOn index (-want +got):\n%s", diff)
	}
	k.Spec.SourceRef.Namespace = "shared"
	if diff := cmp.Diff([]string{"OCIRepository/shared/src"}, indexSourceRef(k)); diff != "" {
		t.Errorf("sourceRef index (-want +got):\n%s", diff)
	}
}

func TestArtifactChanged(t *testing.T) {
	t.Parallel()
	repo := func(a *artifact.Artifact) *sourcev1.GitRepository {
		return &sourcev1.GitRepository{Status: sourcev1.GitRepositoryStatus{Artifact: a}}
	}
	a1 := &artifact.Artifact{URL: "http://s/a.tar.gz", Revision: "main@sha1:1", Digest: "sha256:1"}
	a2 := &artifact.Artifact{URL: "http://s/b.tar.gz", Revision: "main@sha1:2", Digest: "sha256:2"}
	sameRev := a1.DeepCopy()
	sameRev.Digest = "sha256:other" // same commit, other ignore rules, say
	touched := a1.DeepCopy()
	touched.LastUpdateTime = metav1.Now()
	p := artifactChanged()
	cases := []struct {
		name     string
		old, new *artifact.Artifact
		want     bool
	}{
		{"first artifact", nil, a1, true},
		{"new revision", a1, a2, true},
		{"new digest", a1, sameRev, true},
		{"unchanged", a1, a1.DeepCopy(), false},
		{"only the time changed", a1, touched, false},
		{"artifact removed", a1, nil, false},
	}
	for _, tc := range cases {
		if got := p.Update(event.UpdateEvent{ObjectOld: repo(tc.old), ObjectNew: repo(tc.new)}); got != tc.want {
			t.Errorf("%s: Update = %v, want %v", tc.name, got, tc.want)
		}
	}
	if !p.Create(event.CreateEvent{Object: repo(a1)}) || p.Create(event.CreateEvent{Object: repo(nil)}) {
		t.Error("Create: want true only with an artifact")
	}
	if p.Delete(event.DeleteEvent{Object: repo(a1)}) {
		t.Error("Delete: want false")
	}
}
