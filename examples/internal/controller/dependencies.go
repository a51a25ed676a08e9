package controller

import (
	"context"
	"errors"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/gitopskit/kit/runtime/acl"
	"github.com/gitopskit/kit/runtime/conditions"
	"github.com/gitopskit/kit/runtime/dependency"
	"github.com/gitopskit/kit/runtime/reconcile"

	"github.com/gitopskit/kit/examples/api/meta"
)

// Reasons of the conditions Dependencies.Check sets through its errors.
const (
	// DependencyAccessDeniedReason: a dependsOn reference crosses into a
	// namespace the cross-namespace policy does not let the dependent reach.
	DependencyAccessDeniedReason = "AccessDenied"
	// DependencyInvalidReason: a dependsOn reference cannot be checked (an
	// invalid readyExpr, a kind this gitopsd does not serve).
	DependencyInvalidReason = "InvalidSpec"
)

// dependencyKinds are the kinds a dependsOn reference may name, by the
// kind's name: both are in every gitopsd, so a Kustomization may wait for a
// HelmRelease and a HelmRelease for a Kustomization.
var dependencyKinds = map[string]schema.GroupVersionKind{
	meta.DependencyKustomization: {Group: "kustomize.gitopskit.dev", Version: "v1", Kind: meta.DependencyKustomization},
	meta.DependencyHelmRelease:   {Group: "helm.gitopskit.dev", Version: "v1", Kind: meta.DependencyHelmRelease},
}

// Dependencies checks the dependsOn references of Kustomizations and
// HelmReleases by one set of rules (runtime/dependency):
//
//   - a reference without a kind is of the dependent's kind, one without a
//     namespace in the dependent's namespace;
//   - the cross-namespace policy decides whether the dependent may look at
//     the dependency at all (a denial stalls: retrying cannot help);
//   - a dependency is ready when its Ready condition is True at its current
//     generation, or, with readyExpr, when the expression holds;
//   - a missing or not-ready dependency makes the dependent wait and check
//     again (it is also requeued as soon as the dependency becomes ready,
//     see DependencyIndexKeys and BecameReady).
type Dependencies struct {
	// Client reads the dependencies (the manager's cached client).
	Client client.Reader
	// Scheme makes the typed objects the dependencies are read into.
	Scheme *runtime.Scheme
	// ACL is the cross-namespace policy.
	ACL acl.Policy
}

// Check returns nil when every dependency of self, an object of kind
// selfKind, is ready. Otherwise it returns, for the first that is not:
// a reconcile.Wait error (DependencyNotReady, checked again after requeue)
// when it is missing or not ready, and a reconcile.Stall error when the
// reference is denied, its readyExpr is invalid or its kind is not served.
func (d Dependencies) Check(ctx context.Context, self client.Object, selfKind string, deps []meta.DependencyReference, requeue time.Duration) error {
	from := dependency.Ref{Kind: selfKind, Namespace: self.GetNamespace(), Name: self.GetName()}
	for _, dep := range deps {
		ref := dependency.Ref{Kind: dep.Kind, Namespace: dep.Namespace, Name: dep.Name}.Resolve(from)
		// Messages name a dependency of the dependent's own kind without
		// its kind, as they did before dependencies could be of two kinds.
		shown := ref
		if shown.Kind == selfKind {
			shown.Kind = ""
		}
		if err := d.ACL.Check(ctx, d.Client, self.GetNamespace(), ref.Namespace); err != nil {
			if errors.Is(err, acl.ErrAccessDenied) {
				return reconcile.Stall(DependencyAccessDeniedReason, fmt.Errorf("dependsOn '%s': %w", shown, err))
			}
			return err
		}
		gvk, ok := dependencyKinds[ref.Kind]
		if !ok {
			return reconcile.Stall(DependencyInvalidReason, fmt.Errorf("dependsOn '%s': kind %q cannot be depended on", shown, ref.Kind))
		}
		ro, err := d.Scheme.New(gvk)
		obj, isObj := ro.(client.Object)
		if err != nil || !isObj {
			return reconcile.Stall(DependencyInvalidReason, fmt.Errorf("dependsOn '%s': kind %s is not served by this gitopsd", shown, gvk.Kind))
		}
		var opts dependency.ReadyOptions
		if dep.ReadyExpr != "" {
			expr, err := dependency.NewReadyExpr(dep.ReadyExpr)
			if err != nil {
				return reconcile.Stall(DependencyInvalidReason, fmt.Errorf("dependsOn '%s': %w", shown, err))
			}
			opts = dependency.ReadyOptions{Expr: expr, ExprOnly: true, Self: self}
		}
		if err := dependency.Check(ctx, d.Client, ref, obj, opts); err != nil {
			if nr := (*dependency.NotReadyError)(nil); errors.As(err, &nr) {
				nr.Dependency = shown
				return reconcile.Wait(conditions.DependencyNotReadyReason, requeue, err)
			}
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				return err
			}
			return reconcile.Stall(DependencyInvalidReason, fmt.Errorf("dependsOn '%s': %w", shown, err))
		}
	}
	return nil
}

// DependencyIndexKeys are the keys under which an object of kind selfKind
// in namespace ns is indexed by its dependsOn references: one
// DependencyKey per reference, its kind and namespace resolved.
func DependencyIndexKeys(selfKind, ns string, deps []meta.DependencyReference) []string {
	from := dependency.Ref{Kind: selfKind, Namespace: ns}
	out := make([]string, 0, len(deps))
	for _, dep := range deps {
		r := dependency.Ref{Kind: dep.Kind, Namespace: dep.Namespace, Name: dep.Name}.Resolve(from)
		out = append(out, DependencyKey(r.Kind, r.Namespace, r.Name))
	}
	return out
}

// DependencyKey is the index key of a dependency: the dependents of an
// object of that kind, namespace and name are the objects indexed under it.
func DependencyKey(kind, namespace, name string) string {
	return kind + "/" + namespace + "/" + name
}

// BecameReady lets through the updates that may let a dependent proceed:
// the object became Ready at its current generation, or, Ready, it
// reported something new (its Ready message names the revision it
// applied). Creations, deletions and generic events do not.
func BecameReady() predicate.Predicate {
	return predicate.Funcs{
		CreateFunc: func(event.CreateEvent) bool { return false },
		UpdateFunc: func(e event.UpdateEvent) bool {
			o, ok1 := e.ObjectOld.(conditions.Getter)
			n, ok2 := e.ObjectNew.(conditions.Getter)
			if !ok1 || !ok2 || !conditions.IsReady(n) {
				return false
			}
			return !conditions.IsReady(o) ||
				conditions.Get(o, conditions.Ready).Message != conditions.Get(n, conditions.Ready).Message
		},
		DeleteFunc:  func(event.DeleteEvent) bool { return false },
		GenericFunc: func(event.GenericEvent) bool { return false },
	}
}

// DependencyKind is a kind dependsOn references may name, with an empty
// object of it to watch.
type DependencyKind struct {
	Kind   string
	Object client.Object
}

// ServedDependencyKinds returns, in a fixed order, the kinds dependsOn
// references may name that scheme knows: the kinds a dependent watches so
// that it is requeued when a dependency becomes ready.
func ServedDependencyKinds(scheme *runtime.Scheme) []DependencyKind {
	var out []DependencyKind
	for _, k := range []string{meta.DependencyKustomization, meta.DependencyHelmRelease} {
		ro, err := scheme.New(dependencyKinds[k])
		if obj, ok := ro.(client.Object); err == nil && ok {
			out = append(out, DependencyKind{Kind: k, Object: obj})
		}
	}
	return out
}
