package helm

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	crreconcile "sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/gitopskit/kit/runtime/reconcile"
	"github.com/gitopskit/kit/ssa"

	helmv1 "github.com/gitopskit/kit/examples/api/helm/v1"
	sourcev1 "github.com/gitopskit/kit/examples/api/source/v1"
	controllers "github.com/gitopskit/kit/examples/internal/controller"
)

// WatchLabel, set to WatchLabelValue on a ConfigMap or Secret, makes every
// HelmRelease whose valuesFrom names it reconcile as soon as it changes
// (Flux's reconcile.fluxcd.io/watch: Enabled). Other ConfigMaps and
// Secrets are read at each reconcile and never watched: gitopsd's watch
// selects by this label, so it holds only the labelled objects (and never
// their data), not every Secret of the cluster.
const (
	WatchLabel      = "reconcile.gitopskit.dev/watch"
	WatchLabelValue = "Enabled"
)

// Field indexes on HelmReleases, registered by SetupWithManager.
const (
	// chartIndex maps a HelmRelease to "<kind>/<namespace>/<name>" of the
	// HelmChart or OCIRepository its chart comes from.
	chartIndex = ".spec.chartSource"
	// valuesIndex maps a HelmRelease to "<kind>/<namespace>/<name>" of each
	// ConfigMap and Secret of its valuesFrom.
	valuesIndex = ".spec.valuesFrom"
	// dependsOnIndex maps a HelmRelease to the DependencyKey of each
	// dependsOn reference.
	dependsOnIndex = ".spec.dependsOn"
)

// SetupWithManager registers the reconciler, its field indexes and its
// watches with mgr: HelmReleases (spec changes and reconcile requests),
// HelmCharts and OCIRepositories (a new artifact), Kustomizations and
// HelmReleases becoming ready (their dependents), and the ConfigMaps and
// Secrets labelled WatchLabel (through a cache of their own that selects
// by the label and drops their data).
func (r *HelmReleaseReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if err := r.init(); err != nil {
		return err
	}
	ctx := context.Background()
	idx := mgr.GetFieldIndexer()
	for name, fn := range map[string]client.IndexerFunc{chartIndex: indexChart, valuesIndex: indexValues, dependsOnIndex: indexDependsOn} {
		if err := idx.IndexField(ctx, &helmv1.HelmRelease{}, name, fn); err != nil {
			return fmt.Errorf("helmrelease reconciler: indexing %s: %w", name, err)
		}
	}
	watched, err := watchedValuesCache(mgr)
	if err != nil {
		return err
	}
	if err := mgr.Add(watched); err != nil {
		return fmt.Errorf("helmrelease reconciler: adding the values cache: %w", err)
	}
	conc := max(r.Concurrency, 1)
	preds := []predicate.Predicate{reconcile.GenerationOrRequestChanged()}
	if r.Selector != nil {
		sel := r.Selector
		preds = append(preds, predicate.NewPredicateFuncs(func(o client.Object) bool { return sel.Matches(labels.Set(o.GetLabels())) }))
	}
	b := ctrl.NewControllerManagedBy(mgr).
		Named(ControllerName).
		For(&helmv1.HelmRelease{}, builder.WithPredicates(preds...)).
		Watches(&sourcev1.HelmChart{}, handler.EnqueueRequestsFromMapFunc(r.forSource(sourcev1.HelmChartKind)), builder.WithPredicates(artifactChanged())).
		Watches(&sourcev1.OCIRepository{}, handler.EnqueueRequestsFromMapFunc(r.forSource(sourcev1.OCIRepositoryKind)), builder.WithPredicates(artifactChanged())).
		WatchesRawSource(source.Kind(watched, &corev1.ConfigMap{}, handler.TypedEnqueueRequestsFromMapFunc(func(ctx context.Context, o *corev1.ConfigMap) []crreconcile.Request {
			return r.list(ctx, client.MatchingFields{valuesIndex: valuesKey("ConfigMap", o.Namespace, o.Name)})
		}))).
		WatchesRawSource(source.Kind(watched, &corev1.Secret{}, handler.TypedEnqueueRequestsFromMapFunc(func(ctx context.Context, o *corev1.Secret) []crreconcile.Request {
			return r.list(ctx, client.MatchingFields{valuesIndex: valuesKey("Secret", o.Namespace, o.Name)})
		})))
	for _, k := range controllers.ServedDependencyKinds(mgr.GetScheme()) {
		kind := k.Kind
		b = b.Watches(k.Object, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []crreconcile.Request {
			return r.list(ctx, client.MatchingFields{dependsOnIndex: controllers.DependencyKey(kind, o.GetNamespace(), o.GetName())})
		}), builder.WithPredicates(controllers.BecameReady()))
	}
	return b.WithOptions(controller.Options{MaxConcurrentReconciles: conc}).Complete(r)
}

// init checks the fields and builds what reconciles share.
func (r *HelmReleaseReconciler) init() error {
	switch {
	case r.Client == nil:
		return errors.New("helmrelease reconciler: Client is nil")
	case r.APIReader == nil:
		return errors.New("helmrelease reconciler: APIReader is nil")
	case r.Config == nil:
		return errors.New("helmrelease reconciler: Config is nil")
	case r.Fetcher == nil:
		return errors.New("helmrelease reconciler: Fetcher is nil")
	}
	// gitopsd's own identity reads the schemas; impersonating Runners
	// share them (schemas reveal no object).
	schemas, err := ssa.NewSchemas(r.Config)
	if err != nil {
		return fmt.Errorf("helmrelease reconciler: %w", err)
	}
	r.runners = &runners{base: r.Config, schemas: schemas}
	r.charts.max = 32
	return nil
}

// watchedValuesCache is a cache of the ConfigMaps and Secrets labelled
// WatchLabel=WatchLabelValue, without their data: enough to map a change
// to the HelmReleases that read them, nothing to leak.
func watchedValuesCache(mgr ctrl.Manager) (cache.Cache, error) {
	sel := labels.SelectorFromSet(labels.Set{WatchLabel: WatchLabelValue})
	c, err := cache.New(mgr.GetConfig(), cache.Options{
		Scheme: mgr.GetScheme(), Mapper: mgr.GetRESTMapper(),
		ByObject: map[client.Object]cache.ByObject{
			&corev1.ConfigMap{}: {Label: sel},
			&corev1.Secret{}:    {Label: sel},
		},
		DefaultTransform: dropData,
	})
	if err != nil {
		return nil, fmt.Errorf("helmrelease reconciler: the values cache: %w", err)
	}
	return c, nil
}

// dropData keeps a watched ConfigMap's or Secret's metadata only.
func dropData(o any) (any, error) {
	switch v := o.(type) {
	case *corev1.Secret:
		v.Data, v.StringData = nil, nil
		v.ManagedFields = nil
	case *corev1.ConfigMap:
		v.Data, v.BinaryData = nil, nil
		v.ManagedFields = nil
	}
	return o, nil
}

func indexChart(o client.Object) []string {
	hr, ok := o.(*helmv1.HelmRelease)
	if !ok {
		return nil
	}
	switch {
	case hr.Spec.Chart != nil:
		k := helmChartKey(hr)
		return []string{valuesKey(sourcev1.HelmChartKind, k.Namespace, k.Name)}
	case hr.Spec.ChartRef != nil:
		ns := hr.Spec.ChartRef.Namespace
		if ns == "" {
			ns = hr.Namespace
		}
		return []string{valuesKey(hr.Spec.ChartRef.Kind, ns, hr.Spec.ChartRef.Name)}
	}
	return nil
}

func indexValues(o client.Object) []string {
	hr, ok := o.(*helmv1.HelmRelease)
	if !ok {
		return nil
	}
	out := make([]string, 0, len(hr.Spec.ValuesFrom))
	for _, v := range hr.Spec.ValuesFrom {
		out = append(out, valuesKey(v.Kind, hr.Namespace, v.Name))
	}
	return out
}

func indexDependsOn(o client.Object) []string {
	hr, ok := o.(*helmv1.HelmRelease)
	if !ok {
		return nil
	}
	return controllers.DependencyIndexKeys(helmv1.HelmReleaseKind, hr.Namespace, hr.Spec.DependsOn)
}

func valuesKey(kind, namespace, name string) string { return kind + "/" + namespace + "/" + name }

// forSource maps a chart source of the given kind to the HelmReleases made
// from it.
func (r *HelmReleaseReconciler) forSource(kind string) handler.MapFunc {
	return func(ctx context.Context, o client.Object) []crreconcile.Request {
		return r.list(ctx, client.MatchingFields{chartIndex: valuesKey(kind, o.GetNamespace(), o.GetName())})
	}
}

func (r *HelmReleaseReconciler) list(ctx context.Context, sel client.MatchingFields) []crreconcile.Request {
	var l helmv1.HelmReleaseList
	if err := r.Client.List(ctx, &l, sel); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "listing HelmReleases to reconcile", "index", sel)
		return nil
	}
	out := make([]crreconcile.Request, 0, len(l.Items))
	for i := range l.Items {
		if r.Selector != nil && !r.Selector.Matches(labels.Set(l.Items[i].Labels)) {
			continue
		}
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
