package source

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/Masterminds/semver/v3"
	"github.com/go-logr/logr"
	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/artifact/fetch"
	"github.com/gitopskit/kit/artifact/storage"
	sourcev1 "github.com/gitopskit/kit/examples/api/source/v1"
	controllers "github.com/gitopskit/kit/examples/internal/controller"
	"github.com/gitopskit/kit/helmutil/chart"
	"github.com/gitopskit/kit/helmutil/repo"
	"github.com/gitopskit/kit/runtime/conditions"
	"github.com/gitopskit/kit/runtime/metrics"
	"github.com/gitopskit/kit/runtime/reconcile"
)

// helmChartStorageKind is the first element of a HelmChart artifact's path.
const helmChartStorageKind = "helmchart"

// Defaults of the HelmChart reconciler's index cache.
const (
	// DefaultIndexCacheSize bounds the parsed indexes kept (by
	// repo.Index.Size).
	DefaultIndexCacheSize int64 = 128 << 20
	// DefaultIndexCacheTTL drops an index not used for this long.
	DefaultIndexCacheTTL = 15 * time.Minute
)

// NewIndexCache returns an index cache of DefaultIndexCacheSize and
// DefaultIndexCacheTTL, for a HelmRepositoryReconciler and a
// HelmChartReconciler to share.
func NewIndexCache() *repo.Cache {
	return repo.NewCache(DefaultIndexCacheSize, DefaultIndexCacheTTL)
}

// Condition reasons of the HelmChart reconciler (Flux's).
const (
	// reasonSourceUnavailable: the source is missing or has no artifact.
	reasonSourceUnavailable = "SourceUnavailable"
	// reasonChartPullFailed: the chart could not be selected or
	// downloaded.
	reasonChartPullFailed = "ChartPullFailed"
	// reasonChartPackageFailed: the chart could not be loaded, completed
	// with its dependencies and values files, or packaged.
	reasonChartPackageFailed = "ChartPackageFailed"
)

// HelmChartReconciler keeps the artifact of every HelmChart up to date: a
// chart package, built reproducibly, of the chart the spec selects — from
// the index of a HelmRepository (parsed once per index digest, shared
// through IndexCache), from an OCI registry (a HelmRepository of type oci,
// cosign-verified when asked), or from a directory of a GitRepository,
// OCIRepository or Bucket artifact — with its values files merged. The
// artifact's revision is the packaged chart's version; when the source's
// revision, the generation and the stored file are unchanged, nothing is
// downloaded nor stored.
type HelmChartReconciler struct {
	// Client is the manager's client.
	Client client.Client
	// Storage keeps the artifacts; their URLs come from its base URL.
	Storage *storage.Storage
	// Fetcher downloads the sources' artifacts (indexes, source trees)
	// from the artifact server and checks their digests; nil means
	// fetch.New().
	Fetcher *fetch.Fetcher
	// IndexCache holds the parsed indexes of HelmRepositories, keyed by
	// URL and index digest; nil means a cache of its own of
	// DefaultIndexCacheSize.
	IndexCache *repo.Cache
	// TrustedRoot, when set, is the Sigstore trusted root keyless chart
	// signatures are checked against when spec.verify.secretRef holds no
	// trusted_root.json.
	TrustedRoot *TrustedRootFile
	// MaxIndexSize bounds an index parse; 0 means repo.DefaultMaxIndexBytes.
	MaxIndexSize int64
	// MaxChartSize bounds a chart package download; 0 means
	// repo.DefaultMaxChartBytes (50 MiB).
	MaxChartSize int64
	// Retention says how many artifacts of an object are kept; see
	// storage.GCOptions.
	Retention storage.GCOptions
	// Concurrency is the number of objects reconciled in parallel; 0 means 1.
	Concurrency int
	// Metrics records each reconcile's duration and the resulting
	// conditions and suspension; nil records nothing.
	Metrics *metrics.Recorder
	// Events records what the reconciler does; nil records none.
	Events record.EventRecorder

	suspension controllers.Suspension
	initOnce   sync.Once
}

func (r *HelmChartReconciler) init() {
	r.initOnce.Do(func() {
		if r.Fetcher == nil {
			r.Fetcher = fetch.New()
		}
		if r.IndexCache == nil {
			r.IndexCache = NewIndexCache()
		}
	})
}

// Reconcile brings one HelmChart's artifact up to date with its source.
func (r *HelmChartReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	r.init()
	return run(ctx, req, &sourcev1.HelmChart{}, sourceLifecycle{r.Client, r.Storage, r.Metrics, r.Events, &r.suspension}, r.finalize, r.reconcile)
}

// builtChart is a chart ready for its values files and packaging.
type builtChart struct {
	ch *chartv2.Chart
	// root is the directory values files are relative to; empty for a
	// chart from a repository (files of the chart).
	root string
	// sourceRevision is what the chart was built from, recorded in
	// status.observedSourceArtifactRevision.
	sourceRevision string
}

func (r *HelmChartReconciler) reconcile(ctx context.Context, obj *sourcev1.HelmChart, rep *controllers.Reporter, summary *conditions.Summary) error {
	log := logr.FromContextOrDiscard(ctx)
	ctx, cancel := context.WithTimeout(ctx, obj.GetTimeout())
	defer cancel()

	strategy := obj.Spec.ReconcileStrategy
	if strategy == "" {
		strategy = sourcev1.ReconcileStrategyChartVersion
	}
	if strategy != sourcev1.ReconcileStrategyChartVersion && strategy != sourcev1.ReconcileStrategyRevision {
		return reconcile.Stall(reasonInvalidSpec, fmt.Errorf("spec.reconcileStrategy %q is neither %s nor %s", strategy, sourcev1.ReconcileStrategyChartVersion, sourcev1.ReconcileStrategyRevision))
	}
	if obj.Spec.Verify == nil {
		conditions.Delete(obj, sourceVerified)
	}
	tmp, err := os.MkdirTemp("", "gitopsd-helmchart-")
	if err != nil {
		return reconcile.Fail(reasonStorageFailed, err)
	}
	defer os.RemoveAll(tmp)

	// Resolve the source's revision first: an unchanged one costs no
	// download.
	var plan *chartPlan
	switch k := obj.Spec.SourceRef.Kind; k {
	case sourcev1.HelmRepositoryKind:
		plan, err = r.planFromRepository(ctx, obj, rep, tmp)
	case sourcev1.GitRepositoryKind, sourcev1.OCIRepositoryKind, sourcev1.BucketKind:
		plan, err = r.planFromArtifact(ctx, obj, rep, tmp)
	default:
		err = reconcile.Stall(reasonInvalidSpec, fmt.Errorf("spec.sourceRef.kind %q is not one of HelmRepository, GitRepository, OCIRepository, Bucket", k))
	}
	if err != nil {
		return err
	}
	rep.SetRevision(plan.sourceRevision)
	if r.upToDate(ctx, obj, plan.sourceRevision) {
		obj.Status.URL = obj.Status.Artifact.URL
		msg := fmt.Sprintf("packaged '%s' chart with version '%s'", obj.Status.ObservedChartName, obj.Status.Artifact.Revision)
		conditions.MarkTrue(obj, artifactInStorage, reasonArtifactStored, "%s", msg)
		summary.SuccessMessage = msg
		return nil
	}
	// Whatever fails from here, the stored artifact is no longer known
	// to be what the spec and the source make.
	conditions.Delete(obj, artifactInStorage)
	rep.Progress(ctx, "building chart '%s' from %s '%s' revision '%s'", obj.Spec.Chart, obj.Spec.SourceRef.Kind, obj.Spec.SourceRef.Name, plan.sourceRevision)

	b, err := plan.build(ctx)
	if err != nil {
		return err
	}
	vals, err := chart.MergeValuesFiles(b.ch, obj.Spec.ValuesFiles, chart.ValuesFilesOptions{Root: b.root, IgnoreMissing: obj.Spec.IgnoreMissingValuesFiles})
	if err != nil {
		return reconcile.Fail(reasonChartPackageFailed, fmt.Errorf("merging values files: %w", err))
	}
	version := b.ch.Metadata.Version
	if strategy == sourcev1.ReconcileStrategyRevision && obj.Spec.SourceRef.Kind != sourcev1.HelmRepositoryKind {
		if version, err = chart.VersionWithMetadata(version, revisionMetadata(b.sourceRevision)); err != nil {
			return reconcile.Fail(reasonChartPackageFailed, err)
		}
	}
	if vals.Digest != "" {
		if version, err = chart.VersionWithMetadata(version, vals.BuildMetadata()); err != nil {
			return reconcile.Fail(reasonChartPackageFailed, err)
		}
	}
	pkg := filepath.Join(tmp, "package.tgz")
	res, err := chart.PackageFile(ctx, b.ch, pkg, chart.PackageOptions{Version: version})
	if err != nil {
		return reconcile.Fail(reasonChartPackageFailed, fmt.Errorf("packaging chart '%s': %w", obj.Spec.Chart, err))
	}
	f, err := os.Open(pkg)
	if err != nil {
		return reconcile.Fail(reasonStorageFailed, err)
	}
	defer f.Close()
	key := storage.Key{Kind: helmChartStorageKind, Namespace: obj.Namespace, Name: obj.Name}
	prev := obj.Status.Artifact
	a, err := r.Storage.Store(ctx, key, res.FileName, f, res.Version)
	if err != nil {
		err = fmt.Errorf("failed to store artifact for revision '%s': %w", res.Version, err)
		conditions.MarkFalse(obj, artifactInStorage, reasonStorageFailed, "%s", err)
		return reconcile.Fail(reasonStorageFailed, err)
	}
	obj.Status.Artifact = &a
	obj.Status.URL = a.URL
	obj.Status.ObservedChartName = res.Name
	obj.Status.ObservedSourceArtifactRevision = b.sourceRevision
	obj.Status.ObservedValuesFiles = slices.Clone(vals.Files)
	msg := fmt.Sprintf("packaged '%s' chart with version '%s'", res.Name, res.Version)
	conditions.MarkTrue(obj, artifactInStorage, reasonArtifactStored, "%s", msg)
	summary.SuccessMessage = msg
	if prev != nil && prev.Path == a.Path && prev.Digest == a.Digest {
		// Rebuilt (a new source revision or spec) to the same bytes:
		// nothing new for consumers.
		a.LastUpdateTime = prev.LastUpdateTime
		return nil
	}
	log.Info("stored artifact", "revision", a.Revision, "digest", a.Digest)
	rep.SetRevision(a.Revision)
	rep.Eventf(corev1.EventTypeNormal, "ChartPackageSucceeded", "packaged '%s' chart with version '%s'", res.Name, res.Version)
	if err := collectGarbage(ctx, r.Storage, a, r.Retention); err != nil {
		log.Error(err, "garbage collection of old artifacts failed")
	}
	return nil
}

// upToDate reports whether the stored artifact was built for this
// generation from sourceRevision, is intact, and was verified for this
// generation when verification is on.
func (r *HelmChartReconciler) upToDate(ctx context.Context, obj *sourcev1.HelmChart, sourceRevision string) bool {
	cur := obj.Status.Artifact
	if cur == nil || obj.Status.ObservedSourceArtifactRevision != sourceRevision {
		return false
	}
	c := conditions.Get(obj, artifactInStorage)
	if c == nil || c.Status != metav1.ConditionTrue || c.ObservedGeneration != obj.Generation {
		return false
	}
	if !reusable(ctx, r.Storage, cur, cur.Revision) {
		return false
	}
	return obj.Spec.Verify == nil || verifiedAtGeneration(obj)
}

// revisionMetadata is the build metadata of the Revision strategy: the
// first 12 hex digits of the source revision's digest (Flux's).
func revisionMetadata(revision string) string {
	h := revision[strings.LastIndex(revision, ":")+1:]
	if len(h) > 12 {
		h = h[:12]
	}
	return h
}

// finalize removes the object's artifacts; the Lifecycle then removes
// the finalizer.
func (r *HelmChartReconciler) finalize(ctx context.Context, obj *sourcev1.HelmChart, _ *controllers.Reporter) error {
	key := storage.Key{Kind: helmChartStorageKind, Namespace: obj.Namespace, Name: obj.Name}
	if err := r.Storage.Remove(ctx, key); err != nil {
		return fmt.Errorf("removing artifacts of %s: %w", key, err)
	}
	return nil
}

// checkConstraint stalls on a version that is not a semver range.
func checkConstraint(v string) error {
	if v == "" || v == "*" {
		return nil
	}
	if _, err := semver.NewConstraint(v); err != nil {
		return reconcile.Stall(reasonInvalidSpec, fmt.Errorf("spec.version %q is not a semver range: %w", v, err))
	}
	return nil
}

// stallVerifyNotOCI is the stall of spec.verify on a chart that is not
// pulled from an OCI registry.
func stallVerifyNotOCI() error {
	return reconcile.Stall(reasonInvalidSpec, errors.New("spec.verify is supported for charts from a HelmRepository of type oci only"))
}
