package release

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	chart "helm.sh/helm/v4/pkg/chart/v2"
	rel "helm.sh/helm/v4/pkg/release/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitopskit/kit/helmutil/values"
	"github.com/gitopskit/kit/ssa"
)

// Request is what a controller wants of one release.
type Request struct {
	Release Ref
	// Chart is the chart to release. It is not modified (Helm's actions
	// get a copy).
	Chart *chart.Chart
	// ChartDigest identifies the chart artifact ("sha256:…"), so that the
	// same chart version with other content is an upgrade. Optional.
	ChartDigest string
	// Values are the release's values (values.Result.Values).
	Values map[string]any
	// ValuesChecksum is values.Result.Checksum; computed when empty.
	ValuesChecksum string
	// Sensitive are values masked in every error, log line and diff
	// (values.Result.Sensitive).
	Sensitive []string
	Spec      Spec
	// Force asks for an upgrade even when the release is in sync or has
	// no retry left (a HelmRelease's force request).
	Force bool
}

func (req *Request) validate() error {
	if err := validateName(req.Release.Name); err != nil {
		return err
	}
	if req.Release.Namespace == "" {
		return fmt.Errorf("%w: the release namespace is empty", ErrInvalidSpec)
	}
	if req.Chart == nil || req.Chart.Metadata == nil {
		return fmt.Errorf("%w: no chart", ErrInvalidSpec)
	}
	return req.Spec.Validate()
}

func (req *Request) valuesChecksum() (string, error) {
	if req.ValuesChecksum != "" {
		return req.ValuesChecksum, nil
	}
	return values.Checksum(req.Values)
}

// ConfigDigest is the digest of what a release is made from: the chart's
// name, version and digest, the values checksum and the post-render. Two
// requests with the same digest make the same release, so a release whose
// ConfigDigestLabel holds the request's digest needs no upgrade. It is 62
// hexadecimal characters (a label value holds at most 63).
func (req *Request) ConfigDigest() (string, error) {
	sum, err := req.valuesChecksum()
	if err != nil {
		return "", err
	}
	var name, version string
	if req.Chart != nil && req.Chart.Metadata != nil {
		name, version = req.Chart.Metadata.Name, req.Chart.Metadata.Version
	}
	b, err := json.Marshal(struct {
		Name, Version, Digest, Values string
		PostRender                    PostRender
	}{name, version, req.ChartDigest, sum, req.Spec.PostRender})
	if err != nil {
		return "", err
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])[:62], nil
}

// Outcome is what a Step did.
type Outcome struct {
	// Decision is what the state machine decided (after drift detection,
	// when it ran).
	Decision Decision
	// Current is the release's newest revision after the step, nil when
	// there is none.
	Current *Snapshot
	// Drift is the drift detection's report, when it ran.
	Drift *DriftReport
	// Inventory lists the objects of the current revision's manifest (not
	// its hooks), nil when there is no revision.
	Inventory *ssa.Inventory
}

// Done reports whether nothing remains to be done until something changes:
// the release is in sync, stalled, waiting to retry, or drifted with drift
// detection warning only.
func (o Outcome) Done() bool { return o.Decision.Done() }

// Step observes the release, decides the next action with Plan and runs
// it: one step of the state machine. It updates st (history, counters) and
// a controller stores st in its status, even when Step fails, then calls
// Step again (in the same reconcile or the next) until Outcome.Done.
//
// A failed action returns an *ActionError (masked, classified). When ctx
// ends during an action, the action is cancelled: Helm marks its revision
// failed, no further request is sent, the failure is not counted against
// the desired state, and the next Step carries on from there. A release
// left pending-* by a process that died is unlocked by the next Step.
func (r *Runner) Step(ctx context.Context, req Request, st *Status) (Outcome, error) {
	if err := req.validate(); err != nil {
		return Outcome{}, err
	}
	digest, err := req.ConfigDigest()
	if err != nil {
		return Outcome{}, fmt.Errorf("%w: values: %v", ErrInvalidSpec, err)
	}
	obs, hist, err := r.observe(ctx, req.Release, req.Sensitive)
	if err != nil {
		return Outcome{}, err
	}
	in := Input{Release: req.Release, Observed: obs, ConfigDigest: digest, Spec: req.Spec, Status: *st, Force: req.Force}
	d := Plan(in)
	if d.Action == ActionDetectDrift {
		obs.Drift, err = r.detectDrift(ctx, req, hist[len(hist)-1])
		if err != nil {
			return Outcome{Decision: d, Current: obs.Current}, err
		}
		in.Observed = obs
		d = Plan(in)
	}
	if d.ResetFailures {
		st.ResetFailures()
	}
	out := Outcome{Decision: d, Drift: obs.Drift}
	var cur *rel.Release
	if len(hist) > 0 {
		cur = hist[len(hist)-1]
	}
	switch d.Action {
	case ActionInstall, ActionUpgrade:
		err = r.release(ctx, d.Action, req, digest, cur, st)
	case ActionTest:
		err = r.test(ctx, req, cur, st)
	case ActionRollback:
		err = r.rollback(ctx, req, d.RollbackTo, st)
	case ActionUninstall:
		err = r.uninstall(ctx, d.Release, req.Spec, req.Sensitive, d.Remediation, st)
		if err == nil && d.State == StateMoved {
			st.History, st.StorageNamespace = nil, ""
		}
	case ActionUnlock:
		err = r.unlock(ctx, req, cur)
	case ActionCorrectDrift:
		err = r.correctDrift(ctx, req, cur, obs.Drift)
	}
	if d.Action == ActionNone || d.Action == ActionCorrectDrift {
		out.Current, out.Inventory = obs.Current, r.inventory(ctx, req.Release, cur)
		if obs.Current != nil && st.Latest() != nil && st.Latest().Version == obs.Current.Version {
			st.record(*obs.Current, req.Spec.maxHistory())
			st.refresh(snapshots(hist))
		}
		return out, err
	}
	// What the action left behind, read with a context of its own: a
	// cancelled action still has its outcome recorded.
	after, herr := r.history(context.WithoutCancel(ctx), req.Release)
	if herr != nil {
		return out, errors.Join(err, herr)
	}
	if len(after) > 0 && d.State != StateMoved {
		latest := after[len(after)-1]
		snap := snapshot(latest)
		if (d.Action == ActionInstall || d.Action == ActionUpgrade) && (cur == nil || latest.Version != cur.Version) {
			snap.ChartDigest, snap.ValuesChecksum = req.ChartDigest, st.LastAttemptedValuesChecksum
		}
		st.record(*snap, req.Spec.maxHistory())
		st.refresh(snapshots(after))
		var ae *ActionError
		if errors.As(err, &ae) && ae.Revision == 0 && ae.Release == req.Release {
			ae.Revision = latest.Version
		}
		st.StorageNamespace = req.Release.storageNamespace()
		out.Current = snap
		out.Inventory = r.inventory(ctx, req.Release, latest)
	}
	return out, err
}

func snapshots(recs []*rel.Release) []*Snapshot {
	out := make([]*Snapshot, len(recs))
	for i, r := range recs {
		out[i] = snapshot(r)
	}
	return out
}

// Observe reads the release from its storage and returns what Plan needs,
// without drift detection (Step runs it when Plan asks).
func (r *Runner) Observe(ctx context.Context, ref Ref) (Observed, error) {
	if err := validateName(ref.Name); err != nil {
		return Observed{}, err
	}
	obs, _, err := r.observe(ctx, ref, nil)
	return obs, err
}

func (r *Runner) observe(ctx context.Context, ref Ref, sensitive []string) (Observed, []*rel.Release, error) {
	hist, err := r.history(ctx, ref)
	if err != nil {
		return Observed{}, nil, err
	}
	obs := Observed{Now: r.clock()}
	if len(hist) > 0 {
		obs.Current = snapshot(hist[len(hist)-1])
		obs.RollbackTarget = rollbackTarget(hist)
	}
	return obs, hist, nil
}

// history reads the release's records from its storage namespace.
func (r *Runner) history(ctx context.Context, ref Ref) ([]*rel.Release, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	hist, err := history(r.storage(ref, 0, nil), ref.Name)
	if err != nil {
		return nil, fmt.Errorf("reading the records of release %s: %w", ref, err)
	}
	return hist, nil
}

// countFailure records a failed install or upgrade (or test after one).
func (r *Runner) countFailure(st *Status, a Action) {
	st.Failures++
	switch a {
	case ActionInstall:
		st.InstallFailures++
	default:
		st.UpgradeFailures++
	}
	now := metav1.NewTime(r.clock())
	st.LastFailureTime = &now
}

// interrupted reports whether err is ctx's end rather than the action's
// own failure (an action timeout is a failure).
func interrupted(ctx context.Context, err error) bool {
	return err != nil && ctx.Err() != nil
}
