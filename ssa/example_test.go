package ssa_test

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/ssa"
)

// Example is the README's usage, run against the control plane of
// runtime/testenv that TestMain starts: a Schemas shared by the process, a
// Manager per owner, then apply, wait, prune, save the inventory and diff.
// The first reconcile creates two ConfigMaps; the second changes one and
// drops the other, which is pruned.
func Example() {
	ctx := context.Background()
	restConfig := env.Config()
	for _, ns := range []string{"apps", "gitops"} {
		err := env.Client().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			panic(err)
		}
	}
	key := types.NamespacedName{Namespace: "gitops", Name: "apps-inventory"}
	configMap := func(name, value string) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": name},
			"data":     map[string]any{"value": value},
		}}
	}

	// Once per process: the API server's schemas, shared by every Manager.
	schemas, err := ssa.NewSchemas(restConfig)
	if err != nil {
		panic(err)
	}
	reconcile := func(objs []*unstructured.Unstructured) error {
		// Per owner (a Manager per reconcile is fine: the schemas stay cached).
		c, err := client.NewWithWatch(restConfig, client.Options{}) // uncached, can watch
		if err != nil {
			return err
		}
		m, err := ssa.NewManager(c, ssa.Owner{
			Field: "gitopsd",                   // field manager
			Group: "kustomize.gitopskit.dev",   // ownership labels <group>/name, <group>/namespace
			Name:  "apps", Namespace: "gitops", // the owning object
		}, ssa.WithSchemas(schemas))
		if err != nil {
			return err
		}

		cs, err := m.Apply(ctx, objs, ssa.ApplyOptions{
			DefaultNamespace: "apps",
			// Flux's driftIgnoreRules: the autoscaler owns replicas.
			IgnoreRules: []ssa.IgnoreRule{{Paths: []string{"/spec/replicas"}, Selector: ssa.Selector{Kind: "Deployment"}}},
		})
		if err != nil {
			return err // a *ssa.SetError naming each failure; cs lists what succeeded
		}
		for _, ch := range cs.Changes {
			fmt.Println("apply:", ch.ID, ch.Action)
		}

		err = m.Wait(ctx, objs, ssa.WaitOptions{DefaultNamespace: "apps", Timeout: 5 * time.Minute, FailFast: true})
		if err != nil {
			return err // errors.Is(err, ssa.ErrTimeout / ssa.ErrFailed); the message lists each unready object
		}

		next := ssa.InventoryFromChangeSet(cs)
		prev, err := m.LoadInventory(ctx, key)
		if err != nil {
			return err
		}
		pruned, err := m.Prune(ctx, prev.Diff(next), ssa.PruneOptions{Wait: true})
		if err != nil {
			return err
		}
		for _, ch := range pruned.Changes {
			fmt.Println("prune:", ch.ID, ch.Action)
		}
		if err := m.SaveInventory(ctx, key, next); err != nil {
			return err
		}

		diffs, err := m.Diff(ctx, objs, ssa.DiffOptions{DefaultNamespace: "apps", IgnoreOthersFields: true})
		for _, d := range diffs {
			fmt.Printf("diff: %s %s\n%s", d.ID, d.Action, d.Unified) // Secret values masked
		}
		return err
	}

	if err := reconcile([]*unstructured.Unstructured{configMap("settings", "1"), configMap("legacy", "x")}); err != nil {
		panic(err)
	}
	if err := reconcile([]*unstructured.Unstructured{configMap("settings", "2")}); err != nil {
		panic(err)
	}
	// Output:
	// apply: ConfigMap/apps/settings created
	// apply: ConfigMap/apps/legacy created
	// diff: ConfigMap/apps/settings unchanged
	// diff: ConfigMap/apps/legacy unchanged
	// apply: ConfigMap/apps/settings configured
	// prune: ConfigMap/apps/legacy deleted
	// diff: ConfigMap/apps/settings unchanged
}
