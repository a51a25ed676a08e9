package helm

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/go-logr/logr"

	"github.com/gitopskit/kit/helmutil/release"
	"github.com/gitopskit/kit/runtime/conditions"
	"github.com/gitopskit/kit/runtime/reconcile"
	"github.com/gitopskit/kit/ssa"

	helmv1 "github.com/gitopskit/kit/examples/api/helm/v1"
	kustomizev1 "github.com/gitopskit/kit/examples/api/kustomize/v1"
	controllers "github.com/gitopskit/kit/examples/internal/controller"
)

// maxSteps bounds the state machine's steps in one reconcile: an install
// or upgrade, its test, a remediation and drift detection fit many times.
const maxSteps = 12

// run steps the release's state machine until it is done, a failure was
// remediated (retried on the retry interval), or an error ends the
// reconcile. The state machine's Status is stored in obj's status after
// every step, also after an error.
func (r *HelmReleaseReconciler) run(ctx context.Context, obj *helmv1.HelmRelease, rep *controllers.Reporter, runner *release.Runner, req release.Request) error {
	chartID := req.Chart.Metadata.Name + "@" + req.Chart.Metadata.Version
	var failure error // the last failed install, upgrade or test of this reconcile
	for range maxSteps {
		out, err := runner.Step(ctx, req, &obj.Status.Status)
		if out.Inventory != nil {
			setInventory(obj, out.Inventory)
		}
		a := out.Decision.Action
		if a == release.ActionInstall || a == release.ActionUpgrade {
			obj.Status.LastAttemptedGeneration = obj.Generation
			req.Force = false // a force request asks for one upgrade
		}
		if err != nil {
			if ctx.Err() != nil {
				// Interrupted (gitopsd is stopping): Helm marked the
				// revision failed, not counted; the next reconcile
				// carries on from there.
				return err
			}
			if errors.Is(err, release.ErrInvalidSpec) || errors.Is(err, release.ErrInvalidName) {
				return reconcile.Stall(InvalidSpecReason, err)
			}
			reason := failedReason(a)
			switch a {
			case release.ActionInstall, release.ActionUpgrade:
				conditions.MarkFalse(obj, helmv1.ReleasedCondition, reason, "%s", err.Error())
				conditions.Delete(obj, helmv1.TestSuccessCondition)
				failure = reconcile.Fail(reason, err)
				continue // the next step decides: remediate, retry or stall
			case release.ActionTest:
				conditions.MarkFalse(obj, helmv1.TestSuccessCondition, reason, "%s", err.Error())
				failure = reconcile.Fail(reason, err)
				continue
			}
			if apierrors.IsForbidden(err) {
				return reconcile.Fail(ReleaseFailedReason, err)
			}
			return reconcile.Fail(reason, err)
		}
		r.recordStep(ctx, obj, rep, out, chartID)
		if out.Decision.Remediation {
			// Retried on the retry interval (or stalled then, when no
			// retry remains).
			if failure == nil {
				failure = reconcile.Fail(ReleaseFailedReason, errors.New(out.Decision.Reason))
			}
			return failure
		}
		if !out.Done() {
			continue
		}
		switch d := out.Decision; {
		case d.Stalled:
			reason := ReleaseFailedReason
			if c := conditions.Get(obj, helmv1.ReleasedCondition); c != nil && c.Status == metav1.ConditionFalse {
				reason = c.Reason
			}
			if c := conditions.Get(obj, helmv1.TestSuccessCondition); c != nil && c.Status == metav1.ConditionFalse && d.State == release.StateTestFailed {
				reason = c.Reason
			}
			msg := d.Reason
			if failure != nil {
				msg = failure.Error() + "; " + d.Reason
			}
			return reconcile.Stall(reason, errors.New(msg))
		case d.RequeueAfter > 0:
			reason := failedReason(obj.Status.LastAttemptedAction)
			return reconcile.Wait(reason, d.RequeueAfter, errors.New(d.Reason))
		}
		return r.ready(obj, rep, out, chartID)
	}
	return reconcile.Wait(conditions.ProgressingReason, time.Second, fmt.Errorf("release %s: still acting after %d steps", req.Release, maxSteps))
}

// recordStep records the outcome of a successful step: conditions and a
// Normal event naming the chart version.
func (r *HelmReleaseReconciler) recordStep(ctx context.Context, obj *helmv1.HelmRelease, rep *controllers.Reporter, out release.Outcome, chartID string) {
	d := out.Decision
	rev := ""
	if out.Current != nil {
		rev = fmt.Sprintf(".v%d", out.Current.Version)
	}
	name := d.Release.Namespace + "/" + d.Release.Name + rev
	switch d.Action {
	case release.ActionInstall:
		msg := fmt.Sprintf("Helm install succeeded for release %s with chart %s", name, chartID)
		conditions.MarkTrue(obj, helmv1.ReleasedCondition, InstallSucceededReason, "%s", msg)
		conditions.Delete(obj, helmv1.RemediatedCondition)
		conditions.Delete(obj, helmv1.TestSuccessCondition)
		rep.Eventf(corev1.EventTypeNormal, InstallSucceededReason, "%s", msg)
	case release.ActionUpgrade:
		msg := fmt.Sprintf("Helm upgrade succeeded for release %s with chart %s", name, chartID)
		conditions.MarkTrue(obj, helmv1.ReleasedCondition, UpgradeSucceededReason, "%s", msg)
		conditions.Delete(obj, helmv1.RemediatedCondition)
		conditions.Delete(obj, helmv1.TestSuccessCondition)
		rep.Eventf(corev1.EventTypeNormal, UpgradeSucceededReason, "%s", msg)
	case release.ActionTest:
		msg := fmt.Sprintf("Helm test succeeded for release %s with chart %s", name, chartID)
		conditions.MarkTrue(obj, helmv1.TestSuccessCondition, TestSucceededReason, "%s", msg)
		rep.Eventf(corev1.EventTypeNormal, TestSucceededReason, "%s", msg)
	case release.ActionRollback:
		msg := fmt.Sprintf("Helm rollback to revision %d succeeded for release %s", d.RollbackTo, d.Release.Namespace+"/"+d.Release.Name)
		conditions.MarkTrue(obj, helmv1.RemediatedCondition, RollbackSucceededReason, "%s", msg)
		rep.Eventf(corev1.EventTypeNormal, RollbackSucceededReason, "%s", msg)
	case release.ActionUninstall:
		msg := fmt.Sprintf("Helm uninstall succeeded for release %s", d.Release.Namespace+"/"+d.Release.Name)
		if d.Remediation {
			conditions.MarkTrue(obj, helmv1.RemediatedCondition, UninstallSucceededReason, "%s", msg)
		}
		rep.Eventf(corev1.EventTypeNormal, UninstallSucceededReason, "%s", msg)
	case release.ActionUnlock:
		logr.FromContextOrDiscard(ctx).Info("unlocked release", "release", name)
	case release.ActionCorrectDrift:
		ids := driftIDs(out.Drift)
		if r.Metrics != nil {
			r.Metrics.RecordDriftCorrected(obj, len(ids))
		}
		rep.Eventf(corev1.EventTypeNormal, DriftCorrectedReason, "corrected drift in %s of release %s", summarise(ids), name)
	}
}

// ready records a release that is done: in sync, or drifted with drift
// detection warning only.
func (r *HelmReleaseReconciler) ready(obj *helmv1.HelmRelease, rep *controllers.Reporter, out release.Outcome, chartID string) error {
	cur := out.Current
	if cur == nil {
		return reconcile.Fail(ReleaseFailedReason, errors.New(out.Decision.Reason))
	}
	if obj.Spec.Test == nil || !obj.Spec.Test.Enable {
		conditions.Delete(obj, helmv1.TestSuccessCondition)
	}
	if !conditions.IsTrue(obj, helmv1.ReleasedCondition) {
		// In sync without an action in this reconcile (taken over, or
		// recorded before a restart).
		conditions.MarkTrue(obj, helmv1.ReleasedCondition, UpgradeSucceededReason,
			"Helm release %s/%s.v%d is deployed with chart %s", cur.Namespace, cur.Name, cur.Version, chartID)
	}
	msg := fmt.Sprintf("Helm release %s/%s.v%d is deployed with chart %s", cur.Namespace, cur.Name, cur.Version, chartID)
	if out.Decision.State == release.StateDrifted {
		ids := driftIDs(out.Drift)
		drift := fmt.Sprintf("drift in %s (driftDetection mode warn)", summarise(ids))
		if c := conditions.Get(obj, helmv1.DriftedCondition); c == nil || c.Message != drift {
			rep.Eventf(corev1.EventTypeWarning, DriftDetectedReason, "%s of release %s/%s", drift, cur.Namespace, cur.Name)
		}
		conditions.MarkTrue(obj, helmv1.DriftedCondition, DriftDetectedReason, "%s", drift)
		msg += "; " + drift
	} else {
		conditions.Delete(obj, helmv1.DriftedCondition)
	}
	conditions.MarkTrue(obj, conditions.Ready, conditions.SucceededReason, "%s", msg)
	return nil
}

// failedReason is the Ready=False reason of a failed action.
func failedReason(a release.Action) string {
	switch a {
	case release.ActionInstall:
		return InstallFailedReason
	case release.ActionUpgrade:
		return UpgradeFailedReason
	case release.ActionTest:
		return TestFailedReason
	case release.ActionRollback:
		return RollbackFailedReason
	case release.ActionUninstall:
		return UninstallFailedReason
	case release.ActionDetectDrift, release.ActionCorrectDrift:
		return DriftFailedReason
	}
	return ReleaseFailedReason
}

// setInventory records inv in status.inventory, in Flux's format.
func setInventory(obj *helmv1.HelmRelease, inv *ssa.Inventory) {
	out := &kustomizev1.ResourceInventory{Entries: make([]kustomizev1.ResourceRef, 0, len(inv.Entries))}
	for _, e := range inv.Entries {
		out.Entries = append(out.Entries, kustomizev1.ResourceRef{ID: e.ID, Version: e.Version})
	}
	obj.Status.Inventory = out
}

func driftIDs(d *release.DriftReport) []string {
	ids := d.IDs()
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = id.String()
	}
	return out
}

// maxListed is how many objects a message names before "and N more".
const maxListed = 5

func summarise(ids []string) string {
	switch n := len(ids); {
	case n == 0:
		return "no objects"
	case n <= maxListed:
		return strings.Join(ids, ", ")
	default:
		return fmt.Sprintf("%s and %d more", strings.Join(ids[:maxListed], ", "), n-maxListed)
	}
}
