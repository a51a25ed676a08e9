package source

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"

	"github.com/gitopskit/kit/artifact/storage"
	sourcev1 "github.com/gitopskit/kit/examples/api/source/v1"
	controllers "github.com/gitopskit/kit/examples/internal/controller"
	"github.com/gitopskit/kit/helmutil/repo"
	"github.com/gitopskit/kit/runtime/conditions"
	"github.com/gitopskit/kit/runtime/metrics"
	"github.com/gitopskit/kit/runtime/reconcile"
)

// helmRepositoryStorageKind is the first element of a HelmRepository
// artifact's path.
const helmRepositoryStorageKind = "helmrepository"

// reasonOCIRepository is the Ready reason of a HelmRepository of type oci.
const reasonOCIRepository = "Succeeded"

// reasonIndexInvalid: the index does not parse or is over a limit (Flux's
// reason).
const reasonIndexInvalid = "IndexationFailed"

// ociRepositoryMessage is the Ready message of a HelmRepository of type
// oci, as Flux's.
const ociRepositoryMessage = "Helm repository is of type oci"

// HelmRepositoryReconciler keeps the artifact of every HelmRepository of
// type default up to date: it downloads the repository's index.yaml
// (bounded), checks that it parses, and stores it as it is; the revision
// is the index's digest, so an unchanged index stores nothing. A
// repository of type oci has no artifact: it is Ready once its spec is
// valid, and its HelmCharts pull with its configuration.
type HelmRepositoryReconciler struct {
	// Client is the manager's client.
	Client client.Client
	// Storage keeps the artifacts; their URLs come from its base URL.
	Storage *storage.Storage
	// IndexCache, when set, receives the index parsed to check it, so the
	// HelmCharts sharing the cache do not parse it again.
	IndexCache *repo.Cache
	// MaxIndexSize bounds an index download and parse; 0 means
	// repo.DefaultMaxIndexBytes (256 MiB).
	MaxIndexSize int64
	// Retention says how many artifacts of an object are kept, and for how
	// long, when a new one is stored; the zero value keeps the current one
	// and the one before it (for consumers still downloading it).
	Retention storage.GCOptions
	// Concurrency is the number of objects reconciled in parallel; 0 means 1.
	Concurrency int
	// Metrics records each reconcile's duration and the resulting
	// conditions and suspension; nil records nothing.
	Metrics *metrics.Recorder
	// Events records what the reconciler does (Kubernetes Events and the
	// event hub, through events/recorder); nil records none.
	Events record.EventRecorder

	suspension controllers.Suspension
}

// SetupWithManager registers the reconciler as the "helmrepository"
// controller of mgr. It reconciles on creation, deletion, spec changes and
// reconcile requests; status updates (its own included) are ignored.
func (r *HelmRepositoryReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Client == nil || r.Storage == nil {
		return errors.New("helmrepository reconciler: Client and Storage are required")
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("helmrepository").
		For(&sourcev1.HelmRepository{}, builder.WithPredicates(reconcile.GenerationOrRequestChanged())).
		WithOptions(controller.Options{MaxConcurrentReconciles: max(1, r.Concurrency)}).
		Complete(r)
}

// Reconcile brings one HelmRepository's artifact up to date with its
// index.
func (r *HelmRepositoryReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	return run(ctx, req, &sourcev1.HelmRepository{}, sourceLifecycle{r.Client, r.Storage, r.Metrics, r.Events, &r.suspension}, r.finalize, r.reconcile)
}

func (r *HelmRepositoryReconciler) reconcile(ctx context.Context, obj *sourcev1.HelmRepository, rep *controllers.Reporter, summary *conditions.Summary) error {
	log := logr.FromContextOrDiscard(ctx)
	ctx, cancel := context.WithTimeout(ctx, obj.GetTimeout())
	defer cancel()
	conditions.Delete(obj, sourceVerified)
	key := storage.Key{Kind: helmRepositoryStorageKind, Namespace: obj.Namespace, Name: obj.Name}

	if obj.IsOCI() {
		if _, _, err := ociRepository(obj.Spec.URL); err != nil {
			return reconcile.Stall(reasonInvalidSpec, fmt.Errorf("spec.url: %w", err))
		}
		// A repository that was of type default leaves no artifact behind.
		if obj.Status.Artifact != nil {
			if err := r.Storage.Remove(ctx, key); err != nil {
				return reconcile.Fail(reasonStorageFailed, fmt.Errorf("removing the artifacts of the former default repository: %w", err))
			}
			obj.Status.Artifact, obj.Status.URL = nil, ""
		}
		conditions.Delete(obj, artifactInStorage)
		summary.SuccessMessage = ociRepositoryMessage
		return nil
	}
	if !strings.HasPrefix(obj.Spec.URL, "http://") && !strings.HasPrefix(obj.Spec.URL, "https://") {
		return reconcile.Stall(reasonInvalidSpec, errors.New("spec.url must be http:// or https:// for a repository of type default"))
	}

	hr, err := helmHTTPRepository(ctx, r.Client, obj, rep, helmLimits{maxIndexBytes: r.MaxIndexSize})
	if err != nil {
		if errors.Is(err, repo.ErrInvalidURL) {
			return reconcile.Stall(reasonInvalidSpec, fmt.Errorf("spec.url: %w", err))
		}
		return reconcile.Fail(reasonAuthFailed, err)
	}
	if !controllers.Steady(obj) {
		rep.Progress(ctx, "fetching index of '%s'", hr.URL())
	}
	tmp, err := os.MkdirTemp("", "gitopsd-helmrepository-")
	if err != nil {
		return reconcile.Fail(reasonStorageFailed, err)
	}
	defer os.RemoveAll(tmp)
	file := filepath.Join(tmp, "index.yaml")
	fetched, err := hr.FetchIndexFile(ctx, file)
	if err != nil {
		return reconcile.Fail(helmFetchReason(err), fmt.Errorf("fetching index of '%s': %w", hr.URL(), err))
	}
	revision := string(fetched.Digest)

	if reusable(ctx, r.Storage, obj.Status.Artifact, revision) {
		obj.Status.URL = obj.Status.Artifact.URL
		msg := fmt.Sprintf("stored artifact for revision '%s'", revision)
		conditions.MarkTrue(obj, artifactInStorage, reasonArtifactStored, "%s", msg)
		summary.SuccessMessage = msg
		return nil
	}

	// A new index: it must parse (bounded) before it is offered to charts.
	idx, err := repo.LoadIndexFile(ctx, file, repo.ParseOptions{MaxBytes: r.MaxIndexSize})
	if err != nil {
		return reconcile.Fail(reasonIndexInvalid, fmt.Errorf("index of '%s': %w", hr.URL(), err))
	}
	f, err := os.Open(file)
	if err != nil {
		return reconcile.Fail(reasonStorageFailed, err)
	}
	defer f.Close()
	a, err := r.Storage.Store(ctx, key, "index-"+fetched.Digest.Hex()+".yaml", f, revision)
	if err != nil {
		err = fmt.Errorf("failed to store artifact for revision '%s': %w", revision, err)
		conditions.MarkFalse(obj, artifactInStorage, reasonStorageFailed, "%s", err)
		return reconcile.Fail(reasonStorageFailed, err)
	}
	if r.IndexCache != nil {
		r.IndexCache.Add(obj.Spec.URL, a.Digest, idx)
	}
	obj.Status.Artifact = &a
	obj.Status.URL = a.URL
	log.Info("stored artifact", "revision", a.Revision, "charts", len(idx.Names()), "versions", idx.Len())
	rep.SetRevision(a.Revision)
	rep.Eventf(corev1.EventTypeNormal, "NewArtifact", "stored artifact for revision '%s' (%d charts, %d versions)", a.Revision, len(idx.Names()), idx.Len())
	if err := collectGarbage(ctx, r.Storage, a, r.Retention); err != nil {
		log.Error(err, "garbage collection of old artifacts failed")
	}
	msg := fmt.Sprintf("stored artifact for revision '%s'", revision)
	conditions.MarkTrue(obj, artifactInStorage, reasonArtifactStored, "%s", msg)
	summary.SuccessMessage = msg
	return nil
}

// finalize removes the object's artifacts; the Lifecycle then removes
// the finalizer.
func (r *HelmRepositoryReconciler) finalize(ctx context.Context, obj *sourcev1.HelmRepository, _ *controllers.Reporter) error {
	key := storage.Key{Kind: helmRepositoryStorageKind, Namespace: obj.Namespace, Name: obj.Name}
	if err := r.Storage.Remove(ctx, key); err != nil {
		return fmt.Errorf("removing artifacts of %s: %w", key, err)
	}
	return nil
}

// helmFetchReason is the Ready reason of a failed repository request.
func helmFetchReason(err error) string {
	if errors.Is(err, repo.ErrUnauthorized) {
		return reasonAuthFailed
	}
	return reasonFetchFailed
}
