package kustomize

import (
	"context"
	"errors"
	"fmt"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	crreconcile "sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/gitopskit/kit/runtime/reconcile"
	"github.com/gitopskit/kit/ssa"

	kustomizev1 "github.com/gitopskit/kit/examples/api/kustomize/v1"
	sourcev1 "github.com/gitopskit/kit/examples/api/source/v1"
	controllers "github.com/gitopskit/kit/examples/internal/controller"
)

// Field indexes on Kustomizations, registered by SetupWithManager.
const (
	// sourceRefIndex maps a Kustomization to "<kind>/<namespace>/<name>"
	// of its source.
	sourceRefIndex = ".spec.sourceRef"
	// dependsOnIndex maps a Kustomization to controller.DependencyKey
	// ("<kind>/<namespace>/<name>") of each object it depends on.
	dependsOnIndex = ".spec.dependsOn"
)

// SetupWithManager registers the reconciler, its field indexes and its
// watches with mgr: Kustomizations (spec changes and reconcile requests),
// GitRepositories, OCIRepositories and Buckets (a new artifact), and
// Kustomizations and HelmReleases becoming ready (their dependents).
func (r *KustomizationReconciler) SetupWithManager(mgr ctrl.Manager) error {
	switch {
	case r.Client == nil:
		return errors.New("kustomization reconciler: Client is nil")
	case r.Config == nil:
		return errors.New("kustomization reconciler: Config is nil")
	case r.Fetcher == nil:
		return errors.New("kustomization reconciler: Fetcher is nil")
	}
	applier, err := client.NewWithWatch(r.Config, client.Options{Scheme: r.Client.Scheme(), Mapper: r.Client.RESTMapper()})
	if err != nil {
		return fmt.Errorf("kustomization reconciler: building the apply client: %w", err)
	}
	r.applier = applier
	switch {
	case r.BuildCacheBytes == 0:
		r.builds = newBuildCache(DefaultBuildCacheBytes)
	case r.BuildCacheBytes > 0:
		r.builds = newBuildCache(r.BuildCacheBytes)
	}
	// gitopsd's own identity reads the schemas and the mutating admission
	// configuration; impersonated appliers share them (schemas reveal no
	// object).
	if r.schemas, err = ssa.NewSchemas(r.Config); err != nil {
		return fmt.Errorf("kustomization reconciler: %w", err)
	}

	ctx := context.Background()
	idx := mgr.GetFieldIndexer()
	if err := idx.IndexField(ctx, &kustomizev1.Kustomization{}, sourceRefIndex, indexSourceRef); err != nil {
		return fmt.Errorf("kustomization reconciler: indexing %s: %w", sourceRefIndex, err)
	}
	if err := idx.IndexField(ctx, &kustomizev1.Kustomization{}, dependsOnIndex, indexDependsOn); err != nil {
		return fmt.Errorf("kustomization reconciler: indexing %s: %w", dependsOnIndex, err)
	}

	conc := r.Concurrency
	if conc < 1 {
		conc = 1
	}
	b := ctrl.NewControllerManagedBy(mgr).
		Named(ControllerName).
		For(&kustomizev1.Kustomization{}, builder.WithPredicates(reconcile.GenerationOrRequestChanged())).
		Watches(&sourcev1.GitRepository{},
			handler.EnqueueRequestsFromMapFunc(r.forSource(sourcev1.GitRepositoryKind)),
			builder.WithPredicates(artifactChanged())).
		Watches(&sourcev1.OCIRepository{},
			handler.EnqueueRequestsFromMapFunc(r.forSource(sourcev1.OCIRepositoryKind)),
			builder.WithPredicates(artifactChanged())).
		Watches(&sourcev1.Bucket{},
			handler.EnqueueRequestsFromMapFunc(r.forSource(sourcev1.BucketKind)),
			builder.WithPredicates(artifactChanged())).
		WithOptions(controller.Options{MaxConcurrentReconciles: conc})
	// Dependencies becoming ready (Kustomizations, and HelmReleases when
	// this gitopsd serves them) requeue their dependents at once rather
	// than at their retry interval.
	for _, k := range controllers.ServedDependencyKinds(mgr.GetScheme()) {
		b = b.Watches(k.Object, handler.EnqueueRequestsFromMapFunc(r.dependents(k.Kind)),
			builder.WithPredicates(controllers.BecameReady()))
	}
	return b.Complete(r)
}

// indexSourceRef is the sourceRefIndex function.
func indexSourceRef(o client.Object) []string {
	k, ok := o.(*kustomizev1.Kustomization)
	if !ok {
		return nil
	}
	ns := k.Spec.SourceRef.Namespace
	if ns == "" {
		ns = k.Namespace
	}
	return []string{sourceKey(k.Spec.SourceRef.Kind, ns, k.Spec.SourceRef.Name)}
}

// indexDependsOn is the dependsOnIndex function.
func indexDependsOn(o client.Object) []string {
	k, ok := o.(*kustomizev1.Kustomization)
	if !ok {
		return nil
	}
	return controllers.DependencyIndexKeys(kustomizev1.KustomizationKind, k.Namespace, k.Spec.DependsOn)
}

func sourceKey(kind, namespace, name string) string {
	return kind + "/" + namespace + "/" + name
}

// forSource maps a source of the given kind to the Kustomizations built
// from it.
func (r *KustomizationReconciler) forSource(kind string) handler.MapFunc {
	return func(ctx context.Context, o client.Object) []crreconcile.Request {
		return r.list(ctx, client.MatchingFields{sourceRefIndex: sourceKey(kind, o.GetNamespace(), o.GetName())})
	}
}

// dependents maps an object of the given kind to the Kustomizations that
// depend on it.
func (r *KustomizationReconciler) dependents(kind string) handler.MapFunc {
	return func(ctx context.Context, o client.Object) []crreconcile.Request {
		return r.list(ctx, client.MatchingFields{dependsOnIndex: controllers.DependencyKey(kind, o.GetNamespace(), o.GetName())})
	}
}

func (r *KustomizationReconciler) list(ctx context.Context, sel client.MatchingFields) []crreconcile.Request {
	var l kustomizev1.KustomizationList
	if err := r.Client.List(ctx, &l, sel); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "listing Kustomizations to reconcile", "index", sel)
		return nil
	}
	out := make([]crreconcile.Request, 0, len(l.Items))
	for i := range l.Items {
		out = append(out, crreconcile.Request{NamespacedName: client.ObjectKeyFromObject(&l.Items[i])})
	}
	return out
}

// artifactChanged lets through sources whose artifact revision or digest
// changed, and sources created with an artifact.
func artifactChanged() predicate.Predicate {
	return predicate.Funcs{
		CreateFunc: func(e event.CreateEvent) bool {
			s, ok := e.Object.(sourcev1.Source)
			return ok && s.GetArtifact() != nil
		},
		UpdateFunc: func(e event.UpdateEvent) bool {
			o, ok1 := e.ObjectOld.(sourcev1.Source)
			n, ok2 := e.ObjectNew.(sourcev1.Source)
			if !ok1 || !ok2 || n.GetArtifact() == nil {
				return false
			}
			a, b := o.GetArtifact(), n.GetArtifact()
			return a == nil || a.Revision != b.Revision || a.Digest != b.Digest || a.URL != b.URL
		},
		DeleteFunc:  func(event.DeleteEvent) bool { return false },
		GenericFunc: func(event.GenericEvent) bool { return false },
	}
}
