package helm

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/record"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crreconcile "sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/gitopskit/kit/artifact/fetch"
	"github.com/gitopskit/kit/helmutil/release"
	"github.com/gitopskit/kit/helmutil/values"
	"github.com/gitopskit/kit/runtime/acl"
	"github.com/gitopskit/kit/runtime/conditions"
	"github.com/gitopskit/kit/runtime/metrics"
	"github.com/gitopskit/kit/runtime/reconcile"

	helmv1 "github.com/gitopskit/kit/examples/api/helm/v1"
	sourcev1 "github.com/gitopskit/kit/examples/api/source/v1"
	controllers "github.com/gitopskit/kit/examples/internal/controller"
)

// Finalizer holds a HelmRelease until its release is uninstalled.
const Finalizer = "helm.gitopskit.dev/finalizer"

// ControllerName is the controller-runtime name of the HelmRelease
// controller, unique within a manager.
const ControllerName = "helmrelease"

// Ready=False reasons of this controller, besides runtime/conditions'.
const (
	// ArtifactFailedReason: the chart's source is missing, has no artifact
	// yet, or its artifact cannot be downloaded or is over the size limit.
	ArtifactFailedReason = "ArtifactFailed"
	// ChartLoadFailedReason: the chart package is not a valid chart.
	ChartLoadFailedReason = "ChartLoadFailed"
	// ValuesFailedReason: a valuesFrom reference is missing or invalid,
	// or spec.values is.
	ValuesFailedReason = "ValuesFailed"
	// InstallFailedReason, UpgradeFailedReason, TestFailedReason,
	// RollbackFailedReason and UninstallFailedReason: a Helm action
	// failed (the chart did not render, the cluster refused an object, a
	// wait or hook timed out, the impersonated account lacks a right).
	InstallFailedReason   = "InstallFailed"
	UpgradeFailedReason   = "UpgradeFailed"
	TestFailedReason      = "TestFailed"
	RollbackFailedReason  = "RollbackFailed"
	UninstallFailedReason = "UninstallFailed"
	// DriftFailedReason: drift could not be detected or corrected.
	DriftFailedReason = "DriftDetectionFailed"
	// ReleaseFailedReason: the release's records could not be read or
	// unlocked (often: the impersonated account may not read them).
	ReleaseFailedReason = "ReleaseFailed"
	// AccessDeniedReason: a cross-namespace reference the policy forbids.
	AccessDeniedReason = "AccessDenied"
	// InvalidSpecReason: the spec cannot be acted upon until it changes.
	InvalidSpecReason = "InvalidSpec"
)

// Reasons of the Normal events and of the Released, TestSuccess and
// Remediated conditions.
const (
	InstallSucceededReason   = "InstallSucceeded"
	UpgradeSucceededReason   = "UpgradeSucceeded"
	TestSucceededReason      = "TestSucceeded"
	RollbackSucceededReason  = "RollbackSucceeded"
	UninstallSucceededReason = "UninstallSucceeded"
	DriftCorrectedReason     = "DriftCorrected"
	DriftDetectedReason      = "DriftDetected"
)

// ownedConditions are the condition types this controller writes.
var ownedConditions = []string{conditions.Ready, conditions.Reconciling, conditions.Stalled,
	helmv1.ReleasedCondition, helmv1.TestSuccessCondition, helmv1.RemediatedCondition, helmv1.DriftedCondition}

// HelmReleaseReconciler reconciles HelmReleases with helmutil: the chart
// of a HelmChart or OCIRepository artifact, values composed from
// spec.values and spec.valuesFrom, and the release driven by
// helmutil/release's state machine.
type HelmReleaseReconciler struct {
	// Client is the manager's client: it reads HelmReleases and sources
	// (cached) and writes HelmReleases and HelmCharts.
	Client client.Client
	// APIReader reads the ConfigMaps and Secrets of spec.valuesFrom
	// straight from the API server; the manager's APIReader.
	APIReader client.Reader
	// Config is the base rest.Config of Helm's actions, impersonating
	// spec.serviceAccountName when set.
	Config *rest.Config
	// Fetcher downloads chart artifacts and checks their digests.
	Fetcher *fetch.Fetcher
	// ACL decides which cross-namespace chart and dependsOn references
	// are allowed; the zero Policy denies them all.
	ACL acl.Policy
	// Concurrency is how many HelmReleases are reconciled in parallel; 0
	// means 1.
	Concurrency int
	// Metrics records each reconcile; nil records nothing.
	Metrics *metrics.Recorder
	// Events records the release's lifecycle; nil records none.
	Events record.EventRecorder
	// DefaultServiceAccount, when set, is impersonated by HelmReleases
	// without spec.serviceAccountName.
	DefaultServiceAccount string
	// DependencyRequeue is how soon a HelmRelease waiting for a
	// dependency checks again; zero means its retry interval.
	DependencyRequeue time.Duration
	// MaxChartSize bounds a chart package and its uncompressed files;
	// DefaultMaxChartSize when zero.
	MaxChartSize int64
	// Selector, when set, limits the reconciler to the HelmReleases whose
	// labels match (sharding, as Flux's --watch-label-selector).
	Selector labels.Selector

	suspension controllers.Suspension
	runners    *runners
	charts     chartCache
}

// Reconcile brings one HelmRelease in line with its spec.
func (r *HelmReleaseReconciler) Reconcile(ctx context.Context, req crreconcile.Request) (crreconcile.Result, error) {
	return controllers.Lifecycle[*helmv1.HelmRelease]{
		Client:          r.Client,
		Metrics:         r.Metrics,
		Events:          r.Events,
		Suspension:      &r.suspension,
		Finalizer:       Finalizer,
		OwnedConditions: ownedConditions,
		RetryInterval:   (*helmv1.HelmRelease).GetRetryInterval,
		Finalize:        r.finalize,
		Reconcile: func(ctx context.Context, obj *helmv1.HelmRelease, rep *controllers.Reporter) (conditions.Summary, error) {
			return summary(obj), r.reconcile(ctx, obj, rep)
		},
	}.Run(ctx, req, &helmv1.HelmRelease{})
}

// summary is how Ready follows from Released and TestSuccess (a failed
// test counts unless its failures are ignored).
func summary(obj *helmv1.HelmRelease) conditions.Summary {
	s := conditions.Summary{Owned: []string{helmv1.ReleasedCondition}}
	if t := obj.Spec.Test; t != nil && t.Enable && !t.IgnoreFailures {
		s.Owned = append(s.Owned, helmv1.TestSuccessCondition)
	}
	return s
}

// reconcile resolves the chart, waits for dependencies, composes the
// values and runs the release's state machine until it is done.
func (r *HelmReleaseReconciler) reconcile(ctx context.Context, obj *helmv1.HelmRelease, rep *controllers.Reporter) error {
	var force, reset bool
	if req, ok := reconcile.GetRequest(obj); ok && req.Pending(obj.Status.LastHandledReconcileAt) {
		force, reset = req.Force(), req.Reset()
	}
	src, err := r.chartSource(ctx, obj)
	if err != nil {
		return err
	}
	deps := controllers.Dependencies{Client: r.Client, Scheme: r.Client.Scheme(), ACL: r.ACL}
	if err := deps.Check(ctx, obj, helmv1.HelmReleaseKind, obj.Spec.DependsOn, r.dependencyRequeue(obj)); err != nil {
		return err
	}
	art := src.GetArtifact()
	if art == nil || art.URL == "" {
		return reconcile.Wait(ArtifactFailedReason, obj.GetRetryInterval(),
			fmt.Errorf("%s '%s/%s' has no artifact yet", kindOf(src), src.GetNamespace(), src.GetName()))
	}
	ch, err := r.loadChart(ctx, art)
	if err != nil {
		return err
	}
	rep.SetRevision(ch.Metadata.Version)

	inline, err := inlineValues(obj)
	if err != nil {
		return reconcile.Stall(InvalidSpecReason, err)
	}
	vals, err := values.Compose(ctx, r.APIReader, valuesReferences(obj), inline, values.Options{Namespace: obj.Namespace})
	if err != nil {
		return reconcile.Fail(ValuesFailedReason, fmt.Errorf("composing values: %w", err))
	}
	rep.Mask(vals.Sensitive...)

	runner, err := r.runner(obj)
	if err != nil {
		return err
	}
	req := release.Request{
		Release: releaseRef(obj), Chart: ch, ChartDigest: string(art.Digest),
		Values: vals.Values, ValuesChecksum: vals.Checksum, Sensitive: vals.Sensitive,
		Spec: releaseSpec(obj), Force: force,
	}
	if err := req.Spec.Validate(); err != nil {
		return reconcile.Stall(InvalidSpecReason, err)
	}
	if reset {
		obj.Status.ResetFailures()
	}
	digest, err := req.ConfigDigest()
	if err != nil {
		return reconcile.Stall(InvalidSpecReason, err)
	}
	// Real work shows in the status while it runs; a re-check of a
	// release in sync stays silent and writes nothing.
	if latest := obj.Status.Latest(); force || reset || !controllers.Steady(obj) || latest == nil ||
		latest.ConfigDigest != digest || latest.Status != "deployed" {
		rep.Progress(ctx, "reconciling release %s with chart %s@%s", req.Release, ch.Metadata.Name, ch.Metadata.Version)
	}
	return r.run(ctx, obj, rep, runner, req)
}

// runner returns the Runner of the HelmRelease's identity.
func (r *HelmReleaseReconciler) runner(obj *helmv1.HelmRelease) (*release.Runner, error) {
	sa := obj.Spec.ServiceAccountName
	if sa == "" {
		sa = r.DefaultServiceAccount
	}
	user := ""
	if sa != "" {
		user = serviceAccountUser(obj.Namespace, sa)
	}
	rn, err := r.runners.get(user)
	if err != nil {
		return nil, reconcile.Fail(ReleaseFailedReason, err)
	}
	return rn, nil
}

// dependencyRequeue is how soon a HelmRelease waiting for a dependency
// checks again.
func (r *HelmReleaseReconciler) dependencyRequeue(obj *helmv1.HelmRelease) time.Duration {
	if r.DependencyRequeue > 0 {
		return r.DependencyRequeue
	}
	return obj.GetRetryInterval()
}

// finalize uninstalls the release, unless the HelmRelease is suspended,
// and deletes the HelmChart made from spec.chart.
func (r *HelmReleaseReconciler) finalize(ctx context.Context, obj *helmv1.HelmRelease, rep *controllers.Reporter) error {
	if !obj.Spec.Suspend && obj.Status.Latest() != nil {
		runner, err := r.runner(obj)
		if err != nil {
			return err
		}
		ref := releaseRef(obj)
		if h := obj.Status.Latest(); h != nil {
			// The release as last made, wherever the spec now points.
			ref = release.Ref{Name: h.Name, Namespace: h.Namespace, StorageNamespace: obj.Status.StorageNamespace}
		}
		rep.Progress(ctx, "uninstalling release %s", ref)
		if err := runner.Uninstall(ctx, ref, releaseSpec(obj), &obj.Status.Status); err != nil {
			if ae := (*release.ActionError)(nil); errors.As(err, &ae) {
				return reconcile.Fail(UninstallFailedReason, err) // names the release already
			}
			return reconcile.Fail(UninstallFailedReason, fmt.Errorf("uninstalling release %s: %w", ref, err))
		}
		rep.Eventf(corev1.EventTypeNormal, UninstallSucceededReason, "Helm uninstall succeeded for release %s", ref)
		obj.Status.Inventory = nil
	}
	if obj.Status.HelmChart != "" && obj.Spec.Chart != nil {
		if err := r.deleteHelmChart(ctx, obj, obj.Status.HelmChart); err != nil {
			return err
		}
	}
	return nil
}

func kindOf(o client.Object) string {
	switch o.(type) {
	case *sourcev1.HelmChart:
		return sourcev1.HelmChartKind
	case *sourcev1.OCIRepository:
		return sourcev1.OCIRepositoryKind
	}
	return o.GetObjectKind().GroupVersionKind().Kind
}
