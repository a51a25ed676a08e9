package kustomize

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gitopskit/kit/kustomize"

	kustomizev1 "github.com/gitopskit/kit/examples/api/kustomize/v1"
)

// downloads counts the artifact downloads of the reconcilers' Fetcher by
// the namespace of the artifact's source (/<kind>/<namespace>/<name>/…).
var downloads = &downloadCounter{byNamespace: map[string]int{}}

type downloadCounter struct {
	mu          sync.Mutex
	byNamespace map[string]int
}

func (c *downloadCounter) client() *http.Client {
	return &http.Client{Transport: roundTripper(func(req *http.Request) (*http.Response, error) {
		if parts := strings.Split(strings.TrimPrefix(req.URL.Path, "/"), "/"); len(parts) > 2 {
			c.mu.Lock()
			c.byNamespace[parts[1]]++
			c.mu.Unlock()
		}
		return http.DefaultTransport.RoundTrip(req)
	})}
}

func (c *downloadCounter) count(ns string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.byNamespace[ns]
}

func objectsNamed(names ...string) []*unstructured.Unstructured {
	out := make([]*unstructured.Unstructured, 0, len(names))
	for _, n := range names {
		u := &unstructured.Unstructured{}
		u.SetAPIVersion("v1")
		u.SetKind("ConfigMap")
		u.SetName(n)
		u.Object["data"] = map[string]any{"k": strings.Repeat("v", 10)}
		out = append(out, u)
	}
	return out
}

func TestBuildCacheHandsOutCopies(t *testing.T) {
	c := newBuildCache(1 << 20)
	name := types.NamespacedName{Namespace: "ns", Name: "app"}
	var key buildKey
	objs := objectsNamed("a")
	c.put(name, key, objs, "sha256:x", 100)
	objs[0].SetName("changed after put")

	got, digest, ok := c.get(name, key)
	if !ok || digest != "sha256:x" || got[0].GetName() != "a" {
		t.Fatalf("get = %v, %q, %v; want the stored copy of a", got, digest, ok)
	}
	got[0].SetLabels(map[string]string{"stamped": "by apply"})
	again, _, _ := c.get(name, key)
	if again[0].GetLabels() != nil {
		t.Fatal("a change to what get returned reached the cache")
	}
	if _, _, ok := c.get(name, buildKey{1}); ok {
		t.Fatal("another key hit")
	}
	if _, _, ok := c.get(types.NamespacedName{Namespace: "ns", Name: "other"}, key); ok {
		t.Fatal("another Kustomization hit")
	}
}

func TestBuildCacheBound(t *testing.T) {
	c := newBuildCache(250)
	key := buildKey{}
	nn := func(i int) types.NamespacedName { return types.NamespacedName{Namespace: "ns", Name: fmt.Sprint(i)} }
	for i := range 3 {
		c.put(nn(i), key, objectsNamed("x"), "d", 100)
	}
	// 300 bytes over a bound of 250: the least recently used (0) went.
	if n, size := c.stats(); n != 2 || size != 200 {
		t.Fatalf("entries %d, size %d; want 2, 200", n, size)
	}
	if _, _, ok := c.get(nn(0), key); ok {
		t.Fatal("the least recently used entry was kept")
	}
	// Using 1 makes 2 the least recently used.
	c.get(nn(1), key)
	c.put(nn(3), key, objectsNamed("x"), "d", 100)
	if _, _, ok := c.get(nn(2), key); ok {
		t.Fatal("entry 2 should have been dropped, not the recently used 1")
	}
	if _, _, ok := c.get(nn(1), key); !ok {
		t.Fatal("the recently used entry was dropped")
	}
	// Replacing an entry does not count it twice.
	c.put(nn(1), buildKey{2}, objectsNamed("x"), "d", 100)
	if n, size := c.stats(); n != 2 || size != 200 {
		t.Fatalf("after a replacement: entries %d, size %d; want 2, 200", n, size)
	}
	if _, _, ok := c.get(nn(1), key); ok {
		t.Fatal("the replaced build is still served")
	}
	// A build larger than the bound is not kept, and drops the old one.
	c.put(nn(3), key, objectsNamed("x"), "d", 251)
	if _, _, ok := c.get(nn(3), key); ok {
		t.Fatal("a build over the whole bound was kept")
	}
	c.forget(nn(1))
	if n, size := c.stats(); n != 0 || size != 0 {
		t.Fatalf("after forget: entries %d, size %d; want 0, 0", n, size)
	}
	var none *buildCache // disabled
	none.put(nn(1), key, objectsNamed("x"), "d", 1)
	if _, _, ok := none.get(nn(1), key); ok {
		t.Fatal("a nil cache hit")
	}
}

// TestBuildKey: every input of a build is in its key, and nothing else.
func TestBuildKey(t *testing.T) {
	ks := &kustomizev1.Kustomization{ObjectMeta: metav1.ObjectMeta{UID: "u1", Generation: 3}}
	opts := func(vars map[string]string, age ...string) kustomize.Options {
		o := kustomize.Options{Substitute: &kustomize.Substitution{Vars: vars}}
		if len(age) > 0 {
			o.Decrypt = &kustomize.Decryption{AgeIdentities: age}
		}
		return o
	}
	base := newBuildKey(ks, "sha256:a", opts(map[string]string{"a": "1", "b": "2"}))
	for range 20 { // map order must not matter
		if newBuildKey(ks, "sha256:a", opts(map[string]string{"b": "2", "a": "1"})) != base {
			t.Fatal("the same inputs gave another key")
		}
	}
	other := ks.DeepCopy()
	other.UID = "u2"
	newer := ks.DeepCopy()
	newer.Generation = 4
	annotated := ks.DeepCopy()
	annotated.Annotations = map[string]string{"reconcile.gitopskit.dev/requestedAt": "now"}
	strict := opts(map[string]string{"a": "1", "b": "2"})
	strict.Substitute.Strict = true
	for name, k := range map[string]buildKey{
		"another object (recreated)":   newBuildKey(other, "sha256:a", opts(map[string]string{"a": "1", "b": "2"})),
		"a new generation":             newBuildKey(newer, "sha256:a", opts(map[string]string{"a": "1", "b": "2"})),
		"another artifact":             newBuildKey(ks, "sha256:b", opts(map[string]string{"a": "1", "b": "2"})),
		"a changed variable":           newBuildKey(ks, "sha256:a", opts(map[string]string{"a": "1", "b": "3"})),
		"a variable more":              newBuildKey(ks, "sha256:a", opts(map[string]string{"a": "1", "b": "2", "c": ""})),
		"values shifted between names": newBuildKey(ks, "sha256:a", opts(map[string]string{"a": "12", "b": ""})),
		"strict substitution":          newBuildKey(ks, "sha256:a", strict),
		"a decryption key":             newBuildKey(ks, "sha256:a", opts(map[string]string{"a": "1", "b": "2"}, "AGE-SECRET-KEY-1X")),
		"no substitution":              newBuildKey(ks, "sha256:a", kustomize.Options{}),
	} {
		if k == base {
			t.Errorf("%s: same key", name)
		}
	}
	if newBuildKey(annotated, "sha256:a", opts(map[string]string{"a": "1", "b": "2"})) != base {
		t.Error("metadata that the build does not read changed the key")
	}
}

// TestUnchangedRecheckUsesTheLastBuild: the interval's re-check of an
// unchanged Kustomization downloads and builds nothing — and still
// corrects drift; a changed substitution value, a spec change and a
// requested reconcile each build afresh.
func TestUnchangedRecheckUsesTheLastBuild(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	vars := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "vars"}, Data: map[string]string{"colour": "red"}}
	if err := f.c.Create(ctx, vars); err != nil {
		t.Fatal(err)
	}
	a := f.artifact("app", map[string]string{
		"deploy/a.yaml": cm("a", "colour", "${colour}"),
		"deploy/b.yaml": cm("b", "k", "v"),
	})
	f.gitRepository("app", &a)
	ks := f.kustomization("app", "app", func(s *kustomizev1.KustomizationSpec) {
		s.Path = "./deploy"
		s.Interval = metav1.Duration{Duration: time.Second}
		s.PostBuild = &kustomizev1.PostBuild{SubstituteFrom: []kustomizev1.SubstituteReference{{Kind: "ConfigMap", Name: "vars"}}}
	})
	f.waitReady(ks, a.Revision)
	built := downloads.count(f.ns)
	if built == 0 {
		t.Fatal("no download was counted: the counter does not see the fetcher")
	}

	// Drift behind our back, put back by an interval re-check that used
	// the last build.
	if err := f.c.Delete(ctx, f.mustConfigMap(f.ns, "b")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "b to be re-created", func() bool { return f.configMap(f.ns, "b") != nil })
	if got := downloads.count(f.ns); got != built {
		t.Fatalf("the re-check downloaded the artifact again (%d downloads, want %d)", got, built)
	}

	// A value read from the cluster changed: a new build, without a new
	// artifact or spec.
	vars.Data["colour"] = "blue"
	if err := f.c.Update(ctx, vars); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a to carry the new value", func() bool {
		c := f.configMap(f.ns, "a")
		return c != nil && c.Data["colour"] == "blue"
	})
	if got := downloads.count(f.ns); got != built+1 {
		t.Fatalf("%d downloads after the value changed, want %d", got, built+1)
	}

	// A spec change builds afresh.
	f.update(ks, func(k *kustomizev1.Kustomization) {
		k.Spec.CommonMetadata = &kustomizev1.CommonMetadata{Labels: map[string]string{"team": "x"}}
	})
	waitFor(t, "the new label", func() bool {
		c := f.configMap(f.ns, "b")
		return c != nil && c.Labels["team"] == "x"
	})
	if got := downloads.count(f.ns); got != built+2 {
		t.Fatalf("%d downloads after the spec changed, want %d", got, built+2)
	}

	// A requested reconcile always builds afresh.
	f.requestReconcile(ks)
	if got := downloads.count(f.ns); got != built+3 {
		t.Fatalf("%d downloads after a requested reconcile, want %d", got, built+3)
	}
}

// waitFor polls cond until it holds, failing the test after a minute.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
