package source

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/Masterminds/semver/v3"
	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"

	"github.com/gitopskit/kit/artifact"
	"github.com/gitopskit/kit/artifact/archive"
	"github.com/gitopskit/kit/artifact/storage"
	sourcev1 "github.com/gitopskit/kit/examples/api/source/v1"
	controllers "github.com/gitopskit/kit/examples/internal/controller"
	"github.com/gitopskit/kit/oci"
	"github.com/gitopskit/kit/runtime/conditions"
	"github.com/gitopskit/kit/runtime/metrics"
	"github.com/gitopskit/kit/runtime/reconcile"
)

// OCIRepositoryReconciler keeps the artifact of every OCIRepository up to
// date: it resolves the selected tag, semver range or digest, verifies the
// cosign signature when asked, pulls the selected layer and stores it —
// extracted and re-archived, or copied as it is — in Storage.
type OCIRepositoryReconciler struct {
	// Client is the manager's client.
	Client client.Client
	// Storage keeps the artifacts; their URLs come from its base URL.
	Storage *storage.Storage
	// TrustedRoot, when set, is the Sigstore trusted root keyless
	// signatures are checked against when spec.verify.secretRef holds no
	// trusted_root.json (or is not set).
	TrustedRoot *TrustedRootFile
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

// SetupWithManager registers the reconciler as the "ocirepository"
// controller of mgr. It reconciles on creation, deletion, spec changes and
// reconcile requests; status updates (its own included) are ignored.
func (r *OCIRepositoryReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Client == nil || r.Storage == nil {
		return errors.New("ocirepository reconciler: Client and Storage are required")
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("ocirepository").
		For(&sourcev1.OCIRepository{}, builder.WithPredicates(reconcile.GenerationOrRequestChanged())).
		WithOptions(controller.Options{MaxConcurrentReconciles: max(1, r.Concurrency)}).
		Complete(r)
}

// Reconcile brings one OCIRepository's artifact up to date with its
// registry.
func (r *OCIRepositoryReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	return run(ctx, req, &sourcev1.OCIRepository{}, sourceLifecycle{r.Client, r.Storage, r.Metrics, r.Events, &r.suspension}, r.finalize, r.reconcile)
}

func (r *OCIRepositoryReconciler) reconcile(ctx context.Context, obj *sourcev1.OCIRepository, rep *controllers.Reporter, summary *conditions.Summary) error {
	log := logr.FromContextOrDiscard(ctx)
	ctx, cancel := context.WithTimeout(ctx, obj.GetTimeout())
	defer cancel()

	repo, host, err := ociRepository(obj.Spec.URL)
	if err != nil {
		return reconcile.Stall(reasonInvalidSpec, err)
	}
	ref := obj.Spec.Reference
	if ref == nil {
		ref = &sourcev1.OCIRepositoryRef{}
	}
	if ref.Digest == "" && ref.SemVer != "" {
		if _, err := semver.NewConstraint(ref.SemVer); err != nil {
			return reconcile.Stall(reasonInvalidSpec, fmt.Errorf("invalid semver range %q: %w", ref.SemVer, err))
		}
		if ref.SemverFilter != "" {
			if _, err := regexp.Compile(ref.SemverFilter); err != nil {
				return reconcile.Stall(reasonInvalidSpec, fmt.Errorf("invalid semverFilter %q: %w", ref.SemverFilter, err))
			}
		}
	}
	if p := obj.Spec.Provider; p != "" && p != sourcev1.OCIProviderGeneric {
		return reconcile.Stall(reasonInvalidSpec, fmt.Errorf("spec.provider %q is not supported; only %q (spec.secretRef, spec.serviceAccountName) is", p, sourcev1.OCIProviderGeneric))
	}
	selector := layerSelector(obj.Spec.LayerSelector)
	if obj.Spec.Verify == nil {
		conditions.Delete(obj, sourceVerified)
	}

	opts, err := r.clientOptions(ctx, obj, host, rep)
	if err != nil {
		return reconcile.Fail(reasonAuthFailed, err)
	}
	if !controllers.Steady(obj) {
		rep.Progress(ctx, "fetching '%s'", obj.Spec.URL)
	}
	c, err := oci.NewClient(opts...)
	if err != nil {
		return reconcile.Stall(reasonInvalidSpec, err)
	}

	// Resolve what to pull first: an unchanged revision costs one request.
	tag, digest := ref.Tag, ref.Digest
	switch {
	case digest != "":
		tag = ""
	case ref.SemVer != "":
		tags, err := c.List(ctx, repo, oci.ListOptions{SemVer: ref.SemVer, TagRegexp: ref.SemverFilter})
		if err != nil {
			return reconcile.Fail(fetchReason(err), fmt.Errorf("listing tags of '%s': %w", repo, err))
		}
		if len(tags) == 0 {
			return reconcile.Fail(reasonFetchFailed, fmt.Errorf("no tag of '%s' matches semver range %q: %w", repo, ref.SemVer, oci.ErrNoMatchingTag))
		}
		tag = tags[0]
	case tag == "":
		tag = "latest"
	}
	if digest == "" {
		if digest, err = c.Resolve(ctx, repo+":"+tag); err != nil {
			return reconcile.Fail(fetchReason(err), fmt.Errorf("resolving '%s:%s': %w", repo, tag, err))
		}
	}
	revision := digest
	if tag != "" {
		revision = tag + "@" + digest
	}

	var verifyOpts *oci.VerifyOptions
	if v := obj.Spec.Verify; v != nil {
		if verifyOpts, err = r.verifyOptions(ctx, obj.Namespace, v); err != nil {
			conditions.MarkFalse(obj, sourceVerified, reasonVerificationFailed, "%s", err)
			if _, ok := errors.AsType[*reconcile.StalledError](err); ok {
				return err
			}
			return reconcile.Fail(reasonVerificationFailed, err)
		}
	}

	if r.upToDate(ctx, obj, revision, selector) {
		obj.Status.URL = obj.Status.Artifact.URL
		msg := fmt.Sprintf("stored artifact for revision '%s'", revision)
		conditions.MarkTrue(obj, artifactInStorage, reasonArtifactStored, "%s", msg)
		summary.SuccessMessage = msg
		return nil
	}

	tmp, err := os.MkdirTemp("", "gitopsd-ocirepository-")
	if err != nil {
		return reconcile.Fail(reasonStorageFailed, err)
	}
	defer os.RemoveAll(tmp)
	dst := filepath.Join(tmp, "content")
	// Pull by digest, so what is stored is exactly what was resolved and
	// verified even if the tag moves meanwhile.
	md, err := c.Pull(ctx, repo+"@"+digest, dst, oci.PullOptions{
		LayerMediaType: selector.MediaType,
		Copy:           selector.Operation == sourcev1.OCILayerCopy,
		Verify:         verifyOpts,
	})
	if err != nil {
		if errors.Is(err, oci.ErrNoSignature) || errors.Is(err, oci.ErrUntrusted) {
			err = fmt.Errorf("signature verification of revision '%s' failed: %w", revision, err)
			conditions.MarkFalse(obj, sourceVerified, reasonVerificationFailed, "%s", err)
			return reconcile.Fail(reasonVerificationFailed, err)
		}
		return reconcile.Fail(fetchReason(err), fmt.Errorf("pulling revision '%s' from '%s': %w", revision, repo, err))
	}
	if verifyOpts != nil {
		conditions.MarkTrue(obj, sourceVerified, reasonVerified, "verified signature of revision '%s'", revision)
	}

	key := storage.Key{Kind: ociStorageKind, Namespace: obj.Namespace, Name: obj.Name}
	var a artifact.Artifact
	if selector.Operation == sourcev1.OCILayerCopy {
		a, err = r.storeFile(ctx, key, dst, md.Layer.Digest.Hex+".tar.gz", revision)
	} else {
		a, err = r.Storage.Archive(ctx, key, dst, revision, archive.Options{Ignore: ignorePatterns(obj.Spec.Ignore)})
	}
	if err != nil {
		err = fmt.Errorf("failed to store artifact for revision '%s': %w", revision, err)
		conditions.MarkFalse(obj, artifactInStorage, reasonStorageFailed, "%s", err)
		return reconcile.Fail(reasonStorageFailed, err)
	}
	if len(md.Annotations) > 0 {
		a.Metadata = md.Annotations
	}
	obj.Status.Artifact = &a
	obj.Status.URL = a.URL
	obj.Status.ObservedIgnore = copyString(obj.Spec.Ignore)
	obj.Status.ObservedLayerSelector = &selector
	log.Info("stored artifact", "revision", a.Revision, "digest", a.Digest)
	rep.SetRevision(a.Revision)
	rep.Eventf(corev1.EventTypeNormal, "NewArtifact", "stored artifact for revision '%s'", a.Revision)
	if err := collectGarbage(ctx, r.Storage, a, r.Retention); err != nil {
		log.Error(err, "garbage collection of old artifacts failed")
	}
	msg := fmt.Sprintf("stored artifact for revision '%s'", revision)
	conditions.MarkTrue(obj, artifactInStorage, reasonArtifactStored, "%s", msg)
	summary.SuccessMessage = msg
	return nil
}

func (r *OCIRepositoryReconciler) storeFile(ctx context.Context, key storage.Key, path, name, revision string) (artifact.Artifact, error) {
	f, err := os.Open(path)
	if err != nil {
		return artifact.Artifact{}, err
	}
	defer f.Close()
	return r.Storage.Store(ctx, key, name, f, revision)
}

// upToDate reports whether the stored artifact is revision, built with the
// current ignore rules and layer selector, intact, and verified for this
// generation when verification is on.
func (r *OCIRepositoryReconciler) upToDate(ctx context.Context, obj *sourcev1.OCIRepository, revision string, selector sourcev1.OCILayerSelector) bool {
	if !sameIgnore(obj.Spec.Ignore, obj.Status.ObservedIgnore) ||
		obj.Status.ObservedLayerSelector == nil || *obj.Status.ObservedLayerSelector != selector ||
		!reusable(ctx, r.Storage, obj.Status.Artifact, revision) {
		return false
	}
	return obj.Spec.Verify == nil || verifiedAtGeneration(obj)
}

// finalize removes the object's artifacts; the Lifecycle then removes
// the finalizer.
func (r *OCIRepositoryReconciler) finalize(ctx context.Context, obj *sourcev1.OCIRepository, _ *controllers.Reporter) error {
	key := storage.Key{Kind: ociStorageKind, Namespace: obj.Namespace, Name: obj.Name}
	if err := r.Storage.Remove(ctx, key); err != nil {
		return fmt.Errorf("removing artifacts of %s: %w", key, err)
	}
	return nil
}

// ociRepository checks an oci:// URL and returns the repository reference
// (host/path) and the registry host.
func ociRepository(u string) (repo, host string, err error) {
	rest, ok := strings.CutPrefix(u, "oci://")
	if !ok {
		return "", "", fmt.Errorf("url must start with oci://")
	}
	if strings.Contains(rest, "@") {
		// Never echo the URL: the part before '@' may be credentials.
		return "", "", fmt.Errorf("url must hold neither credentials nor a digest; use spec.secretRef and spec.ref.digest")
	}
	rest = strings.TrimSuffix(rest, "/")
	i := strings.Index(rest, "/")
	if i <= 0 || i == len(rest)-1 {
		return "", "", fmt.Errorf("url %q must be oci://<host>/<repository>", u)
	}
	for _, elem := range strings.Split(rest[i+1:], "/") {
		if elem == "" || strings.ContainsFunc(elem, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
			return "", "", fmt.Errorf("url %q must be oci://<host>/<repository>", u)
		}
	}
	if last := rest[strings.LastIndex(rest, "/")+1:]; strings.Contains(last, ":") {
		return "", "", fmt.Errorf("url %q must not hold a tag; use spec.ref.tag", u)
	}
	return rest, rest[:i], nil
}

// layerSelector returns the selector with its defaults: the Flux content
// layer, extracted.
func layerSelector(s *sourcev1.OCILayerSelector) sourcev1.OCILayerSelector {
	out := sourcev1.OCILayerSelector{MediaType: oci.ContentMediaType, Operation: sourcev1.OCILayerExtract}
	if s != nil {
		if s.MediaType != "" {
			out.MediaType = s.MediaType
		}
		if s.Operation != "" {
			out.Operation = s.Operation
		}
	}
	return out
}

func fetchReason(err error) string {
	if errors.Is(err, oci.ErrUnauthorized) {
		return reasonAuthFailed
	}
	return reasonFetchFailed
}
