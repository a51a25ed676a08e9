package source

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/Masterminds/semver/v3"
	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/gitopskit/kit/artifact/archive"
	"github.com/gitopskit/kit/artifact/storage"
	sourcev1 "github.com/gitopskit/kit/examples/api/source/v1"
	controllers "github.com/gitopskit/kit/examples/internal/controller"
	"github.com/gitopskit/kit/git"
	"github.com/gitopskit/kit/git/gogit"
	"github.com/gitopskit/kit/git/verify"
	"github.com/gitopskit/kit/runtime/acl"
	"github.com/gitopskit/kit/runtime/conditions"
	"github.com/gitopskit/kit/runtime/metrics"
	"github.com/gitopskit/kit/runtime/reconcile"
)

// GitRepositoryReconciler keeps the artifact of every GitRepository up to
// date: it fetches the selected revision (incrementally, through GitCache,
// a cache of bare repositories), verifies its
// signature when asked, copies in the artifacts of the GitRepositories it
// includes, packages it into Storage and records it in status.artifact.
type GitRepositoryReconciler struct {
	// Client is the manager's client.
	Client client.Client
	// Storage keeps the artifacts; their URLs come from its base URL.
	Storage *storage.Storage
	// ACL decides which cross-namespace spec.include references are
	// followed; the zero Policy keeps them within a namespace.
	ACL acl.Policy
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
	// GitCache keeps a bare repository per remote URL that every fetch
	// goes through, so a new revision costs only its new objects; gitopsd
	// keeps it across restarts (--git-cache-path) and shares it with the
	// ImageUpdateAutomation reconciler. Nil: a cache of the reconciler's
	// own, in a temporary folder removed when the manager stops.
	GitCache *gogit.Cache
	// WorkDir holds the exports artifacts are packaged from (one per
	// object, updated in place) and the trees assembled with includes.
	// gitopsd keeps it beside GitCache, so a restarted gitopsd updates its
	// exports in place and nothing is left behind in the temporary folder
	// after a kill. It must be this process's own: what an earlier,
	// killed process was assembling there is removed at start. Empty: a
	// temporary folder removed when the manager stops.
	WorkDir string

	suspension controllers.Suspension

	initOnce sync.Once
	initErr  error
	tmpRoot  string       // WorkDir, or a temporary folder removed when the manager stops
	cache    *gogit.Cache // GitCache, or one under tmpRoot
}

// SetupWithManager registers the reconciler as the "gitrepository"
// controller of mgr, and its field index of spec.include. It reconciles on
// creation, deletion, spec changes and reconcile requests, and when the
// artifact of a GitRepository an object includes changes; other status
// updates (its own included) are ignored.
func (r *GitRepositoryReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Client == nil || r.Storage == nil {
		return errors.New("gitrepository reconciler: Client and Storage are required")
	}
	if err := r.init(); err != nil {
		return err
	}
	// A temporary work folder (and the fetch cache when it is the
	// reconciler's own) lives as long as the manager.
	if r.WorkDir == "" {
		if err := mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
			<-ctx.Done()
			return os.RemoveAll(r.tmpRoot)
		})); err != nil {
			return err
		}
	}
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &sourcev1.GitRepository{}, includeIndex, indexIncludes); err != nil {
		return fmt.Errorf("gitrepository reconciler: indexing %s: %w", includeIndex, err)
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("gitrepository").
		For(&sourcev1.GitRepository{}, builder.WithPredicates(reconcile.GenerationOrRequestChanged())).
		Watches(&sourcev1.GitRepository{}, handler.EnqueueRequestsFromMapFunc(r.includers), builder.WithPredicates(artifactChanged())).
		WithOptions(controller.Options{MaxConcurrentReconciles: max(1, r.Concurrency)}).
		Complete(r)
}

func (r *GitRepositoryReconciler) init() error {
	r.initOnce.Do(func() {
		dir, err := r.workRoot()
		if err != nil {
			r.initErr = fmt.Errorf("gitrepository reconciler: %w", err)
			return
		}
		r.tmpRoot = dir
		if r.GitCache != nil {
			r.cache = r.GitCache
			return
		}
		r.cache, r.initErr = gogit.NewCache(filepath.Join(dir, "cache"))
	})
	return r.initErr
}

// workRoot returns WorkDir, created, with the trees a killed process was
// assembling removed; or a new temporary folder.
func (r *GitRepositoryReconciler) workRoot() (string, error) {
	if r.WorkDir == "" {
		return os.MkdirTemp("", "gitopsd-gitrepository-")
	}
	if err := os.MkdirAll(r.WorkDir, 0o755); err != nil {
		return "", err
	}
	stale, err := filepath.Glob(filepath.Join(r.WorkDir, "assemble-*"))
	if err != nil {
		return "", err
	}
	for _, d := range stale {
		if err := os.RemoveAll(d); err != nil {
			return "", err
		}
	}
	return r.WorkDir, nil
}

// Reconcile brings one GitRepository's artifact up to date with its remote.
func (r *GitRepositoryReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	if err := r.init(); err != nil {
		return ctrl.Result{}, err
	}
	return run(ctx, req, &sourcev1.GitRepository{}, sourceLifecycle{r.Client, r.Storage, r.Metrics, r.Events, &r.suspension}, r.finalize, r.reconcile)
}

// checkGitSpec stalls on what the API server's validation should have
// refused already (an older CRD may not): the URL, the reference, the
// provider and the sparse checkout folders. It returns the folders cleaned.
func checkGitSpec(obj *sourcev1.GitRepository) (git.Reference, []string, error) {
	url := obj.Spec.URL
	if _, err := git.Scheme(url); err != nil {
		return git.Reference{}, nil, reconcile.Stall(reasonInvalidSpec, fmt.Errorf("url '%s': %w", git.RedactURL(url), err))
	}
	ref := gitReference(obj.Spec.Reference)
	if err := ref.Validate(); err != nil {
		return ref, nil, reconcile.Stall(reasonInvalidSpec, err)
	}
	if ref.SemVer != "" && ref.Commit == "" && ref.Name == "" {
		if _, err := semver.NewConstraint(ref.SemVer); err != nil {
			return ref, nil, reconcile.Stall(reasonInvalidSpec, fmt.Errorf("invalid semver range %q: %w", ref.SemVer, err))
		}
	}
	if p := obj.Spec.Provider; p != "" && p != sourcev1.GitProviderGeneric {
		return ref, nil, reconcile.Stall(reasonInvalidSpec, fmt.Errorf("spec.provider %q is not supported; only %q (spec.secretRef) is", p, sourcev1.GitProviderGeneric))
	}
	var sparse []string
	for i, d := range obj.Spec.SparseCheckout {
		c, err := cleanRelative(fmt.Sprintf("spec.sparseCheckout[%d]", i), d)
		if err != nil {
			return ref, nil, reconcile.Stall(reasonInvalidSpec, err)
		}
		sparse = append(sparse, c)
	}
	return ref, sparse, nil
}

func (r *GitRepositoryReconciler) reconcile(ctx context.Context, obj *sourcev1.GitRepository, rep *controllers.Reporter, summary *conditions.Summary) error {
	ctx, cancel := context.WithTimeout(ctx, obj.GetTimeout())
	defer cancel()

	url := obj.Spec.URL
	ref, sparse, err := checkGitSpec(obj)
	if err != nil {
		return err
	}
	if obj.Spec.Verification == nil {
		conditions.Delete(obj, sourceVerified)
		obj.Status.SourceVerificationMode = nil
	}

	auth, err := r.auth(ctx, obj, rep)
	if err != nil {
		return reconcile.Fail(reasonAuthFailed, err)
	}
	incs, err := r.resolveIncludes(ctx, obj)
	if err != nil {
		return err
	}
	if !controllers.Steady(obj) || !sameIncludes(obj, incs) {
		rep.Progress(ctx, "fetching %s from '%s'", ref, git.RedactURL(url))
	}
	c, err := gogit.New(url, gogit.WithAuth(auth), gogit.WithCache(r.cache))
	if err != nil {
		// A URL or a combination of credentials and scheme that can
		// never work (credentials over plain http, for one).
		return reconcile.Stall(reasonInvalidSpec, fmt.Errorf("remote '%s': %w", git.RedactURL(url), err))
	}
	var keys *verify.KeyRing
	if v := obj.Spec.Verification; v != nil {
		if keys, err = r.keyRing(ctx, obj.Namespace, v.SecretRef.Name); err != nil {
			conditions.MarkFalse(obj, sourceVerified, reasonVerificationFailed, "%s", err)
			return reconcile.Fail(reasonVerificationFailed, err)
		}
	}

	dir, err := r.workDir(obj)
	if err != nil {
		return reconcile.Fail(reasonStorageFailed, err)
	}
	last := ""
	if r.upToDate(ctx, obj, incs) {
		last = obj.Status.Artifact.Revision
	}
	fetched, err := c.Export(ctx, dir, gogit.CloneOptions{
		Reference:         ref,
		LastRevision:      last,
		SparseDirectories: sparse,
		RecurseSubmodules: obj.Spec.RecurseSubmodules,
		Timeout:           obj.GetTimeout(),
	})
	if err != nil {
		if errors.Is(err, git.ErrInvalidOptions) {
			// The folder may be in a state Export refuses; start afresh
			// next time.
			_ = os.RemoveAll(dir)
		}
		reason := reasonFetchFailed
		if errors.Is(err, git.ErrAuthentication) || errors.Is(err, git.ErrHostKey) {
			reason = reasonAuthFailed
		}
		return reconcile.Fail(reason, fmt.Errorf("failed to checkout %s from '%s': %w", ref, git.RedactURL(url), err))
	}
	if fetched.Unchanged {
		conditions.MarkTrue(obj, artifactInStorage, reasonArtifactStored, "stored artifact for revision '%s'", obj.Status.Artifact.Revision)
		summary.SuccessMessage = fmt.Sprintf("stored artifact for revision '%s'", obj.Status.Artifact.Revision)
		return nil
	}

	if v := obj.Spec.Verification; v != nil {
		res, err := verify.Verify(fetched.Commit, keys, verifyMode(v.Mode))
		if err != nil {
			err = fmt.Errorf("signature verification of revision '%s' failed: %w", fetched.Revision, err)
			conditions.MarkFalse(obj, sourceVerified, reasonVerificationFailed, "%s", err)
			obj.Status.SourceVerificationMode = nil
			return reconcile.Fail(reasonVerificationFailed, err)
		}
		mode := v.Mode
		if mode == "" {
			mode = sourcev1.VerifyHEAD
		}
		obj.Status.SourceVerificationMode = &mode
		conditions.MarkTrue(obj, sourceVerified, reasonVerified, "verified signature of revision '%s' %s", fetched.Revision, describeVerified(res))
	}

	if !(reusable(ctx, r.Storage, obj.Status.Artifact, fetched.Revision) && builtAsSpecified(obj, incs)) {
		if err := r.store(ctx, obj, dir, fetched.Revision, incs); err != nil {
			return err
		}
		rep.SetRevision(obj.Status.Artifact.Revision)
		rep.Eventf(corev1.EventTypeNormal, "NewArtifact", "stored artifact for revision '%s'", obj.Status.Artifact.Revision)
	}
	msg := fmt.Sprintf("stored artifact for revision '%s'", fetched.Revision)
	if n := len(incs); n > 0 {
		msg += fmt.Sprintf(" with %d included %s", n, plural(n, "artifact", "artifacts"))
	}
	conditions.MarkTrue(obj, artifactInStorage, reasonArtifactStored, "%s", msg)
	summary.SuccessMessage = msg
	return nil
}

// store packages the exported folder dir — with the included artifacts
// copied in, when there are any — as the artifact of revision, and records
// it and what it was built with in the status.
func (r *GitRepositoryReconciler) store(ctx context.Context, obj *sourcev1.GitRepository, dir, revision string, incs []included) error {
	log := logr.FromContextOrDiscard(ctx)
	tree := dir
	if len(incs) > 0 {
		tmp, err := r.assemble(ctx, dir, incs)
		if err != nil {
			// Retried: an included repository's next revision may fix it,
			// and its new artifact reconciles this object at once.
			conditions.MarkFalse(obj, artifactInStorage, reasonIncludeFailed, "%s", err)
			return reconcile.Fail(reasonIncludeFailed, err)
		}
		defer os.RemoveAll(tmp)
		tree = filepath.Join(tmp, "tree")
	}
	key := storage.Key{Kind: gitStorageKind, Namespace: obj.Namespace, Name: obj.Name}
	a, err := r.Storage.Archive(ctx, key, tree, revision, archive.Options{Ignore: ignorePatterns(obj.Spec.Ignore)})
	if err != nil {
		err = fmt.Errorf("failed to store artifact for revision '%s': %w", revision, err)
		conditions.MarkFalse(obj, artifactInStorage, reasonStorageFailed, "%s", err)
		return reconcile.Fail(reasonStorageFailed, err)
	}
	obj.Status.Artifact = &a
	obj.Status.ObservedIgnore = copyString(obj.Spec.Ignore)
	obj.Status.ObservedRecurseSubmodules = obj.Spec.RecurseSubmodules
	obj.Status.ObservedSparseCheckout = slices.Clone(obj.Spec.SparseCheckout)
	obj.Status.ObservedInclude = slices.Clone(obj.Spec.Include)
	obj.Status.IncludedArtifacts = nil
	for _, inc := range incs {
		obj.Status.IncludedArtifacts = append(obj.Status.IncludedArtifacts, *inc.artifact.DeepCopy())
	}
	log.Info("stored artifact", "revision", a.Revision, "digest", a.Digest, "included", len(incs))
	if err := collectGarbage(ctx, r.Storage, a, r.Retention); err != nil {
		log.Error(err, "garbage collection of old artifacts failed")
	}
	return nil
}

// builtAsSpecified reports whether the stored artifact was built with the
// current spec.ignore, recurseSubmodules, sparseCheckout and include, and
// the included artifacts as they are now.
func builtAsSpecified(obj *sourcev1.GitRepository, incs []included) bool {
	return sameIgnore(obj.Spec.Ignore, obj.Status.ObservedIgnore) &&
		obj.Spec.RecurseSubmodules == obj.Status.ObservedRecurseSubmodules &&
		slices.Equal(obj.Spec.SparseCheckout, obj.Status.ObservedSparseCheckout) &&
		sameIncludes(obj, incs)
}

// upToDate reports whether the recorded artifact may be kept as it is when
// the remote still points at its revision: it is in storage intact, was
// built as the spec now says with the included artifacts as they are now,
// and the current verification (if any) passed for this generation.
func (r *GitRepositoryReconciler) upToDate(ctx context.Context, obj *sourcev1.GitRepository, incs []included) bool {
	a := obj.Status.Artifact
	if a == nil || !builtAsSpecified(obj, incs) || !reusable(ctx, r.Storage, a, a.Revision) {
		return false
	}
	return obj.Spec.Verification == nil || verifiedAtGeneration(obj)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// finalize removes the object's artifacts and working copy; the
// Lifecycle then removes the finalizer.
func (r *GitRepositoryReconciler) finalize(ctx context.Context, obj *sourcev1.GitRepository, _ *controllers.Reporter) error {
	key := storage.Key{Kind: gitStorageKind, Namespace: obj.Namespace, Name: obj.Name}
	if err := r.Storage.Remove(ctx, key); err != nil {
		return fmt.Errorf("removing artifacts of %s: %w", key, err)
	}
	return os.RemoveAll(filepath.Join(r.tmpRoot, "work", string(obj.UID)))
}

// workDir returns the folder the object's files are exported into: one per
// object and remote URL, so the next revision is written in place. Folders
// of the object's earlier URLs are removed.
func (r *GitRepositoryReconciler) workDir(obj *sourcev1.GitRepository) (string, error) {
	parent := filepath.Join(r.tmpRoot, "work", string(obj.UID))
	sum := sha256.Sum256([]byte(obj.Spec.URL))
	name := hex.EncodeToString(sum[:8])
	entries, err := os.ReadDir(parent)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	for _, e := range entries {
		if e.Name() != name {
			if err := os.RemoveAll(filepath.Join(parent, e.Name())); err != nil {
				return "", err
			}
		}
	}
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return "", err
	}
	return filepath.Join(parent, name), nil
}

func gitReference(r *sourcev1.GitRepositoryRef) git.Reference {
	if r == nil {
		return git.Reference{}
	}
	return git.Reference{Branch: r.Branch, Tag: r.Tag, SemVer: r.SemVer, Name: r.Name, Commit: r.Commit}
}

func verifyMode(m sourcev1.GitVerificationMode) verify.Mode {
	switch m {
	case sourcev1.VerifyTag:
		return verify.ModeTag
	case sourcev1.VerifyTagAndHEAD:
		return verify.ModeTagAndHead
	}
	return verify.ModeHead
}

func describeVerified(r *verify.Result) string {
	switch {
	case r.Commit != "" && r.Tag != "":
		return fmt.Sprintf("(commit by key %s, tag by key %s)", r.Commit, r.Tag)
	case r.Tag != "":
		return fmt.Sprintf("(tag by key %s)", r.Tag)
	}
	return fmt.Sprintf("(commit by key %s)", r.Commit)
}

func copyString(s *string) *string {
	if s == nil {
		return nil
	}
	v := *s
	return &v
}
