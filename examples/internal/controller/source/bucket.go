package source

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"

	"github.com/gitopskit/kit/artifact/archive"
	"github.com/gitopskit/kit/artifact/bucket"
	"github.com/gitopskit/kit/artifact/storage"
	sourcev1 "github.com/gitopskit/kit/examples/api/source/v1"
	controllers "github.com/gitopskit/kit/examples/internal/controller"
	"github.com/gitopskit/kit/runtime/conditions"
	"github.com/gitopskit/kit/runtime/metrics"
	"github.com/gitopskit/kit/runtime/reconcile"
	"github.com/gitopskit/kit/runtime/secrets"
)

// bucketStorageKind is the first element of a Bucket artifact's path.
const bucketStorageKind = "bucket"

// Keys of a Bucket's spec.secretRef.
const (
	accessKeyKey    = "accesskey"
	secretKeyKey    = "secretkey"
	sessionTokenKey = "sessiontoken"
)

// BucketReconciler keeps the artifact of every Bucket up to date: it lists
// the bucket's folder (artifact/bucket), and only when the revision of the
// selected objects moved — or the stored artifact is missing or damaged —
// downloads them and packages them into Storage.
//
// The previous listing of each Bucket is kept in memory, so that an
// unchanged .sourceignore is not downloaded again: an unchanged bucket
// costs the listing requests only (after a restart, its .sourceignore
// objects are read once).
type BucketReconciler struct {
	// Client is the manager's client.
	Client client.Client
	// Storage keeps the artifacts; their URLs come from its base URL.
	Storage *storage.Storage
	// Retention says how many artifacts of an object are kept, and for how
	// long, when a new one is stored; the zero value keeps the current one
	// and the one before it (for consumers still downloading it).
	Retention storage.GCOptions
	// Concurrency is the number of objects reconciled in parallel; 0 means 1.
	Concurrency int
	// Downloads is the number of objects one Bucket downloads at once; 0
	// means bucket.DefaultConcurrency.
	Downloads int
	// Metrics records each reconcile's duration and the resulting
	// conditions and suspension; nil records nothing.
	Metrics *metrics.Recorder
	// Events records what the reconciler does (Kubernetes Events and the
	// event hub, through events/recorder); nil records none.
	Events record.EventRecorder

	suspension controllers.Suspension

	mu       sync.Mutex
	listings map[types.UID]*bucket.Listing // the last listing of each Bucket
}

// SetupWithManager registers the reconciler as the "bucket" controller of
// mgr. It reconciles on creation, deletion, spec changes and reconcile
// requests; status updates (its own included) are ignored.
func (r *BucketReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Client == nil || r.Storage == nil {
		return errors.New("bucket reconciler: Client and Storage are required")
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("bucket").
		For(&sourcev1.Bucket{}, builder.WithPredicates(reconcile.GenerationOrRequestChanged())).
		WithOptions(controller.Options{MaxConcurrentReconciles: max(1, r.Concurrency)}).
		Complete(r)
}

// Reconcile brings one Bucket's artifact up to date with its bucket.
func (r *BucketReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	return run(ctx, req, &sourcev1.Bucket{}, sourceLifecycle{r.Client, r.Storage, r.Metrics, r.Events, &r.suspension}, r.finalize, r.reconcile)
}

func (r *BucketReconciler) reconcile(ctx context.Context, obj *sourcev1.Bucket, rep *controllers.Reporter, summary *conditions.Summary) error {
	log := logr.FromContextOrDiscard(ctx)
	ctx, cancel := context.WithTimeout(ctx, obj.GetTimeout())
	defer cancel()
	// A Bucket verifies nothing: SourceVerified is never set.
	conditions.Delete(obj, sourceVerified)

	if p := obj.Spec.Provider; p != "" && p != sourcev1.BucketProviderGeneric {
		return reconcile.Stall(reasonInvalidSpec, fmt.Errorf("spec.provider %q is not supported; only %q (spec.secretRef) is", p, sourcev1.BucketProviderGeneric))
	}
	opts, err := r.clientOptions(ctx, obj, rep)
	if err != nil {
		return reconcile.Fail(reasonAuthFailed, err)
	}
	where := fmt.Sprintf("bucket '%s' at '%s'", obj.Spec.BucketName, obj.Spec.Endpoint)
	c, err := bucket.New(obj.Spec.Endpoint, opts...)
	if err != nil {
		return reconcile.Stall(reasonInvalidSpec, fmt.Errorf("spec.endpoint: %w", err))
	}
	progressed := false
	if !controllers.Steady(obj) {
		rep.Progress(ctx, "listing %s", where)
		progressed = true
	}

	l, err := c.List(ctx, obj.Spec.BucketName, bucket.ListOptions{
		Prefix:   obj.Spec.Prefix,
		Ignore:   ignorePatterns(obj.Spec.Ignore),
		Timeout:  obj.GetTimeout(),
		Previous: r.previous(obj),
	})
	if err != nil {
		return listFailure(where, err)
	}
	r.remember(obj, l)
	revision := string(l.Revision)

	if reusable(ctx, r.Storage, obj.Status.Artifact, revision) {
		// The revision covers the selection, so the ignore rules in force
		// are the ones the artifact was built with.
		obj.Status.ObservedIgnore = copyString(obj.Spec.Ignore)
		obj.Status.URL = obj.Status.Artifact.URL
		msg := fmt.Sprintf("stored artifact for revision '%s'", revision)
		conditions.MarkTrue(obj, artifactInStorage, reasonArtifactStored, "%s", msg)
		summary.SuccessMessage = msg
		return nil
	}

	if !progressed {
		rep.Progress(ctx, "fetching revision '%s' from %s", revision, where)
	}
	tmp, err := os.MkdirTemp("", "gitopsd-bucket-")
	if err != nil {
		return reconcile.Fail(reasonStorageFailed, err)
	}
	defer os.RemoveAll(tmp)
	dir := filepath.Join(tmp, "content")
	if err := c.Fetch(ctx, l, dir, bucket.FetchOptions{Concurrency: r.Downloads, Timeout: obj.GetTimeout()}); err != nil {
		r.forget(obj)
		return reconcile.Fail(fetchFailureReason(err), fmt.Errorf("fetching revision '%s' from %s: %w", revision, where, err))
	}

	// The listing applied the ignore rules already: pack what it selected,
	// exactly, so the revision names the artifact's content.
	key := storage.Key{Kind: bucketStorageKind, Namespace: obj.Namespace, Name: obj.Name}
	a, err := r.Storage.Archive(ctx, key, dir, revision, archive.Options{NoDefaultIgnore: true, NoIgnoreFile: true})
	if err != nil {
		err = fmt.Errorf("failed to store artifact for revision '%s': %w", revision, err)
		conditions.MarkFalse(obj, artifactInStorage, reasonStorageFailed, "%s", err)
		return reconcile.Fail(reasonStorageFailed, err)
	}
	obj.Status.Artifact = &a
	obj.Status.URL = a.URL
	obj.Status.ObservedIgnore = copyString(obj.Spec.Ignore)
	log.Info("stored artifact", "revision", a.Revision, "digest", a.Digest, "objects", len(l.Objects), "ignored", l.Ignored)
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

// listFailure turns a failed listing into the object's conditions: refused
// credentials are AuthenticationFailed, an invalid bucket name stalls, the
// rest (a missing bucket, hostile keys, limits, the network) is retried,
// since the bucket's content or the endpoint may change.
func listFailure(where string, err error) error {
	err = fmt.Errorf("listing %s: %w", where, err)
	switch {
	case errors.Is(err, bucket.ErrInvalidOptions):
		return reconcile.Stall(reasonInvalidSpec, err)
	case errors.Is(err, bucket.ErrAccessDenied):
		return reconcile.Fail(reasonAuthFailed, err)
	}
	return reconcile.Fail(reasonFetchFailed, err)
}

func fetchFailureReason(err error) string {
	if errors.Is(err, bucket.ErrAccessDenied) {
		return reasonAuthFailed
	}
	return reasonFetchFailed
}

// clientOptions builds the client's options from the spec and its Secrets:
// plain HTTP (spec.insecure), the region, the static credentials
// (spec.secretRef), TLS (spec.certSecretRef) and the proxy
// (spec.proxySecretRef). Every secret value read is masked in rep.
func (r *BucketReconciler) clientOptions(ctx context.Context, obj *sourcev1.Bucket, rep *controllers.Reporter) ([]bucket.Option, error) {
	opts := []bucket.Option{bucket.WithInsecure(obj.Spec.Insecure)}
	if obj.Spec.Region != "" {
		opts = append(opts, bucket.WithRegion(obj.Spec.Region))
	}
	if ref := obj.Spec.SecretRef; ref != nil {
		s, err := getSecret(ctx, r.Client, obj.Namespace, ref.Name)
		if err != nil {
			return nil, err
		}
		maskSecret(rep, s)
		value := func(k string) string { return strings.TrimSpace(string(s.Data[k])) }
		access, secret := value(accessKeyKey), value(secretKeyKey)
		for k, v := range map[string]string{accessKeyKey: access, secretKeyKey: secret} {
			if v == "" {
				return nil, fmt.Errorf("secret '%s/%s': key '%s' is missing or empty", s.Namespace, s.Name, k)
			}
		}
		opts = append(opts, bucket.WithStaticCredentials(access, secret, value(sessionTokenKey)))
	}
	if ref := obj.Spec.CertSecretRef; ref != nil {
		s, err := getSecret(ctx, r.Client, obj.Namespace, ref.Name)
		if err != nil {
			return nil, err
		}
		maskSecret(rep, s)
		t, err := secrets.TLSFromSecret(s)
		if err != nil {
			return nil, err
		}
		cfg := t.Config()
		if cfg.RootCAs != nil {
			opts = append(opts, bucket.WithRootCAs(cfg.RootCAs))
		}
		for _, cert := range cfg.Certificates {
			opts = append(opts, bucket.WithClientCertificate(cert))
		}
	}
	if ref := obj.Spec.ProxySecretRef; ref != nil {
		u, err := proxyURL(ctx, r.Client, obj.Namespace, ref.Name, rep)
		if err != nil {
			return nil, err
		}
		opts = append(opts, bucket.WithProxy(u))
	}
	return opts, nil
}

// maskSecret masks every value of s.
func maskSecret(rep *controllers.Reporter, s *corev1.Secret) {
	for _, v := range s.Data {
		if t := strings.TrimSpace(string(v)); t != "" {
			rep.Mask(t)
		}
	}
}

// previous returns the last listing of obj, if any.
func (r *BucketReconciler) previous(obj *sourcev1.Bucket) *bucket.Listing {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.listings[obj.UID]
}

func (r *BucketReconciler) remember(obj *sourcev1.Bucket, l *bucket.Listing) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.listings == nil {
		r.listings = map[types.UID]*bucket.Listing{}
	}
	r.listings[obj.UID] = l
}

func (r *BucketReconciler) forget(obj *sourcev1.Bucket) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.listings, obj.UID)
}

// finalize removes the object's artifacts and its kept listing; the
// Lifecycle then removes the finalizer.
func (r *BucketReconciler) finalize(ctx context.Context, obj *sourcev1.Bucket, _ *controllers.Reporter) error {
	r.forget(obj)
	key := storage.Key{Kind: bucketStorageKind, Namespace: obj.Namespace, Name: obj.Name}
	if err := r.Storage.Remove(ctx, key); err != nil {
		return fmt.Errorf("removing artifacts of %s: %w", key, err)
	}
	return nil
}
