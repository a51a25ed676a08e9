package ssa

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	gkNamespace = schema.GroupKind{Kind: "Namespace"}
	gkCRD       = schema.GroupKind{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"}
	gkSA        = schema.GroupKind{Kind: "ServiceAccount"}
	gkSecret    = schema.GroupKind{Kind: "Secret"}
)

// lastKinds are applied after everything else in a set: admission
// configurations would otherwise intercept the set's own objects.
var lastKinds = map[schema.GroupKind]bool{
	{Group: "admissionregistration.k8s.io", Kind: "ValidatingWebhookConfiguration"}:   true,
	{Group: "admissionregistration.k8s.io", Kind: "MutatingWebhookConfiguration"}:     true,
	{Group: "admissionregistration.k8s.io", Kind: "ValidatingAdmissionPolicy"}:        true,
	{Group: "admissionregistration.k8s.io", Kind: "ValidatingAdmissionPolicyBinding"}: true,
	{Group: "admissionregistration.k8s.io", Kind: "MutatingAdmissionPolicy"}:          true,
	{Group: "admissionregistration.k8s.io", Kind: "MutatingAdmissionPolicyBinding"}:   true,
}

// link computes every item's dependencies and checks the graph is acyclic.
// An explicit depends-on naming an object outside the set is an error: the
// Manager cannot order against what it does not apply.
func link(items []*item) error { return linkMode(items, true) }

// linkLenient computes dependencies for deleting objects read from the
// cluster: malformed or outside references are ignored, and explicit
// edges are dropped altogether if they form a cycle.
func linkLenient(items []*item) {
	if linkMode(items, false) != nil {
		for _, it := range items {
			ann := it.obj.GetAnnotations()
			delete(ann, DependsOnAnnotation)
			it.obj.SetAnnotations(ann)
		}
		_ = linkMode(items, false)
	}
}

func linkMode(items []*item, strict bool) error {
	index := make(map[ObjectID]int, len(items))
	namespaces := map[string]int{}
	crds := map[schema.GroupKind]int{}
	for i, it := range items {
		index[it.id] = i
		switch it.id.GroupKind() {
		case gkNamespace:
			namespaces[it.id.Name] = i
		case gkCRD:
			g, _, _ := unstructured.NestedString(it.obj.Object, "spec", "group")
			k, _, _ := unstructured.NestedString(it.obj.Object, "spec", "names", "kind")
			crds[schema.GroupKind{Group: g, Kind: k}] = i
		}
	}
	var rest []int // every item that is not applied last
	for i, it := range items {
		if !lastKinds[it.id.GroupKind()] {
			rest = append(rest, i)
		}
	}
	var errs []error
	for i, it := range items {
		deps := map[int]bool{}
		add := func(j int, ok bool) {
			if ok && j != i {
				deps[j] = true
			}
		}
		it.nsItem, it.crdItem = -1, -1
		if it.id.Namespace != "" {
			j, ok := namespaces[it.id.Namespace]
			add(j, ok)
			if ok {
				it.nsItem = j
			}
		}
		j, ok := crds[it.id.GroupKind()]
		add(j, ok)
		if ok && j != i {
			it.crdItem = j
		}
		switch it.id.GroupKind() {
		case schema.GroupKind{Group: "rbac.authorization.k8s.io", Kind: "RoleBinding"},
			schema.GroupKind{Group: "rbac.authorization.k8s.io", Kind: "ClusterRoleBinding"}:
			kind, _, _ := unstructured.NestedString(it.obj.Object, "roleRef", "kind")
			name, _, _ := unstructured.NestedString(it.obj.Object, "roleRef", "name")
			ref := ObjectID{Group: "rbac.authorization.k8s.io", Kind: kind, Name: name}
			if kind == "Role" {
				ref.Namespace = it.id.Namespace
			}
			j, ok := index[ref]
			add(j, ok)
		}
		if path := podSpecPath(it.id.GroupKind()); path != nil {
			sa, _, _ := unstructured.NestedString(it.obj.Object, append(slices.Clone(path), "serviceAccountName")...)
			if sa != "" {
				j, ok := index[ObjectID{Kind: "ServiceAccount", Namespace: it.id.Namespace, Name: sa}]
				add(j, ok)
			}
		}
		if lastKinds[it.id.GroupKind()] {
			for _, j := range rest {
				add(j, true)
			}
		}
		if v, ok := it.obj.GetAnnotations()[DependsOnAnnotation]; ok {
			refs, err := ParseDependsOn(v)
			if err != nil && !strict {
				refs = nil
			} else if err != nil {
				errs = append(errs, fmt.Errorf("%w: %s: %w", ErrDependency, it.id, err))
				continue
			}
			it.explicit = map[int]bool{}
			for _, ref := range refs {
				j, ok := index[ref]
				if !ok && !strict {
					continue
				}
				if !ok {
					errs = append(errs, fmt.Errorf("%w: %s depends on %s, which is not in the set", ErrDependency, it.id, ref))
					continue
				}
				if j == i {
					errs = append(errs, fmt.Errorf("%w: %s depends on itself", ErrDependency, it.id))
					continue
				}
				add(j, true)
				it.explicit[j] = true
			}
		}
		it.deps = it.deps[:0]
		for j := range deps {
			it.deps = append(it.deps, j)
		}
		slices.Sort(it.deps)
	}
	if len(errs) > 0 {
		return joinErrors(errs)
	}
	if cycle := findCycle(items); cycle != nil {
		names := make([]string, len(cycle))
		for k, i := range cycle {
			names[k] = items[i].id.String()
		}
		return fmt.Errorf("%w: dependency cycle %s", ErrDependency, strings.Join(names, " -> "))
	}
	return nil
}

// findCycle returns the items of one dependency cycle, first item repeated
// at the end, or nil when the graph is acyclic.
func findCycle(items []*item) []int {
	const (
		white = iota
		grey
		black
	)
	color := make([]int, len(items))
	var stack []int
	var cycle []int
	var visit func(i int) bool
	visit = func(i int) bool {
		color[i] = grey
		stack = append(stack, i)
		for _, j := range items[i].deps {
			switch color[j] {
			case grey:
				k := slices.Index(stack, j)
				cycle = append(slices.Clone(stack[k:]), j)
				return true
			case white:
				if visit(j) {
					return true
				}
			}
		}
		stack = stack[:len(stack)-1]
		color[i] = black
		return false
	}
	for i := range items {
		if color[i] == white && visit(i) {
			// report in dependency order: a -> b means a needs b
			return cycle
		}
	}
	return nil
}

// DependencyError is the error of an object that was not processed because
// an object it depends on failed.
type DependencyError struct {
	Dependency ObjectID
}

func (e *DependencyError) Error() string {
	return fmt.Sprintf("not processed: dependency %s failed", e.Dependency)
}

// schedule runs fn for every node of a DAG as soon as the nodes it depends
// on have finished, with at most workers calls at a time. deps[i] lists the
// nodes i waits for. A node whose dependency failed is not run; its error is
// a *DependencyError. It returns one error slot per node.
func schedule(ctx context.Context, workers int, deps [][]int, ids func(int) ObjectID, fn func(ctx context.Context, i int) error) []error {
	n := len(deps)
	errs := make([]error, n)
	if n == 0 {
		return errs
	}
	pending := make([]int, n)
	dependents := make([][]int, n)
	for i, ds := range deps {
		pending[i] = len(ds)
		for _, d := range ds {
			dependents[d] = append(dependents[d], i)
		}
	}
	type result struct {
		i   int
		err error
	}
	work := make(chan int, n)
	done := make(chan result, n)
	if workers > n {
		workers = n
	}
	for w := 0; w < workers; w++ {
		go func() {
			for i := range work {
				var err error
				if cerr := ctx.Err(); cerr != nil {
					err = cerr
				} else {
					err = fn(ctx, i)
				}
				done <- result{i, err}
			}
		}()
	}
	blocked := make([]error, n) // first failed dependency of a node
	var finish func(r result) int
	remaining := n
	// finish records a result and releases dependents; nodes skipped
	// because of a failed dependency finish immediately, recursively.
	finish = func(r result) int {
		count := 1
		errs[r.i] = r.err
		for _, d := range dependents[r.i] {
			if r.err != nil && blocked[d] == nil {
				if de, ok := r.err.(*DependencyError); ok {
					blocked[d] = de
				} else {
					blocked[d] = &DependencyError{Dependency: ids(r.i)}
				}
			}
			pending[d]--
			if pending[d] == 0 {
				if blocked[d] != nil {
					count += finish(result{d, blocked[d]})
				} else {
					work <- d
				}
			}
		}
		return count
	}
	for i := range n {
		if pending[i] == 0 {
			work <- i
		}
	}
	for remaining > 0 {
		r := <-done
		remaining -= finish(r)
	}
	close(work)
	return errs
}
