package source

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/Masterminds/semver/v3"
	"github.com/go-logr/logr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/gitopskit/kit/artifact/archive"
	"github.com/gitopskit/kit/artifact/storage"
	sourcev1 "github.com/gitopskit/kit/examples/api/source/v1"
	controllers "github.com/gitopskit/kit/examples/internal/controller"
	"github.com/gitopskit/kit/git"
	"github.com/gitopskit/kit/git/gogit"
	"github.com/gitopskit/kit/git/verify"
	"github.com/gitopskit/kit/runtime/conditions"
	"github.com/gitopskit/kit/runtime/metrics"
	"github.com/gitopskit/kit/runtime/reconcile"
	"github.com/gitopskit/kit/runtime/secrets"
)

// GitRepositoryReconciler keeps the artifact of every GitRepository up to
// date: it fetches the selected revision (incrementally, through a cache of
// bare repositories kept for the life of the process), verifies its
// signature when asked, packages it into Storage and records it in
// status.artifact.
type GitRepositoryReconciler struct {
	// Client is the manager's client.
	Client client.Client
	// Storage keeps the artifacts; their URLs come from its base URL.
	Storage *storage.Storage
	// Concurrency is the number of objects reconciled in parallel; 0 means 1.
	Concurrency int
	// Metrics records each reconcile's duration and the resulting
	// conditions and suspension; nil records nothing.
	Metrics *metrics.Recorder

	initOnce sync.Once
	initErr  error
	tmpRoot  string       // removed when the manager stops
	cache    *gogit.Cache // bare repositories, one per remote URL
}

// SetupWithManager registers the reconciler as the "gitrepository"
// controller of mgr. It reconciles on creation, deletion, spec changes and
// reconcile requests; status updates (its own included) are ignored.
func (r *GitRepositoryReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Client == nil || r.Storage == nil {
		return errors.New("gitrepository reconciler: Client and Storage are required")
	}
	if err := r.init(); err != nil {
		return err
	}
	// The fetch cache lives as long as the manager.
	if err := mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
		<-ctx.Done()
		return os.RemoveAll(r.tmpRoot)
	})); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("gitrepository").
		For(&sourcev1.GitRepository{}, builder.WithPredicates(reconcile.GenerationOrRequestChanged())).
		WithOptions(controller.Options{MaxConcurrentReconciles: max(1, r.Concurrency)}).
		Complete(r)
}

func (r *GitRepositoryReconciler) init() error {
	r.initOnce.Do(func() {
		dir, err := os.MkdirTemp("", "gitopsd-gitrepository-")
		if err != nil {
			r.initErr = fmt.Errorf("gitrepository reconciler: %w", err)
			return
		}
		r.tmpRoot = dir
		r.cache, r.initErr = gogit.NewCache(filepath.Join(dir, "cache"))
	})
	return r.initErr
}

// Reconcile brings one GitRepository's artifact up to date with its remote.
func (r *GitRepositoryReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	if err := r.init(); err != nil {
		return ctrl.Result{}, err
	}
	return controllers.Lifecycle[*sourcev1.GitRepository]{
		Client:          r.Client,
		Metrics:         r.Metrics,
		Finalizer:       Finalizer,
		OwnedConditions: ownedConditions,
		SummaryOwned:    summaryOwned,
		Finalize:        r.finalize,
		Reconcile: func(ctx context.Context, obj *sourcev1.GitRepository, rep *controllers.Reporter) (s conditions.Summary, err error) {
			return s, explainTimeout(ctx, obj.GetTimeout(), r.reconcile(ctx, obj, rep, &s))
		},
	}.Run(ctx, req, &sourcev1.GitRepository{})
}

func (r *GitRepositoryReconciler) reconcile(ctx context.Context, obj *sourcev1.GitRepository, rep *controllers.Reporter, summary *conditions.Summary) error {
	log := logr.FromContextOrDiscard(ctx)
	ctx, cancel := context.WithTimeout(ctx, obj.GetTimeout())
	defer cancel()

	url := obj.Spec.URL
	if _, err := git.Scheme(url); err != nil {
		return reconcile.Stall(reasonInvalidSpec, fmt.Errorf("url '%s': %w", git.RedactURL(url), err))
	}
	ref := gitReference(obj.Spec.Reference)
	if err := ref.Validate(); err != nil {
		return reconcile.Stall(reasonInvalidSpec, err)
	}
	if ref.SemVer != "" && ref.Commit == "" && ref.Name == "" {
		if _, err := semver.NewConstraint(ref.SemVer); err != nil {
			return reconcile.Stall(reasonInvalidSpec, fmt.Errorf("invalid semver range %q: %w", ref.SemVer, err))
		}
	}
	if obj.Spec.Verification == nil {
		conditions.Delete(obj, sourceVerified)
	}

	auth, err := r.auth(ctx, obj)
	if err != nil {
		return reconcile.Fail(reasonAuthFailed, err)
	}
	rep.Mask(auth.Password, auth.BearerToken, basicCredentials(auth.Username, auth.Password))
	if !controllers.Steady(obj) {
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
	if r.upToDate(ctx, obj) {
		last = obj.Status.Artifact.Revision
	}
	fetched, err := c.Export(ctx, dir, gogit.CloneOptions{
		Reference:    ref,
		LastRevision: last,
		Timeout:      obj.GetTimeout(),
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
			return reconcile.Fail(reasonVerificationFailed, err)
		}
		conditions.MarkTrue(obj, sourceVerified, reasonVerified, "verified signature of revision '%s' %s", fetched.Revision, describeVerified(res))
	}

	if !(reusable(ctx, r.Storage, obj.Status.Artifact, fetched.Revision) && sameIgnore(obj.Spec.Ignore, obj.Status.ObservedIgnore)) {
		key := storage.Key{Kind: gitStorageKind, Namespace: obj.Namespace, Name: obj.Name}
		a, err := r.Storage.Archive(ctx, key, dir, fetched.Revision, archive.Options{Ignore: ignorePatterns(obj.Spec.Ignore)})
		if err != nil {
			err = fmt.Errorf("failed to store artifact for revision '%s': %w", fetched.Revision, err)
			conditions.MarkFalse(obj, artifactInStorage, reasonStorageFailed, "%s", err)
			return reconcile.Fail(reasonStorageFailed, err)
		}
		obj.Status.Artifact = &a
		obj.Status.ObservedIgnore = copyString(obj.Spec.Ignore)
		log.Info("stored artifact", "revision", a.Revision, "digest", a.Digest)
		if err := collectGarbage(ctx, r.Storage, a); err != nil {
			log.Error(err, "garbage collection of old artifacts failed")
		}
	}
	msg := fmt.Sprintf("stored artifact for revision '%s'", fetched.Revision)
	conditions.MarkTrue(obj, artifactInStorage, reasonArtifactStored, "%s", msg)
	summary.SuccessMessage = msg
	return nil
}

// upToDate reports whether the recorded artifact may be kept as it is when
// the remote still points at its revision: it is in storage intact, was built
// with the current ignore rules, and the current verification (if any)
// passed for this generation.
func (r *GitRepositoryReconciler) upToDate(ctx context.Context, obj *sourcev1.GitRepository) bool {
	a := obj.Status.Artifact
	if a == nil || !sameIgnore(obj.Spec.Ignore, obj.Status.ObservedIgnore) || !reusable(ctx, r.Storage, a, a.Revision) {
		return false
	}
	return obj.Spec.Verification == nil || verifiedAtGeneration(obj)
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

// auth reads spec.secretRef: an SSH identity and known_hosts for ssh://
// remotes; basic auth or a bearer token, and TLS material, for http(s).
func (r *GitRepositoryReconciler) auth(ctx context.Context, obj *sourcev1.GitRepository) (git.AuthOptions, error) {
	var a git.AuthOptions
	if obj.Spec.SecretRef == nil {
		return a, nil
	}
	s, err := getSecret(ctx, r.Client, obj.Namespace, obj.Spec.SecretRef.Name)
	if err != nil {
		return a, err
	}
	if scheme, _ := git.Scheme(obj.Spec.URL); scheme == "ssh" {
		c, err := secrets.SSHFromSecret(s)
		if err != nil {
			return a, err
		}
		a.Identity, a.Password, a.KnownHosts = c.Identity, string(c.Passphrase), c.KnownHosts
		return a, nil
	}
	has := func(keys ...string) bool {
		for _, k := range keys {
			if len(s.Data[k]) > 0 {
				return true
			}
		}
		return false
	}
	httpAuth := has(secrets.UsernameKey, secrets.PasswordKey, secrets.BearerTokenKey)
	tlsAuth := has(secrets.CAKey, secrets.CertKey, secrets.KeyKey)
	if !httpAuth && !tlsAuth {
		return a, fmt.Errorf("secret '%s/%s' has none of the keys %s, %s, %s, %s, %s, %s",
			s.Namespace, s.Name, secrets.UsernameKey, secrets.PasswordKey, secrets.BearerTokenKey,
			secrets.CAKey, secrets.CertKey, secrets.KeyKey)
	}
	if httpAuth {
		h, err := secrets.HTTPAuthFromSecret(s)
		if err != nil {
			return a, err
		}
		a.Username, a.Password, a.BearerToken = h.Username, h.Password, h.BearerToken
	}
	if tlsAuth {
		t, err := secrets.TLSFromSecret(s)
		if err != nil {
			return a, err
		}
		a.CA, a.Cert, a.Key = t.CA, t.Cert, t.Key
	}
	return a, nil
}

// keyRing reads the trusted keys of spec.verify.secretRef: every value is
// either armored OpenPGP public keys or SSH authorized_keys lines.
func (r *GitRepositoryReconciler) keyRing(ctx context.Context, namespace, name string) (*verify.KeyRing, error) {
	s, err := getSecret(ctx, r.Client, namespace, name)
	if err != nil {
		return nil, err
	}
	var pgp, ssh [][]byte
	for _, v := range s.Data {
		switch {
		case len(bytes.TrimSpace(v)) == 0:
		case bytes.Contains(v, []byte("-----BEGIN PGP PUBLIC KEY BLOCK-----")):
			pgp = append(pgp, v)
		default:
			ssh = append(ssh, v)
		}
	}
	if len(pgp) == 0 && len(ssh) == 0 {
		return nil, fmt.Errorf("secret '%s/%s' holds no public key", namespace, name)
	}
	kr, err := verify.NewKeyRing(pgp, ssh)
	if err != nil {
		return nil, fmt.Errorf("secret '%s/%s': invalid public keys: %w", namespace, name, err)
	}
	return kr, nil
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
