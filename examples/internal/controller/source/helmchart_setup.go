package source

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

	sourcev1 "github.com/gitopskit/kit/examples/api/source/v1"
	controllers "github.com/gitopskit/kit/examples/internal/controller"
	"github.com/gitopskit/kit/runtime/reconcile"
)

// chartSourceIndex maps a HelmChart to "<kind>/<name>" of its source (in
// its namespace).
const chartSourceIndex = ".spec.sourceRef"

// SetupWithManager registers the reconciler as the "helmchart" controller
// of mgr, with its field index of spec.sourceRef. It reconciles on
// creation, deletion, spec changes and reconcile requests, and when the
// artifact of the chart's source changes (a HelmRepository also when it
// becomes Ready: an oci one has no artifact); other status updates (its
// own included) are ignored.
func (r *HelmChartReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Client == nil || r.Storage == nil {
		return errors.New("helmchart reconciler: Client and Storage are required")
	}
	r.init()
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &sourcev1.HelmChart{}, chartSourceIndex, indexChartSource); err != nil {
		return fmt.Errorf("helmchart reconciler: indexing %s: %w", chartSourceIndex, err)
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("helmchart").
		For(&sourcev1.HelmChart{}, builder.WithPredicates(reconcile.GenerationOrRequestChanged())).
		Watches(&sourcev1.HelmRepository{}, handler.EnqueueRequestsFromMapFunc(r.chartsOf(sourcev1.HelmRepositoryKind)),
			builder.WithPredicates(predicate.Or(sourceArtifactChanged(), controllers.BecameReady()))).
		Watches(&sourcev1.GitRepository{}, handler.EnqueueRequestsFromMapFunc(r.chartsOf(sourcev1.GitRepositoryKind)),
			builder.WithPredicates(sourceArtifactChanged())).
		Watches(&sourcev1.OCIRepository{}, handler.EnqueueRequestsFromMapFunc(r.chartsOf(sourcev1.OCIRepositoryKind)),
			builder.WithPredicates(sourceArtifactChanged())).
		Watches(&sourcev1.Bucket{}, handler.EnqueueRequestsFromMapFunc(r.chartsOf(sourcev1.BucketKind)),
			builder.WithPredicates(sourceArtifactChanged())).
		WithOptions(controller.Options{MaxConcurrentReconciles: max(1, r.Concurrency)}).
		Complete(r)
}

// indexChartSource is the chartSourceIndex function.
func indexChartSource(o client.Object) []string {
	hc, ok := o.(*sourcev1.HelmChart)
	if !ok {
		return nil
	}
	return []string{hc.Spec.SourceRef.Kind + "/" + hc.Spec.SourceRef.Name}
}

// chartsOf maps a source of kind to the HelmCharts of its namespace built
// from it.
func (r *HelmChartReconciler) chartsOf(kind string) handler.MapFunc {
	return func(ctx context.Context, o client.Object) []crreconcile.Request {
		var l sourcev1.HelmChartList
		if err := r.Client.List(ctx, &l, client.InNamespace(o.GetNamespace()), client.MatchingFields{chartSourceIndex: kind + "/" + o.GetName()}); err != nil {
			ctrl.LoggerFrom(ctx).Error(err, "listing HelmCharts to reconcile", "source", kind+"/"+o.GetNamespace()+"/"+o.GetName())
			return nil
		}
		out := make([]crreconcile.Request, 0, len(l.Items))
		for i := range l.Items {
			out = append(out, crreconcile.Request{NamespacedName: client.ObjectKeyFromObject(&l.Items[i])})
		}
		return out
	}
}

// sourceArtifactChanged lets through a source of any kind whose artifact
// appeared or changed (revision, digest or URL), and a deleted source (its
// charts report it missing).
func sourceArtifactChanged() predicate.Predicate {
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
		DeleteFunc:  func(event.DeleteEvent) bool { return true },
		GenericFunc: func(event.GenericEvent) bool { return false },
	}
}
