package ssa_test

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/ssa"
)

// Example is the README's usage, compiled: a Schemas shared by the
// process, a Manager per owner, then apply, wait, prune and diff.
func Example() {
	var (
		ctx        context.Context
		restConfig *rest.Config
		objs       []*unstructured.Unstructured
		key        types.NamespacedName
	)
	run := func() error {
		// Once per process: the API server's schemas, shared by every Manager.
		schemas, err := ssa.NewSchemas(restConfig)
		if err != nil {
			return err
		}
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
			return err // a *ssa.SetError naming each failure; cs is never nil
		}
		err = m.Wait(ctx, objs, ssa.WaitOptions{Timeout: 5 * time.Minute, FailFast: true})
		if err != nil {
			return err // errors.Is(err, ssa.ErrTimeout / ssa.ErrFailed)
		}
		next := ssa.InventoryFromChangeSet(cs)
		prev, err := m.LoadInventory(ctx, key)
		if err != nil {
			return err
		}
		if _, err := m.Prune(ctx, prev.Diff(next), ssa.PruneOptions{Wait: true}); err != nil {
			return err
		}
		if err := m.SaveInventory(ctx, key, next); err != nil {
			return err
		}
		diffs, err := m.Diff(ctx, objs, ssa.DiffOptions{IgnoreOthersFields: true})
		for _, d := range diffs {
			fmt.Println(d.ID, d.Action, d.Unified) // Secret values masked
		}
		return err
	}
	_ = run // not run: it needs a cluster
}
