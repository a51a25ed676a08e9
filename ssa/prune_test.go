package ssa_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gitopskit/kit/ssa"
)

func TestPruneWithOptOut(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	ns := env.Namespace(t)
	m, _ := newManager(t, nil)
	first := objects(t, `
apiVersion: v1
kind: ConfigMap
metadata: {name: stays}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: goes}
---
apiVersion: v1
kind: Secret
metadata: {name: goes-too}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: kept, annotations: {ssa.gitopskit.dev/prune: disabled}}
`)
	cs, err := m.Apply(ctx, first, ssa.ApplyOptions{DefaultNamespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	// An object the inventory lists but another owner has since claimed.
	claimed := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "claimed", Namespace: ns, Labels: map[string]string{
		"test.gitopskit.dev/name": "other", "test.gitopskit.dev/namespace": "elsewhere",
	}}}
	if err := env.Client().Create(ctx, claimed); err != nil {
		t.Fatal(err)
	}
	old := ssa.InventoryFromChangeSet(cs)
	old.Add(ssa.ObjectID{Kind: "ConfigMap", Namespace: ns, Name: "claimed"}, "v1")
	old.Add(ssa.ObjectID{Kind: "ConfigMap", Namespace: ns, Name: "already-gone"}, "v1")

	// Store and reload the inventory, as a controller would between runs.
	key := types.NamespacedName{Namespace: ns, Name: "inventory"}
	if err := m.SaveInventory(ctx, key, old); err != nil {
		t.Fatal(err)
	}
	loaded, err := m.LoadInventory(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(old, loaded); diff != "" {
		t.Errorf("loaded inventory (-want +got):\n%s", diff)
	}

	cs, err = m.Apply(ctx, first[:1], ssa.ApplyOptions{DefaultNamespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	stale := loaded.Diff(ssa.InventoryFromChangeSet(cs))
	pruned, err := m.Prune(ctx, stale, ssa.PruneOptions{Wait: true, Timeout: time.Minute})
	if err != nil {
		t.Fatalf("Prune: %v", err)
	}
	want := map[string]ssa.Action{
		"ConfigMap/" + ns + "/goes":    ssa.ActionDeleted,
		"Secret/" + ns + "/goes-too":   ssa.ActionDeleted,
		"ConfigMap/" + ns + "/kept":    ssa.ActionSkipped,
		"ConfigMap/" + ns + "/claimed": ssa.ActionSkipped,
	}
	if diff := cmp.Diff(want, actions(pruned)); diff != "" {
		t.Errorf("prune (-want +got):\n%s", diff)
	}
	for _, c := range pruned.Changes {
		if c.ID.Name == "claimed" && !strings.Contains(c.Reason, "elsewhere/other") {
			t.Errorf("skip reason %q does not name the other owner", c.Reason)
		}
	}
	for name, gone := range map[string]bool{"stays": false, "goes": true, "kept": false, "claimed": false} {
		err := env.Client().Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, &corev1.ConfigMap{})
		if apierrors.IsNotFound(err) != gone {
			t.Errorf("%s: get = %v, want gone=%v", name, err, gone)
		}
	}
}

func TestPruneOrder(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	ns := env.Namespace(t)
	m, rec := newManager(t, nil)
	set := objects(t, `
apiVersion: v1
kind: ServiceAccount
metadata: {name: runner}
---
apiVersion: v1
kind: Pod
metadata: {name: job}
spec:
  serviceAccountName: runner
  containers: [{name: c, image: busybox}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: base}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: top, annotations: {config.kubernetes.io/depends-on: /namespaces/`+ns+`/ConfigMap/base}}
`)
	cs, err := m.Apply(ctx, set, ssa.ApplyOptions{DefaultNamespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	rec.reset()
	pruned, err := m.Prune(ctx, ssa.InventoryFromChangeSet(cs), ssa.PruneOptions{Propagation: metav1.DeletePropagationForeground})
	if err != nil {
		t.Fatal(err)
	}
	if n := pruned.Count(ssa.ActionDeleted); n != 4 {
		t.Errorf("deleted %d, want 4:\n%s", n, pruned)
	}
	pos := map[string]int{}
	for i, w := range rec.writes() {
		pos[w.Path[strings.LastIndex(w.Path, "/")+1:]] = i
	}
	if !(pos["job"] < pos["runner"] && pos["top"] < pos["base"]) {
		t.Errorf("deletion order %v: dependents must go first", rec.writes())
	}
}
