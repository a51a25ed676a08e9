package kustomize

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// hostileSchema makes Deployment containers merge by image instead of by
// name, so that a strategic merge patch changing a container's image adds
// a second container: what a tenant's schema would do to every later
// build if it leaked.
const hostileSchema = `{"definitions": {"io.k8s.api.apps.v1.Deployment": {"type": "object",
 "x-kubernetes-group-version-kind": [{"group": "apps", "kind": "Deployment", "version": "v1"}],
 "properties": {"spec": {"type": "object", "properties": {"template": {"type": "object", "properties": {"spec": {"type": "object",
  "properties": {"containers": {"type": "array", "x-kubernetes-patch-merge-key": "image", "x-kubernetes-patch-strategy": "merge", "items": {"type": "object"}}}}}}}}}}}}`

const imagePatch = "patches:\n- patch: |\n    apiVersion: apps/v1\n    kind: Deployment\n    metadata:\n      name: web\n    spec:\n      template:\n        spec:\n          containers:\n          - name: web\n            image: nginx:2\n"

// openAPITree holds: plain/ (no schema: one container after the patch),
// custom/ (a top-level openapi: two containers), and deep/d00, a chain 70
// kustomizations deep whose last one sets the schema (built on its own,
// its Deployment gets two containers).
func openAPITree(t *testing.T) string {
	root := t.TempDir()
	files := map[string]string{
		"plain/kustomization.yaml":  "resources:\n- deploy.yaml\n" + imagePatch,
		"plain/deploy.yaml":         deployment,
		"custom/kustomization.yaml": "resources:\n- deploy.yaml\nopenapi:\n  path: schema.json\n" + imagePatch,
		"custom/deploy.yaml":        deployment,
		"custom/schema.json":        hostileSchema,
		"bad/kustomization.yaml":    "resources:\n- deploy.yaml\nopenapi:\n  path: schema.json\n" + imagePatch,
		"bad/deploy.yaml":           deployment,
		"bad/schema.json":           `{"definitions": {"x": {"type": 5}}}`,
	}
	for k, v := range chain("deep", 70, "resources:\n- ../../custom/deploy.yaml\nopenapi:\n  path: ../../custom/schema.json\n"+imagePatch) {
		files[k] = v
	}
	writeTree(t, root, files)
	return root
}

func containers(t *testing.T, objs []*unstructured.Unstructured) int {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() == "Deployment" {
			cs, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
			return len(cs)
		}
	}
	t.Fatalf("no Deployment in %v", ids(objs))
	return 0
}

// A schema set by one build, at the top or 70 kustomizations deep, applies
// to that build and to no later one.
func TestOpenAPISchemaConfinedToItsBuild(t *testing.T) {
	t.Parallel()
	root := openAPITree(t)
	for _, step := range []struct {
		dir  string
		want int
	}{{"plain", 1}, {"custom", 2}, {"plain", 1}, {"deep/d00", 2}, {"plain", 1}} {
		if got := containers(t, mustBuild(t, root, step.dir, Options{})); got != step.want {
			t.Errorf("%s: %d containers, want %d", step.dir, got, step.want)
		}
	}
}

// Builds with and without schemas, all at once: none sees another's.
func TestOpenAPISchemaConcurrentBuilds(t *testing.T) {
	t.Parallel()
	root := openAPITree(t)
	dirs := map[string]int{"plain": 1, "custom": 2, "deep/d00": 2}
	var wg sync.WaitGroup
	errs := make(chan error, 48)
	for i := range 48 {
		dir := []string{"plain", "custom", "plain", "deep/d00", "plain", "plain"}[i%6]
		wg.Go(func() {
			objs, err := Build(context.Background(), root, dir, Options{})
			if err != nil {
				errs <- fmt.Errorf("%s: %w", dir, err)
				return
			}
			for _, o := range objs {
				cs, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
				if o.GetKind() == "Deployment" && len(cs) != dirs[dir] {
					errs <- fmt.Errorf("%s: %d containers, want %d", dir, len(cs), dirs[dir])
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// A schema kyaml cannot parse makes kustomize panic; the panic is that
// build's error and later builds are unaffected.
func TestOpenAPIInvalidSchemaHarmsNoOtherBuild(t *testing.T) {
	t.Parallel()
	root := openAPITree(t)
	for range 3 {
		if _, err := Build(context.Background(), root, "bad", Options{}); err == nil {
			t.Fatal("a build with an invalid schema succeeded")
		} else {
			t.Log(err)
		}
		if got := containers(t, mustBuild(t, root, "plain", Options{})); got != 1 {
			t.Fatalf("plain build after a bad schema: %d containers", got)
		}
	}
}

// A build waiting to set its schema alone gives up when its context ends,
// instead of waiting forever behind a build that never finishes.
func TestOpenAPIWaitEndsWithContext(t *testing.T) {
	t.Parallel()
	root := openAPITree(t)
	release := make(chan struct{})
	started := make(chan struct{})
	stuck := func(filesys.FileSystem, string, *krusty.Options) (resmap.ResMap, error) {
		close(started)
		<-release // never touches the filesystem: cannot be stopped
		return nil, errors.New("released")
	}
	stuckDone := make(chan struct{})
	go func() {
		defer close(stuckDone)
		build(context.Background(), root, "plain", Options{}, stuck)
	}()
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := Build(ctx, root, "custom", Options{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("want the deadline's error, got %v", err)
	}
	close(release)
	<-stuckDone
	if got := containers(t, mustBuild(t, root, "custom", Options{})); got != 2 {
		t.Errorf("custom after the wait: %d containers", got)
	}
}
