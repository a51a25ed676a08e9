package release

import (
	"fmt"
	"slices"
	"time"

	"github.com/gitopskit/kit/ssa"
)

// Action is a step of the state machine.
type Action string

// Actions, named as Flux names its release actions.
const (
	// ActionNone: nothing to do now (in sync, stalled, waiting to retry,
	// drift reported but not corrected).
	ActionNone Action = ""
	// ActionInstall installs the release.
	ActionInstall Action = "install"
	// ActionUpgrade upgrades it (also to retry a failure, and to take over
	// a release helmutil did not make).
	ActionUpgrade Action = "upgrade"
	// ActionTest runs its test hooks.
	ActionTest Action = "test"
	// ActionRollback rolls back to Decision.RollbackTo (a remediation).
	ActionRollback Action = "rollback"
	// ActionUninstall uninstalls Decision.Release (a remediation, or the
	// release's old identity after a rename).
	ActionUninstall Action = "uninstall"
	// ActionUnlock marks a release left pending-* (or uninstalling) by an
	// interrupted action as failed, so that it can be acted upon.
	ActionUnlock Action = "unlock"
	// ActionDetectDrift compares the release's objects with the cluster;
	// it writes nothing, and Step plans again with the result.
	ActionDetectDrift Action = "detect-drift"
	// ActionCorrectDrift applies the drifted objects again.
	ActionCorrectDrift Action = "correct-drift"
)

// State is what the state machine found the release to be.
type State string

// States, from the observed release and the desired state.
const (
	// StateAbsent: no release, or an uninstalled one.
	StateAbsent State = "Absent"
	// StateLocked: pending-install, pending-upgrade, pending-rollback or
	// uninstalling, with no action running (an interrupted one left it).
	StateLocked State = "Locked"
	// StateUnmanaged: a release this Status did not make, or that changed
	// behind its back (helm upgrade by hand).
	StateUnmanaged State = "Unmanaged"
	// StateFailed: the last install, upgrade or rollback failed.
	StateFailed State = "Failed"
	// StateOutOfSync: deployed, but from another chart, chart digest,
	// values or post-render than desired.
	StateOutOfSync State = "OutOfSync"
	// StateUntested: deployed and desired, tests enabled and not run.
	StateUntested State = "Untested"
	// StateTestFailed: deployed and desired, a test failed.
	StateTestFailed State = "TestFailed"
	// StateDrifted: in sync, but objects on the cluster differ from the
	// release's manifest.
	StateDrifted State = "Drifted"
	// StateInSync: nothing to do.
	StateInSync State = "InSync"
	// StateMoved: the release's name or namespaces changed; the old one is
	// uninstalled first.
	StateMoved State = "Moved"
)

// Ref identifies a release.
type Ref struct {
	// Name is the release name (at most 53 characters, DNS-1123).
	Name string
	// Namespace is the release's namespace (a HelmRelease's
	// targetNamespace).
	Namespace string
	// StorageNamespace holds the release's records; Namespace when empty.
	StorageNamespace string
}

func (r Ref) storageNamespace() string {
	if r.StorageNamespace == "" {
		return r.Namespace
	}
	return r.StorageNamespace
}

func (r Ref) String() string {
	if r.storageNamespace() != r.Namespace {
		return fmt.Sprintf("%s/%s (stored in %s)", r.Namespace, r.Name, r.storageNamespace())
	}
	return r.Namespace + "/" + r.Name
}

// Observed is what Observe read from the cluster.
type Observed struct {
	// Now is the time of the observation.
	Now time.Time
	// Current is the newest revision in storage, nil when there is none.
	Current *Snapshot
	// RollbackTarget is the newest deployed or superseded revision older
	// than Current, 0 when there is none.
	RollbackTarget int
	// Drift is the result of drift detection, nil when it did not run.
	Drift *DriftReport
}

// DriftReport lists the objects that differ from the release's manifest.
type DriftReport struct {
	Objects []DriftedObject
}

// DriftedObject is one object that drifted. Paths say where, never what.
type DriftedObject struct {
	ID ssa.ObjectID
	// Action is ssa.ActionCreated for an object missing from the cluster,
	// ssa.ActionConfigured for a changed one.
	Action ssa.Action
	// Paths are the JSON pointers of the fields that differ (empty for a
	// missing object).
	Paths []string
}

// IDs returns the drifted objects' IDs.
func (d *DriftReport) IDs() []ssa.ObjectID {
	if d == nil {
		return nil
	}
	ids := make([]ssa.ObjectID, len(d.Objects))
	for i, o := range d.Objects {
		ids[i] = o.ID
	}
	return ids
}

// Input is everything Plan decides from.
type Input struct {
	Release  Ref
	Observed Observed
	// ConfigDigest is the desired state's (see ConfigDigest).
	ConfigDigest string
	Spec         Spec
	Status       Status
	// Force asks for an upgrade even when the release is in sync or out of
	// retries.
	Force bool
}

// Decision is the next step.
type Decision struct {
	State  State
	Action Action
	// Release is the release the action applies to: the requested one, or
	// its old identity for StateMoved.
	Release Ref
	// Reason explains the decision; it names no value.
	Reason string
	// RollbackTo is the revision ActionRollback restores.
	RollbackTo int
	// Remediation marks a rollback or uninstall that remediates a failure.
	Remediation bool
	// Stalled: no retry remains; nothing happens until the desired state
	// changes, the failure counters are reset, or Force is set.
	Stalled bool
	// RequeueAfter is how long RetryOnFailure waits before the retry.
	RequeueAfter time.Duration
	// ResetFailures: the failure counters no longer apply (a new desired
	// state, or the release is in sync) and are to be cleared.
	ResetFailures bool
}

// Done reports whether nothing remains to be done until something changes.
func (d Decision) Done() bool { return d.Action == ActionNone }

// Plan decides the next step from what was observed, what is desired and
// what the Status remembers. It is a pure function: the same Input gives
// the same Decision.
//
// In order: a renamed release is uninstalled under its old identity; an
// absent one is installed; a locked one is unlocked; one helmutil did not
// make (or that changed behind its back) is upgraded; a failed one is
// retried when its failure is not counted against the desired state, and
// otherwise remediated (uninstall after an install, rollback or uninstall
// after an upgrade) while retries remain; an out-of-sync one is upgraded;
// an untested one tested; a failed test remediated like a failed action;
// then drift is detected and, when enabled, corrected.
func Plan(in Input) Decision {
	p := planner{in: in, fresh: in.ConfigDigest != in.Status.LastAttemptedConfigDigest}
	d := p.plan()
	d.Release = in.Release
	if d.State == StateMoved {
		h := in.Status.Latest()
		d.Release = Ref{Name: h.Name, Namespace: h.Namespace, StorageNamespace: in.Status.StorageNamespace}
	}
	st := in.Status
	counted := st.Failures != 0 || st.InstallFailures != 0 || st.UpgradeFailures != 0 || st.LastFailureTime != nil
	if counted && (p.fresh || d.State == StateInSync) {
		d.ResetFailures = true
	}
	return d
}

type planner struct {
	in    Input
	fresh bool // the desired state changed since the last attempt
}

// failures is the count Retries is compared with for action a, zero for a
// new desired state.
func (p planner) failures(a Action) int64 {
	if p.fresh {
		return 0
	}
	return p.in.Status.failures(a)
}

func (p planner) exhausted(a Action, n int64) bool {
	r := p.in.Spec.retries(a)
	return r >= 0 && n > int64(r)
}

func (p planner) plan() Decision {
	in, st, cur := p.in, p.in.Status, p.in.Observed.Current
	if h := st.Latest(); h != nil {
		ns := st.StorageNamespace
		if ns == "" {
			ns = h.Namespace
		}
		if h.Name != in.Release.Name || h.Namespace != in.Release.Namespace || ns != in.Release.storageNamespace() {
			return Decision{State: StateMoved, Action: ActionUninstall,
				Reason: fmt.Sprintf("the release moved from %s/%s (stored in %s) to %s: uninstalling the old one", h.Namespace, h.Name, ns, in.Release)}
		}
	}
	if cur == nil || cur.Status == statusUninstalled {
		return p.absent()
	}
	switch cur.Status {
	case statusPendingInstall, statusPendingUpgrade, statusPendingRollback, statusUninstalling:
		return Decision{State: StateLocked, Action: ActionUnlock,
			Reason: fmt.Sprintf("revision %d is %s with no action running: an interrupted action left it", cur.Version, cur.Status)}
	case statusDeployed, statusSuperseded, statusFailed:
	default:
		return Decision{State: StateLocked, Action: ActionUnlock, Reason: fmt.Sprintf("revision %d has status %q, which no action can start from", cur.Version, cur.Status)}
	}
	if h := st.Latest(); h == nil || h.Version != cur.Version || cur.ConfigDigest == "" {
		reason := fmt.Sprintf("revision %d was not made by this release's controller", cur.Version)
		if h != nil && h.Version != cur.Version {
			reason = fmt.Sprintf("revision %d replaced revision %d behind the controller's back", cur.Version, h.Version)
		}
		return Decision{State: StateUnmanaged, Action: ActionUpgrade, Reason: reason + ": upgrading to take it over"}
	}
	switch cur.Status {
	case statusFailed:
		a := st.LastAttemptedAction
		if a != ActionInstall {
			a = ActionUpgrade
		}
		n := p.failures(a)
		switch {
		case in.Force:
			return Decision{State: StateFailed, Action: ActionUpgrade, Reason: fmt.Sprintf("revision %d failed; upgrade forced", cur.Version)}
		case n == 0:
			return Decision{State: StateFailed, Action: ActionUpgrade,
				Reason: fmt.Sprintf("revision %d failed, but the failure does not count against the desired state (it changed since, or the action was interrupted): upgrading", cur.Version)}
		}
		return p.remediate(StateFailed, a, n, fmt.Sprintf("%s of revision %d failed", a, cur.Version))
	}
	if cur.ConfigDigest != in.ConfigDigest {
		return p.outOfSync()
	}
	if in.Force {
		return Decision{State: StateInSync, Action: ActionUpgrade, Reason: "upgrade forced"}
	}
	if in.Spec.Test.Enable {
		a := st.LastAttemptedAction
		if a != ActionInstall {
			a = ActionUpgrade
		}
		tests := selectTests(cur.TestHooks, in.Spec.Test.Filters)
		var failed, notRun []string
		for _, name := range tests {
			switch cur.TestHooks[name].Phase {
			case hookSucceeded:
			case hookFailed:
				failed = append(failed, name)
			default: // never run, or a run that was interrupted
				notRun = append(notRun, name)
			}
		}
		if len(failed) == 0 && len(notRun) > 0 {
			return Decision{State: StateUntested, Action: ActionTest, Reason: fmt.Sprintf("revision %d has not been tested", cur.Version)}
		}
		if len(failed) > 0 && !in.Spec.ignoreTestFailures(a) {
			n := p.failures(a)
			if n == 0 {
				return Decision{State: StateTestFailed, Action: ActionTest,
					Reason: fmt.Sprintf("tests %v of revision %d failed, but the failure is not counted: testing again", failed, cur.Version)}
			}
			return p.remediate(StateTestFailed, a, n, fmt.Sprintf("tests %v of revision %d failed", failed, cur.Version))
		}
	}
	if mode := in.Spec.driftMode(); mode != DriftDisabled {
		drift := in.Observed.Drift
		if drift == nil {
			return Decision{State: StateInSync, Action: ActionDetectDrift, Reason: "checking the cluster for drift"}
		}
		if len(drift.Objects) > 0 {
			reason := fmt.Sprintf("%d objects drifted from revision %d", len(drift.Objects), cur.Version)
			if mode == DriftEnabled {
				return Decision{State: StateDrifted, Action: ActionCorrectDrift, Reason: reason + ": correcting"}
			}
			return Decision{State: StateDrifted, Reason: reason + " (drift detection warns only)"}
		}
	}
	return Decision{State: StateInSync, Reason: fmt.Sprintf("revision %d is deployed and in sync", cur.Version)}
}

func (p planner) absent() Decision {
	in := p.in
	n := p.failures(ActionInstall)
	if n > 0 && !in.Force {
		if in.Spec.strategy(ActionInstall) == RetryOnFailure {
			if d, wait := p.waitToRetry(StateAbsent, ActionInstall); wait {
				return d
			}
		} else if p.exhausted(ActionInstall, n) {
			return Decision{State: StateAbsent, Stalled: true,
				Reason: fmt.Sprintf("install failed %d times (retries: %d): no retry remains", n, in.Spec.retries(ActionInstall))}
		}
	}
	return Decision{State: StateAbsent, Action: ActionInstall, Reason: "the release is not installed"}
}

func (p planner) outOfSync() Decision {
	in := p.in
	reason := fmt.Sprintf("revision %d was made from another chart, values or post-render than desired", in.Observed.Current.Version)
	n := p.failures(ActionUpgrade)
	if n > 0 && !in.Force {
		if in.Spec.strategy(ActionUpgrade) == RetryOnFailure {
			if d, wait := p.waitToRetry(StateOutOfSync, ActionUpgrade); wait {
				return d
			}
		} else if p.exhausted(ActionUpgrade, n) {
			return Decision{State: StateOutOfSync, Stalled: true,
				Reason: fmt.Sprintf("%s; upgrade failed %d times (retries: %d): no retry remains", reason, n, in.Spec.retries(ActionUpgrade))}
		}
	}
	return Decision{State: StateOutOfSync, Action: ActionUpgrade, Reason: reason + ": upgrading"}
}

// remediate decides what follows the n-th counted failure of action a.
func (p planner) remediate(state State, a Action, n int64, what string) Decision {
	in := p.in
	if in.Spec.strategy(a) == RetryOnFailure {
		if d, wait := p.waitToRetry(state, a); wait {
			return d
		}
		return Decision{State: state, Action: ActionUpgrade, Reason: what + ": retrying (RetryOnFailure)"}
	}
	if p.exhausted(a, n) && !in.Spec.remediateLastFailure(a) {
		return Decision{State: state, Stalled: true,
			Reason: fmt.Sprintf("%s; %s failed %d times (retries: %d): no retry remains", what, a, n, in.Spec.retries(a))}
	}
	if a == ActionUpgrade && in.Spec.Upgrade.Remediation.Strategy != RemediateUninstall && in.Observed.RollbackTarget > 0 {
		return Decision{State: state, Action: ActionRollback, Remediation: true, RollbackTo: in.Observed.RollbackTarget,
			Reason: fmt.Sprintf("%s: rolling back to revision %d", what, in.Observed.RollbackTarget)}
	}
	reason := what + ": uninstalling"
	if a == ActionUpgrade && in.Spec.Upgrade.Remediation.Strategy != RemediateUninstall {
		reason += " (no successful revision to roll back to)"
	}
	return Decision{State: state, Action: ActionUninstall, Remediation: true, Reason: reason}
}

// waitToRetry returns a waiting decision while RetryOnFailure's interval
// since the last failure has not passed.
func (p planner) waitToRetry(state State, a Action) (Decision, bool) {
	in := p.in
	last := in.Status.LastFailureTime
	if last == nil {
		return Decision{}, false
	}
	left := last.Add(in.Spec.retryInterval(a)).Sub(in.Observed.Now)
	if left <= 0 {
		return Decision{}, false
	}
	return Decision{State: state, RequeueAfter: left,
		Reason: fmt.Sprintf("%s failed; retrying in %s (RetryOnFailure)", a, left.Round(time.Second))}, true
}

// selectTests returns the names of the test hooks the filters select,
// sorted.
func selectTests(hooks map[string]TestHook, filters []TestFilter) []string {
	var include, exclude []string
	for _, f := range filters {
		if f.Exclude {
			exclude = append(exclude, f.Name)
		} else {
			include = append(include, f.Name)
		}
	}
	var out []string
	for name := range hooks {
		if slices.Contains(exclude, name) || (len(include) > 0 && !slices.Contains(include, name)) {
			continue
		}
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}
