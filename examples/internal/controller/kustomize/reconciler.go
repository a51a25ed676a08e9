package kustomize

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/record"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crreconcile "sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/go-logr/logr"

	"github.com/gitopskit/kit/artifact"
	"github.com/gitopskit/kit/artifact/fetch"
	"github.com/gitopskit/kit/runtime/acl"
	"github.com/gitopskit/kit/runtime/conditions"
	"github.com/gitopskit/kit/runtime/metrics"
	"github.com/gitopskit/kit/runtime/reconcile"
	"github.com/gitopskit/kit/ssa"

	kustomizev1 "github.com/gitopskit/kit/examples/api/kustomize/v1"
	"github.com/gitopskit/kit/examples/api/meta"
	sourcev1 "github.com/gitopskit/kit/examples/api/source/v1"
	controllers "github.com/gitopskit/kit/examples/internal/controller"
)

// Finalizer is the finalizer that holds a Kustomization until its applied
// objects are pruned or orphaned as spec.deletionPolicy says.
const Finalizer = "kustomize.gitopskit.dev/finalizer"

// ControllerName is the controller-runtime name of the Kustomization
// controller, unique within a manager.
const ControllerName = "kustomization"

// Field manager and ownership-label group of the applied objects.
const (
	fieldManager = "gitopsd"
	ownerGroup   = "kustomize.gitopskit.dev"
)

// Ready=False reasons of this controller, besides runtime/conditions'.
const (
	// ArtifactFailedReason: the source is missing, has no artifact yet, or
	// its artifact cannot be downloaded.
	ArtifactFailedReason = "ArtifactFailed"
	// BuildFailedReason: the folder cannot be built, decrypted or
	// substituted.
	BuildFailedReason = "BuildFailed"
	// ApplyFailedReason: the cluster refused some objects.
	ApplyFailedReason = "ApplyFailed"
	// PruneFailedReason: objects that left the build could not be deleted.
	PruneFailedReason = "PruneFailed"
	// HealthCheckFailedReason: applied or checked objects did not become
	// ready within spec.timeout.
	HealthCheckFailedReason = "HealthCheckFailed"
	// AccessDeniedReason: a cross-namespace reference the policy forbids.
	AccessDeniedReason = "AccessDenied"
	// DeletionFailedReason: the objects could not be deleted on deletion.
	DeletionFailedReason = "DeletionFailed"
	// InvalidSpecReason: the spec cannot be acted upon until it changes.
	InvalidSpecReason = "InvalidSpec"
	// DriftCorrectedReason: the event of objects changed behind gitopsd's
	// back and put back.
	DriftCorrectedReason = "DriftCorrected"
)

// ownedConditions are the condition types this controller writes.
var ownedConditions = []string{conditions.Ready, conditions.Reconciling, conditions.Stalled, meta.HealthyCondition}

// KustomizationReconciler reconciles Kustomizations: it builds a folder of
// a source's artifact with kustomize and keeps the result applied.
type KustomizationReconciler struct {
	// Client is the manager's client; it reads Kustomizations, sources,
	// ConfigMaps and Secrets, and writes Kustomizations.
	Client client.Client
	// Config is the base rest.Config: the client that applies, prunes and
	// waits is built from it, impersonating spec.serviceAccountName when
	// set.
	Config *rest.Config
	// Fetcher downloads source artifacts and checks their digests.
	Fetcher *fetch.Fetcher
	// ACL decides which cross-namespace sourceRef and dependsOn references
	// are allowed; the zero Policy denies them all.
	ACL acl.Policy
	// Concurrency is how many Kustomizations are reconciled in parallel;
	// 0 means 1.
	Concurrency int
	// Metrics records each reconcile's duration and the resulting
	// conditions and suspension; nil records nothing.
	Metrics *metrics.Recorder
	// DefaultServiceAccount, when set, is impersonated by Kustomizations
	// of the local cluster without spec.serviceAccountName (gitopsd's
	// --default-service-account: multi-tenancy lockdown).
	DefaultServiceAccount string
	// DependencyRequeue is how soon a Kustomization waiting for a
	// dependency checks again; zero means its retry interval.
	DependencyRequeue time.Duration
	// Events records what the reconciler does (Kubernetes Events and the
	// event hub, through events/recorder); nil records none.
	Events record.EventRecorder
	// AllowRemoteBases lets kustomizations load remote bases and files
	// (gitopsd's --no-remote-bases=false): kustomize then reaches the
	// network and runs git from inside a tenant's build. Off, every remote
	// reference is a build failure naming it.
	AllowRemoteBases bool
	// BuildCacheBytes bounds the build cache (the objects of each
	// Kustomization's last build, measured as JSON): a re-check of a
	// Kustomization whose artifact, spec and values read from the cluster
	// are unchanged reuses its last build instead of downloading and
	// building the artifact again. Zero means DefaultBuildCacheBytes, a
	// negative value disables the cache.
	BuildCacheBytes int64

	suspension controllers.Suspension

	// schemas are the local cluster's OpenAPI schemas, shared by every
	// Kustomization applying there (built by SetupWithManager from
	// Config): an object the set leaves unchanged is then decided without
	// a request. Remote clusters (spec.kubeConfig) are asked about every
	// object.
	schemas *ssa.Schemas

	// builds is the build cache (see BuildCacheBytes); nil when disabled.
	builds *buildCache

	// applier is the uncached admin client, built by SetupWithManager,
	// used when no service account is impersonated.
	applier client.WithWatch
}

// Reconcile brings one Kustomization in line with its source and records
// the outcome in its status.
func (r *KustomizationReconciler) Reconcile(ctx context.Context, req crreconcile.Request) (crreconcile.Result, error) {
	return controllers.Lifecycle[*kustomizev1.Kustomization]{
		Client:          r.Client,
		Metrics:         r.Metrics,
		Events:          r.Events,
		Suspension:      &r.suspension,
		Finalizer:       Finalizer,
		OwnedConditions: ownedConditions,
		RetryInterval:   (*kustomizev1.Kustomization).GetRetryInterval,
		Finalize:        r.finalize,
		Reconcile: func(ctx context.Context, obj *kustomizev1.Kustomization, rep *controllers.Reporter) (conditions.Summary, error) {
			run := &run{start: time.Now()}
			err := r.reconcile(ctx, obj, rep, run)
			recordHistory(obj, run, err)
			return conditions.Summary{SuccessMessage: "Applied revision: " + obj.Status.LastAppliedRevision}, err
		},
	}.Run(ctx, req, &kustomizev1.Kustomization{})
}

// reconcile does the work of one reconcile of a live Kustomization; its
// error decides the conditions (see reconcile.Result).
func (r *KustomizationReconciler) reconcile(ctx context.Context, obj *kustomizev1.Kustomization, rep *controllers.Reporter, run *run) error {
	conditions.MarkReconciling(obj, conditions.ProgressingReason, "reconciling generation %d", obj.Generation)

	src, err := r.source(ctx, obj)
	if err != nil {
		return err
	}
	art := src.GetArtifact()
	obj.Status.LastAttemptedRevision = art.Revision
	run.revision, run.origin = art.Revision, originRevision(art)
	rep.SetRevision(art.Revision)

	if err := r.checkDependencies(ctx, obj); err != nil {
		return err
	}

	force, requested := false, false
	if req, ok := reconcile.GetRequest(obj); ok && req.Pending(obj.Status.LastHandledReconcileAt) {
		force, requested = req.Force(), true
	}
	// A re-apply of what was applied and Ready: whatever it changes was
	// changed behind our back (drift).
	reapply := conditions.IsReady(obj) && obj.Status.ObservedGeneration == obj.Generation &&
		obj.Status.LastAppliedRevision == art.Revision
	// Real work shows in the status while it runs; a re-check of an
	// unchanged, Ready Kustomization stays silent and writes nothing.
	working := requested || !reapply
	if working {
		rep.Progress(ctx, "applying revision %s", art.Revision)
	}

	ctx, cancel := context.WithTimeout(ctx, obj.GetTimeout())
	defer cancel()

	objs, err := r.objects(ctx, obj, art, requested, rep, run)
	if err != nil {
		return err
	}

	c, err := r.applyClient(ctx, obj, rep)
	if err != nil {
		return err
	}
	mgr, err := r.manager(c, obj)
	if err != nil {
		return err
	}

	old, err := r.inventory(obj)
	if err != nil {
		return reconcile.Stall(InvalidSpecReason, err)
	}
	cs, applyErr := mgr.Apply(ctx, objs, ssa.ApplyOptions{
		DefaultNamespace: obj.Namespace,
		Recreate:         obj.Spec.Force || force,
		Timeout:          obj.GetTimeout(),
		IgnoreRules:      IgnoreRules(obj),
	})
	if applyErr != nil {
		// Keep tracking what was applied before, and what a partial
		// apply created or may have created (a write whose answer a
		// timeout cut off), so a later prune still finds it. A set refused
		// before any write comes with no ChangeSet: the inventory stays.
		if cs != nil {
			next := ssa.InventoryFromResult(cs, applyErr)
			for _, e := range old.Entries {
				if id, err := ssa.ParseInventoryID(e.ID); err == nil && !next.Has(id) {
					next.Add(id, e.Version)
				}
			}
			setInventory(obj, next)
		}
		return reconcile.Fail(ApplyFailedReason, fmt.Errorf("applying revision %s: %w", art.Revision, timedOut(ctx, obj.GetTimeout(), len(objs), cs, applyErr)))
	}
	next := ssa.InventoryFromChangeSet(cs)
	var drifted []string
	if cs.Changed() {
		log := logr.FromContextOrDiscard(ctx)
		log.Info("applied", "revision", art.Revision, "created", cs.Count(ssa.ActionCreated),
			"configured", cs.Count(ssa.ActionConfigured), "recreated", cs.Count(ssa.ActionRecreated))
		if reapply {
			// Same revision, same spec, applied before: what changed was
			// changed behind our back.
			drifted = changedObjects(cs)
			log.Info("corrected drift", "revision", art.Revision, "objects", drifted)
			if r.Metrics != nil {
				r.Metrics.RecordDriftCorrected(obj, len(drifted))
			}
			rep.Eventf(corev1.EventTypeNormal, DriftCorrectedReason, "corrected drift in %s", summarise(drifted, maxListed))
		}
	}

	deleted := 0
	if obj.Spec.Prune {
		stale := old.Diff(next)
		if len(stale.Entries) > 0 {
			pcs, err := mgr.Prune(ctx, stale, ssa.PruneOptions{})
			if err != nil {
				// What left the build stays in the inventory until it is
				// deleted: the next prune tries again, and skips what is
				// already gone.
				for _, e := range stale.Entries {
					if id, perr := ssa.ParseInventoryID(e.ID); perr == nil {
						next.Add(id, e.Version)
					}
				}
				setInventory(obj, next)
				return reconcile.Fail(PruneFailedReason, fmt.Errorf("pruning objects that left revision %s: %w", art.Revision, err))
			}
			if deleted = pcs.Count(ssa.ActionDeleted); deleted > 0 {
				logr.FromContextOrDiscard(ctx).Info("pruned", "revision", art.Revision, "deleted", deleted)
			}
		}
	}
	setInventory(obj, next)
	changes := changeSummary(cs, deleted)

	if err := r.checkHealth(ctx, obj, mgr, next, art.Revision, working, rep); err != nil {
		return reconcile.Fail(HealthCheckFailedReason, fmt.Errorf("revision %s: %w", art.Revision, err))
	}
	obj.Status.LastAppliedRevision = art.Revision
	obj.Status.LastAppliedOriginRevision = run.origin
	msg := "Applied revision: " + art.Revision
	if len(drifted) > 0 {
		msg += "; corrected drift in " + summarise(drifted, maxListed)
	}
	conditions.MarkTrue(obj, conditions.Ready, conditions.SucceededReason, "%s", msg)
	if changes != "" && !reapply {
		rep.Eventf(corev1.EventTypeNormal, "ReconciliationSucceeded", "Applied revision: %s: %s", art.Revision, changes)
	}
	return nil
}

// objects returns the objects of obj's build of art: from the build cache
// when nothing the build reads has changed since the last one (and no
// reconcile was requested, which always rebuilds), otherwise fetched and
// built afresh. A build that may reach the network (remote bases) is never
// cached: what it loads can change while the artifact stays the same.
func (r *KustomizationReconciler) objects(ctx context.Context, obj *kustomizev1.Kustomization, art *artifact.Artifact, requested bool, rep *controllers.Reporter, run *run) ([]*unstructured.Unstructured, error) {
	opts, err := r.buildOptions(ctx, obj, rep)
	if err != nil {
		return nil, reconcile.Fail(BuildFailedReason, fmt.Errorf("building revision %s: %w", art.Revision, err))
	}
	name := client.ObjectKeyFromObject(obj)
	cacheable := r.builds != nil && !r.AllowRemoteBases
	key := newBuildKey(obj, string(art.Digest), opts)
	if cacheable && !requested {
		if objs, digest, ok := r.builds.get(name, key); ok {
			run.digest = digest
			return objs, nil
		}
	}

	tmp, err := os.MkdirTemp("", "kustomization-")
	if err != nil {
		return nil, fmt.Errorf("creating a temporary folder: %w", err)
	}
	defer os.RemoveAll(tmp)
	root := filepath.Join(tmp, "source")
	if _, err := r.Fetcher.Fetch(ctx, *art, root); err != nil {
		return nil, reconcile.Fail(ArtifactFailedReason, fmt.Errorf("fetching artifact of revision %s: %w", art.Revision, err))
	}
	objs, err := buildWith(ctx, obj, root, opts)
	if err != nil {
		return nil, reconcile.Fail(BuildFailedReason, fmt.Errorf("building revision %s: %w", art.Revision, err))
	}
	digest, size, err := setDigest(objs)
	if err != nil {
		return nil, reconcile.Fail(BuildFailedReason, fmt.Errorf("building revision %s: %w", art.Revision, err))
	}
	run.digest = digest
	if cacheable {
		r.builds.put(name, key, objs, digest, size)
	}
	return objs, nil
}

// source returns the Kustomization's source, once it has an artifact.
func (r *KustomizationReconciler) source(ctx context.Context, obj *kustomizev1.Kustomization) (sourcev1.Source, error) {
	ref := obj.Spec.SourceRef
	ns := ref.Namespace
	if ns == "" {
		ns = obj.Namespace
	}
	if err := r.ACL.Check(ctx, r.Client, obj.Namespace, ns); err != nil {
		if errors.Is(err, acl.ErrAccessDenied) {
			return nil, reconcile.Stall(AccessDeniedReason, fmt.Errorf("sourceRef %s %s/%s: %w", ref.Kind, ns, ref.Name, err))
		}
		return nil, err
	}
	if ref.APIVersion != "" && ref.APIVersion != sourcev1.GroupVersion.String() {
		return nil, reconcile.Stall(InvalidSpecReason, fmt.Errorf("sourceRef apiVersion %q is not supported, want %s", ref.APIVersion, sourcev1.GroupVersion))
	}
	var src sourcev1.Source
	switch ref.Kind {
	case sourcev1.GitRepositoryKind:
		src = &sourcev1.GitRepository{}
	case sourcev1.OCIRepositoryKind:
		src = &sourcev1.OCIRepository{}
	case sourcev1.BucketKind:
		src = &sourcev1.Bucket{}
	default:
		return nil, reconcile.Stall(InvalidSpecReason, fmt.Errorf("sourceRef kind %q is not supported", ref.Kind))
	}
	if err := r.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: ref.Name}, src); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, reconcile.Wait(ArtifactFailedReason, r.dependencyRequeue(obj), fmt.Errorf("source %s '%s/%s' not found", ref.Kind, ns, ref.Name))
		}
		return nil, fmt.Errorf("reading source %s '%s/%s': %w", ref.Kind, ns, ref.Name, err)
	}
	if a := src.GetArtifact(); a == nil || a.URL == "" {
		// Not a failure: the source is being fetched (or created). Its
		// watch requeues this Kustomization as soon as it has an artifact;
		// a Warning here would reach every Alert as a failure and then a
		// resolution, for a Kustomization created with its source.
		return nil, reconcile.Wait(ArtifactFailedReason, r.dependencyRequeue(obj), fmt.Errorf("source %s '%s/%s' has no artifact yet", ref.Kind, ns, ref.Name))
	}
	return src, nil
}

// checkDependencies returns a wait error naming the first dependency that
// is not ready (Kustomizations and HelmReleases alike, by the rules of
// controller.Dependencies).
func (r *KustomizationReconciler) checkDependencies(ctx context.Context, obj *kustomizev1.Kustomization) error {
	d := controllers.Dependencies{Client: r.Client, Scheme: r.Client.Scheme(), ACL: r.ACL}
	return d.Check(ctx, obj, kustomizev1.KustomizationKind, obj.Spec.DependsOn, r.dependencyRequeue(obj))
}

// dependencyRequeue is how soon a Kustomization waiting for a dependency
// checks again.
func (r *KustomizationReconciler) dependencyRequeue(obj *kustomizev1.Kustomization) time.Duration {
	if r.DependencyRequeue > 0 {
		return r.DependencyRequeue
	}
	return obj.GetRetryInterval()
}

// applyClient returns the client that applies, prunes and waits: on the
// cluster of spec.kubeConfig or this one, as the admin or impersonating
// spec.serviceAccountName (or, on this cluster, DefaultServiceAccount).
func (r *KustomizationReconciler) applyClient(ctx context.Context, obj *kustomizev1.Kustomization, rep *controllers.Reporter) (client.WithWatch, error) {
	sa := obj.Spec.ServiceAccountName
	if obj.Spec.KubeConfig == nil {
		if sa == "" {
			sa = r.DefaultServiceAccount
		}
		if sa == "" {
			return r.applier, nil
		}
	}
	cfg := r.Config
	mapper := r.Client.RESTMapper()
	if obj.Spec.KubeConfig != nil {
		remote, err := r.remoteConfig(ctx, obj, rep)
		if err != nil {
			return nil, err
		}
		cfg, mapper = remote, nil // discovered on the remote cluster
	}
	cfg = rest.CopyConfig(cfg)
	if sa != "" {
		cfg.Impersonate = rest.ImpersonationConfig{UserName: serviceAccountUser(obj.Namespace, sa)}
	}
	c, err := client.NewWithWatch(cfg, client.Options{Scheme: r.Client.Scheme(), Mapper: mapper})
	if err != nil {
		if sa != "" {
			return nil, fmt.Errorf("building a client for service account '%s/%s': %w", obj.Namespace, sa, err)
		}
		return nil, fmt.Errorf("building a client for the cluster of spec.kubeConfig: %w", err)
	}
	return c, nil
}

// serviceAccountUser is the user name the API server gives a service
// account.
func serviceAccountUser(namespace, name string) string {
	return "system:serviceaccount:" + namespace + ":" + name
}

// manager returns the ssa Manager owning obj's objects, talking through c.
func (r *KustomizationReconciler) manager(c client.WithWatch, obj *kustomizev1.Kustomization) (*ssa.Manager, error) {
	var opts []ssa.Option
	if obj.Spec.KubeConfig == nil {
		opts = append(opts, ssa.WithSchemas(r.schemas))
	}
	m, err := ssa.NewManager(c, ssa.Owner{Field: fieldManager, Group: ownerGroup, Name: obj.Name, Namespace: obj.Namespace}, opts...)
	if err != nil {
		return nil, fmt.Errorf("creating the apply manager: %w", err)
	}
	return m, nil
}

// inventory returns status.inventory as an ssa Inventory (empty when
// none).
func (r *KustomizationReconciler) inventory(obj *kustomizev1.Kustomization) (*ssa.Inventory, error) {
	inv := &ssa.Inventory{}
	if obj.Status.Inventory == nil {
		return inv, nil
	}
	for _, e := range obj.Status.Inventory.Entries {
		id, err := ssa.ParseInventoryID(e.ID)
		if err != nil {
			return nil, fmt.Errorf("status.inventory: %w", err)
		}
		inv.Add(id, e.Version)
	}
	return inv, nil
}

// setInventory records inv in status.inventory.
func setInventory(obj *kustomizev1.Kustomization, inv *ssa.Inventory) {
	out := &kustomizev1.ResourceInventory{Entries: make([]kustomizev1.ResourceRef, 0, len(inv.Entries))}
	for _, e := range inv.Entries {
		out.Entries = append(out.Entries, kustomizev1.ResourceRef{ID: e.ID, Version: e.Version})
	}
	obj.Status.Inventory = out
}

// checkHealth waits for the applied objects (spec.wait) or for
// spec.healthChecks, within spec.timeout, and sets Healthy.
//
// The wait ends early when the source publishes a revision other than
// revision: the reconcile then fails at once and the next one applies the
// new revision, so a failing health check never holds a fix back for a
// whole timeout.
func (r *KustomizationReconciler) checkHealth(ctx context.Context, obj *kustomizev1.Kustomization, mgr *ssa.Manager, inv *ssa.Inventory, revision string, working bool, rep *controllers.Reporter) error {
	var (
		objs []*unstructured.Unstructured
		err  error
	)
	switch {
	case obj.Spec.Wait:
		objs, err = inv.Objects()
		if err != nil {
			return err
		}
	case len(obj.Spec.HealthChecks) > 0:
		objs = healthCheckObjects(obj)
	default:
		conditions.Delete(obj, meta.HealthyCondition)
		return nil
	}
	if len(objs) == 0 {
		conditions.MarkTrue(obj, meta.HealthyCondition, conditions.SucceededReason, "no objects to check")
		return nil
	}
	conditions.MarkUnknown(obj, meta.HealthyCondition, conditions.ProgressingReason, "checking the health of %d objects", len(objs))
	if working {
		rep.Progress(ctx, "health checking %d objects of revision %s", len(objs), revision)
	}
	waitCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go r.cancelOnNewRevision(waitCtx, cancel, obj.DeepCopy(), revision)
	err = mgr.Wait(waitCtx, objs, ssa.WaitOptions{
		Timeout: obj.GetTimeout(), FailFast: true, DefaultNamespace: obj.Namespace,
		HealthRules: healthRules(obj.Spec.HealthCheckExprs),
		// spec.wait checks the inventory: objects this apply labelled, so
		// they are watched by their labels, not with all of their
		// namespaces' objects.
		Owned: obj.Spec.Wait,
	})
	if cause := context.Cause(waitCtx); err != nil && errors.Is(cause, errNewRevision) {
		err = cause
	}
	if err != nil {
		msg := "health check failed: " + err.Error()
		conditions.MarkFalse(obj, meta.HealthyCondition, HealthCheckFailedReason, "%s", msg)
		return errors.New(strings.TrimSpace(msg))
	}
	conditions.MarkTrue(obj, meta.HealthyCondition, conditions.SucceededReason, "%d objects are healthy", len(objs))
	return nil
}

// finalize deletes or orphans the inventory as spec.deletionPolicy says,
// and the Lifecycle then drops the finalizer.
func (r *KustomizationReconciler) finalize(ctx context.Context, obj *kustomizev1.Kustomization, rep *controllers.Reporter) error {
	r.builds.forget(client.ObjectKeyFromObject(obj))
	del, wait := false, false
	switch obj.GetDeletionPolicy() {
	case kustomizev1.DeletionPolicyDelete:
		del = true
	case kustomizev1.DeletionPolicyWaitForTermination:
		del, wait = true, true
	case kustomizev1.DeletionPolicyMirrorPrune:
		del = obj.Spec.Prune
	}
	if del && obj.Status.Inventory != nil && len(obj.Status.Inventory.Entries) > 0 {
		inv, err := r.inventory(obj)
		if err != nil {
			return reconcile.Stall(InvalidSpecReason, err)
		}
		c, err := r.applyClient(ctx, obj, rep)
		if err != nil {
			return err
		}
		mgr, err := r.manager(c, obj)
		if err != nil {
			return err
		}
		if wait {
			rep.Progress(ctx, "deleting %d objects and waiting for them to be gone", len(inv.Entries))
		}
		if _, err := mgr.Prune(ctx, inv, ssa.PruneOptions{Wait: wait, Timeout: obj.GetTimeout()}); err != nil {
			return reconcile.Fail(DeletionFailedReason, fmt.Errorf("deleting the applied objects: %w", err))
		}
		obj.Status.Inventory = nil
	}
	return nil
}

// healthCheckObjects returns spec.healthChecks as objects for ssa Wait.
func healthCheckObjects(obj *kustomizev1.Kustomization) []*unstructured.Unstructured {
	out := make([]*unstructured.Unstructured, 0, len(obj.Spec.HealthChecks))
	for _, hc := range obj.Spec.HealthChecks {
		u := &unstructured.Unstructured{}
		u.SetAPIVersion(hc.APIVersion)
		u.SetKind(hc.Kind)
		u.SetName(hc.Name)
		// An empty namespace becomes the Kustomization's in Wait, for
		// namespaced kinds only.
		u.SetNamespace(hc.Namespace)
		out = append(out, u)
	}
	return out
}

// errNewRevision ends a health check when the source has moved on.
var errNewRevision = errors.New("cancelled: the source has a new revision")

// newRevisionPoll is how often a health check looks for a new source
// revision (in the manager's cache: no API request).
const newRevisionPoll = time.Second

// cancelOnNewRevision cancels ctx with errNewRevision as soon as the
// Kustomization's source offers an artifact revision other than revision.
// It returns when ctx ends.
func (r *KustomizationReconciler) cancelOnNewRevision(ctx context.Context, cancel context.CancelCauseFunc, obj *kustomizev1.Kustomization, revision string) {
	ticker := time.NewTicker(newRevisionPoll)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		src, err := r.source(ctx, obj)
		if err != nil {
			continue
		}
		if a := src.GetArtifact(); a.Revision != revision {
			cancel(fmt.Errorf("%w %s", errNewRevision, a.Revision))
			return
		}
	}
}
