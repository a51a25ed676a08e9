package image

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"

	imagev1 "github.com/gitopskit/kit/examples/api/image/v1"
	sourcev1 "github.com/gitopskit/kit/examples/api/source/v1"
	controllers "github.com/gitopskit/kit/examples/internal/controller"
	"github.com/gitopskit/kit/examples/internal/controller/source"
	"github.com/gitopskit/kit/oci"
	"github.com/gitopskit/kit/runtime/conditions"
	"github.com/gitopskit/kit/runtime/metrics"
	"github.com/gitopskit/kit/runtime/reconcile"
)

// DefaultMaxTags bounds the tags one scan reads.
const DefaultMaxTags = 50_000

// latestTagsCount is the number of tags status.lastScanResult.latestTags
// shows.
const latestTagsCount = 10

// ImageRepositoryReconciler scans the tags of every ImageRepository into
// Tags, and records a digest of them (status.lastScanResult.revision) so
// that ImagePolicies re-evaluate exactly when the tags change.
type ImageRepositoryReconciler struct {
	// Client is the manager's client.
	Client client.Client
	// Tags keeps the tags of each repository's last scan; shared with the
	// ImagePolicyReconciler.
	Tags *TagStore
	// MaxTags bounds the tags of one scan (DefaultMaxTags when 0): a
	// registry listing more is a failed scan.
	MaxTags int
	// Concurrency is the number of objects reconciled in parallel; 0 means 1.
	Concurrency int
	// Metrics records each reconcile; nil records nothing.
	Metrics *metrics.Recorder
	// Events records what the reconciler does; nil records none.
	Events record.EventRecorder

	suspension controllers.Suspension
}

// SetupWithManager registers the reconciler as the "imagerepository"
// controller of mgr. It reconciles on creation, deletion, spec changes,
// reconcile requests and every spec.interval.
func (r *ImageRepositoryReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Client == nil || r.Tags == nil {
		return errors.New("imagerepository reconciler: Client and Tags are required")
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("imagerepository").
		For(&imagev1.ImageRepository{}, builder.WithPredicates(reconcile.GenerationOrRequestChanged())).
		WithOptions(controller.Options{MaxConcurrentReconciles: max(1, r.Concurrency)}).
		Complete(r)
}

// Reconcile scans one ImageRepository.
func (r *ImageRepositoryReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	return controllers.Lifecycle[*imagev1.ImageRepository]{
		Client:          r.Client,
		Metrics:         r.Metrics,
		Events:          r.Events,
		Suspension:      &r.suspension,
		Finalizer:       Finalizer,
		OwnedConditions: ownedConditions,
		Finalize: func(_ context.Context, obj *imagev1.ImageRepository, _ *controllers.Reporter) error {
			r.Tags.Delete(obj.UID)
			return nil
		},
		Reconcile: r.reconcile,
	}.Run(ctx, req, &imagev1.ImageRepository{})
}

func (r *ImageRepositoryReconciler) reconcile(ctx context.Context, obj *imagev1.ImageRepository, rep *controllers.Reporter) (conditions.Summary, error) {
	var s conditions.Summary
	canonical, err := canonicalImage(obj.Spec.Image)
	if err != nil {
		return s, reconcile.Stall(reasonInvalidImage, err)
	}
	exclude := obj.GetExclusionList()
	for _, x := range exclude {
		if _, err := regexp.Compile(x); err != nil {
			return s, reconcile.Stall(reasonInvalidExclusion, fmt.Errorf("spec.exclusionList: %q is not a regular expression: %w", x, err))
		}
	}
	obj.Status.CanonicalImageName = canonical

	timeout := obj.GetTimeout()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, repo, err := registryClient(ctx, r.Client, obj, canonical, rep)
	if err != nil {
		return s, err
	}
	if !controllers.Steady(obj) {
		rep.Progress(ctx, "scanning the tags of '%s'", canonical)
	}
	tags, err := c.List(ctx, repo, oci.ListOptions{Exclude: exclude, Limit: r.maxTags()})
	if err != nil {
		err = explainTimeout(ctx, "the scan", timeout, err)
		reason := reasonScanFailed
		if errors.Is(err, oci.ErrUnauthorized) {
			reason = reasonAuthFailed
		}
		return s, reconcile.Fail(reason, fmt.Errorf("scanning the tags of '%s': %w", canonical, err))
	}
	revision := tagsRevision(tags)
	r.Tags.Put(obj.UID, revision, tags)

	prev := obj.Status.LastScanResult
	obj.Status.LastScanResult = &imagev1.ScanResult{
		Revision:   revision,
		TagCount:   len(tags),
		ScanTime:   metav1.Now(),
		LatestTags: latestTags(tags),
	}
	obj.Status.ObservedExclusionList = slices.Clone(exclude)
	if prev == nil || prev.Revision != revision {
		rep.Eventf(corev1.EventTypeNormal, "Scanned", "found %d tags of '%s'", len(tags), canonical)
	}
	conditions.MarkTrue(obj, conditions.Ready, conditions.SucceededReason, "successful scan: found %d tags", len(tags))
	return s, nil
}

func (r *ImageRepositoryReconciler) maxTags() int {
	if r.MaxTags > 0 {
		return r.MaxTags
	}
	return DefaultMaxTags
}

// registryClient builds the registry client for obj's registry with the
// options the OCIRepository reconciler builds from the same fields.
func registryClient(ctx context.Context, c client.Client, obj *imagev1.ImageRepository, canonical string, rep *controllers.Reporter) (*oci.Client, string, error) {
	as := &sourcev1.OCIRepository{
		ObjectMeta: metav1.ObjectMeta{Namespace: obj.Namespace, Name: obj.Name},
		Spec: sourcev1.OCIRepositorySpec{
			URL:            "oci://" + canonical,
			SecretRef:      obj.Spec.SecretRef,
			CertSecretRef:  obj.Spec.CertSecretRef,
			ProxySecretRef: obj.Spec.ProxySecretRef,
			Insecure:       obj.Spec.Insecure,
			Timeout:        obj.Spec.Timeout,
		},
	}
	opts, repo, err := source.RegistryClientOptions(ctx, c, as, rep)
	if err != nil {
		return nil, "", reconcile.Fail(reasonAuthFailed, err)
	}
	cl, err := oci.NewClient(opts...)
	if err != nil {
		return nil, "", reconcile.Stall(reasonInvalidImage, err)
	}
	return cl, repo, nil
}

// canonicalImage returns the full name of an image repository: Docker
// Hub's host and library/ prefix filled in for short names. A tag, a
// digest, a scheme or credentials are refused.
func canonicalImage(image string) (string, error) {
	if image == "" || strings.Contains(image, "://") || strings.Contains(image, "@") {
		return "", fmt.Errorf("spec.image must be host/path without scheme, credentials or digest")
	}
	if i := strings.LastIndexByte(image, ':'); i > strings.LastIndexByte(image, '/') {
		return "", fmt.Errorf("spec.image %q holds a tag; name the repository only", image)
	}
	first, rest, found := strings.Cut(image, "/")
	if !found || !strings.ContainsAny(first, ".:") && first != "localhost" {
		if !found {
			return "index.docker.io/library/" + image, nil
		}
		return "index.docker.io/" + image, nil
	}
	if rest == "" {
		return "", fmt.Errorf("spec.image %q names a host but no repository", image)
	}
	if first == "docker.io" {
		return "index.docker.io/" + rest, nil
	}
	return image, nil
}

// tagsRevision is a digest of the sorted tags: it changes exactly when the
// set of tags does.
func tagsRevision(tags []string) string {
	sorted := slices.Clone(tags)
	slices.Sort(sorted)
	h := sha256.New()
	for _, t := range sorted {
		h.Write([]byte(t))
		h.Write([]byte{'\n'})
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// latestTags returns the latestTagsCount highest tags in lexical order,
// highest first.
func latestTags(tags []string) []string {
	sorted := slices.Clone(tags)
	slices.Sort(sorted)
	slices.Reverse(sorted)
	return sorted[:min(latestTagsCount, len(sorted))]
}
