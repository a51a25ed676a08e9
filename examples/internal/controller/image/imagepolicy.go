package image

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	crreconcile "sigs.k8s.io/controller-runtime/pkg/reconcile"

	imagev1 "github.com/gitopskit/kit/examples/api/image/v1"
	controllers "github.com/gitopskit/kit/examples/internal/controller"
	"github.com/gitopskit/kit/oci"
	"github.com/gitopskit/kit/runtime/conditions"
	"github.com/gitopskit/kit/runtime/metrics"
	"github.com/gitopskit/kit/runtime/reconcile"
)

// imageRepositoryIndex maps an ImagePolicy to the name of its
// ImageRepository.
const imageRepositoryIndex = ".spec.imageRepositoryRef"

// scanPendingRetry is how soon a policy whose repository's tags are not in
// the TagStore (not scanned since gitopsd started) looks again.
const scanPendingRetry = 5 * time.Second

// ImagePolicyReconciler chooses the latest image of every ImagePolicy from
// the tags its ImageRepository's last scan put in Tags, and looks up the
// tag's digest when spec.digestReflectionPolicy asks.
type ImagePolicyReconciler struct {
	// Client is the manager's client.
	Client client.Client
	// Tags holds the scanned tags (the ImageRepositoryReconciler's).
	Tags *TagStore
	// Concurrency is the number of objects reconciled in parallel; 0 means 1.
	Concurrency int
	// Metrics records each reconcile; nil records nothing.
	Metrics *metrics.Recorder
	// Events records what the reconciler does; nil records none.
	Events record.EventRecorder

	suspension controllers.Suspension
}

// SetupWithManager registers the reconciler as the "imagepolicy"
// controller of mgr with its field index of spec.imageRepositoryRef. It
// reconciles on creation, deletion, spec changes and reconcile requests,
// and whenever an ImageRepository's scan revision changes (its policies).
func (r *ImagePolicyReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Client == nil || r.Tags == nil {
		return errors.New("imagepolicy reconciler: Client and Tags are required")
	}
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &imagev1.ImagePolicy{}, imageRepositoryIndex, func(o client.Object) []string {
		p, ok := o.(*imagev1.ImagePolicy)
		if !ok {
			return nil
		}
		return []string{p.Spec.ImageRepositoryRef.Name}
	}); err != nil {
		return fmt.Errorf("imagepolicy reconciler: indexing %s: %w", imageRepositoryIndex, err)
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("imagepolicy").
		For(&imagev1.ImagePolicy{}, builder.WithPredicates(reconcile.GenerationOrRequestChanged())).
		Watches(&imagev1.ImageRepository{}, handler.EnqueueRequestsFromMapFunc(r.policiesOf),
			builder.WithPredicates(scanChanged())).
		WithOptions(controller.Options{MaxConcurrentReconciles: max(1, r.Concurrency)}).
		Complete(r)
}

// scanChanged lets through ImageRepositories whose scan revision changed
// (and new ones with a scan).
func scanChanged() predicate.Predicate {
	rev := func(o client.Object) string {
		if r, ok := o.(*imagev1.ImageRepository); ok && r.Status.LastScanResult != nil {
			return r.Status.LastScanResult.Revision
		}
		return ""
	}
	return predicate.Funcs{
		CreateFunc:  func(e event.CreateEvent) bool { return rev(e.Object) != "" },
		UpdateFunc:  func(e event.UpdateEvent) bool { return rev(e.ObjectNew) != rev(e.ObjectOld) },
		DeleteFunc:  func(event.DeleteEvent) bool { return true },
		GenericFunc: func(event.GenericEvent) bool { return false },
	}
}

// policiesOf returns the ImagePolicies of an ImageRepository.
func (r *ImagePolicyReconciler) policiesOf(ctx context.Context, o client.Object) []crreconcile.Request {
	var list imagev1.ImagePolicyList
	if err := r.Client.List(ctx, &list, client.InNamespace(o.GetNamespace()), client.MatchingFields{imageRepositoryIndex: o.GetName()}); err != nil {
		return nil
	}
	reqs := make([]crreconcile.Request, 0, len(list.Items))
	for _, p := range list.Items {
		reqs = append(reqs, crreconcile.Request{NamespacedName: client.ObjectKeyFromObject(&p)})
	}
	return reqs
}

// Reconcile evaluates one ImagePolicy.
func (r *ImagePolicyReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	return controllers.Lifecycle[*imagev1.ImagePolicy]{
		Client:          r.Client,
		Metrics:         r.Metrics,
		Events:          r.Events,
		Suspension:      &r.suspension,
		Finalizer:       Finalizer,
		OwnedConditions: ownedConditions,
		Finalize:        func(context.Context, *imagev1.ImagePolicy, *controllers.Reporter) error { return nil },
		Reconcile:       r.reconcile,
	}.Run(ctx, req, &imagev1.ImagePolicy{})
}

// tagPolicySpec translates the spec into oci's.
func tagPolicySpec(spec imagev1.ImagePolicySpec) oci.TagPolicySpec {
	var s oci.TagPolicySpec
	if f := spec.FilterTags; f != nil {
		s.FilterPattern, s.Extract = f.Pattern, f.Extract
	}
	p := spec.Policy
	switch {
	case p.SemVer != nil:
		s.SemVer = p.SemVer.Range
	case p.Alphabetical != nil:
		s.Alphabetical = orderOf(p.Alphabetical.Order)
	case p.Numerical != nil:
		s.Numerical = orderOf(p.Numerical.Order)
	}
	return s
}

func orderOf(o string) oci.Order {
	if o == "" {
		return oci.Ascending
	}
	return oci.Order(o)
}

func (r *ImagePolicyReconciler) reconcile(ctx context.Context, obj *imagev1.ImagePolicy, rep *controllers.Reporter) (conditions.Summary, error) {
	var s conditions.Summary
	policy, err := oci.NewTagPolicy(tagPolicySpec(obj.Spec))
	if err != nil {
		return s, reconcile.Stall(reasonInvalidPolicy, err)
	}
	var repo imagev1.ImageRepository
	key := client.ObjectKey{Namespace: obj.Namespace, Name: obj.Spec.ImageRepositoryRef.Name}
	if err := r.Client.Get(ctx, key, &repo); err != nil {
		if apierrors.IsNotFound(err) {
			return s, reconcile.Fail(reasonRepositoryNotFound, fmt.Errorf("imagerepository '%s' not found", key))
		}
		return s, err
	}
	tags, revision, ok := r.Tags.Get(repo.UID)
	if !ok || repo.Status.CanonicalImageName == "" {
		return s, reconcile.Wait(reasonScanPending, scanPendingRetry,
			fmt.Errorf("waiting for a scan of imagerepository '%s'", key))
	}
	latest, err := policy.Latest(tags)
	if err != nil {
		return s, reconcile.Fail(reasonNoMatchingTag, fmt.Errorf("choosing from the %d tags of '%s': %w", len(tags), repo.Status.CanonicalImageName, err))
	}
	ref := imagev1.ImageRef{Name: repo.Status.CanonicalImageName, Tag: latest.Tag}
	cur := obj.Status.LatestRef
	switch obj.Spec.DigestReflectionPolicy {
	case imagev1.ReflectAlways:
		if ref.Digest, err = r.digest(ctx, &repo, ref, rep); err != nil {
			return s, err
		}
	case imagev1.ReflectIfNotPresent:
		if cur != nil && cur.Name == ref.Name && cur.Tag == ref.Tag && cur.Digest != "" {
			ref.Digest = cur.Digest
		} else if ref.Digest, err = r.digest(ctx, &repo, ref, rep); err != nil {
			return s, err
		}
	}
	obj.Status.ObservedScanRevision = revision
	if cur == nil || *cur != ref {
		if cur != nil {
			prev := *cur
			obj.Status.ObservedPreviousRef = &prev
			rep.Eventf(corev1.EventTypeNormal, "ImageChanged", "latest image of '%s' changed from %s to %s", obj.Name, prev.String(), ref.String())
		} else {
			rep.Eventf(corev1.EventTypeNormal, "ImageChanged", "latest image of '%s' is %s", obj.Name, ref.String())
		}
		obj.Status.LatestRef = &ref
	}
	conditions.MarkTrue(obj, conditions.Ready, conditions.SucceededReason, "latest image is %s", ref.String())
	return s, nil
}

// digest looks up the manifest digest of ref with the ImageRepository's
// registry access.
func (r *ImagePolicyReconciler) digest(ctx context.Context, repo *imagev1.ImageRepository, ref imagev1.ImageRef, rep *controllers.Reporter) (string, error) {
	timeout := repo.GetTimeout()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, _, err := registryClient(ctx, r.Client, repo, repo.Status.CanonicalImageName, rep)
	if err != nil {
		return "", err
	}
	d, err := c.Resolve(ctx, ref.Name+":"+ref.Tag)
	if err != nil {
		err = explainTimeout(ctx, "the digest lookup", timeout, err)
		return "", reconcile.Fail(reasonDigestFailed, fmt.Errorf("looking up the digest of %s:%s: %w", ref.Name, ref.Tag, err))
	}
	return d, nil
}
