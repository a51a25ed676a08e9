package release_test

import (
	"fmt"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitopskit/kit/helmutil/release"
	"github.com/gitopskit/kit/ssa"
)

var (
	planNow = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	planRef = release.Ref{Name: "app", Namespace: "apps"}
)

const (
	desired = "desired-digest"
	older   = "older-digest"
)

func snap(version int, status, digest string) *release.Snapshot {
	return &release.Snapshot{Name: "app", Namespace: "apps", Version: version, Status: status, ConfigDigest: digest}
}

// managed returns a Status whose history knows cur.
func managed(cur *release.Snapshot) release.Status {
	if cur == nil {
		return release.Status{}
	}
	return release.Status{History: []release.Snapshot{*cur}, LastAttemptedConfigDigest: desired}
}

func TestPlanCases(t *testing.T) {
	yes := true
	for _, tc := range []struct {
		name   string
		in     release.Input
		action release.Action
		state  release.State
		check  func(t *testing.T, d release.Decision)
	}{
		{name: "absent installs", in: release.Input{}, action: release.ActionInstall, state: release.StateAbsent},
		{name: "uninstalled installs", in: release.Input{Observed: release.Observed{Current: snap(3, "uninstalled", older)}},
			action: release.ActionInstall, state: release.StateAbsent},
		{name: "absent out of install retries stalls",
			in:     release.Input{Status: release.Status{InstallFailures: 1, LastAttemptedConfigDigest: desired}},
			action: release.ActionNone, state: release.StateAbsent, check: stalled},
		{name: "absent out of retries but forced installs", in: release.Input{Force: true, Status: release.Status{InstallFailures: 3, LastAttemptedConfigDigest: desired}},
			action: release.ActionInstall, state: release.StateAbsent},
		{name: "absent, failures of another desired state, installs",
			in:     release.Input{Status: release.Status{InstallFailures: 9, LastAttemptedConfigDigest: older}},
			action: release.ActionInstall, state: release.StateAbsent, check: resets},
		{name: "pending-upgrade unlocks", in: release.Input{Observed: release.Observed{Current: snap(2, "pending-upgrade", desired)}, Status: managed(snap(1, "deployed", older))},
			action: release.ActionUnlock, state: release.StateLocked},
		{name: "pending-install unlocks", in: release.Input{Observed: release.Observed{Current: snap(1, "pending-install", desired)}},
			action: release.ActionUnlock, state: release.StateLocked},
		{name: "pending-rollback unlocks", in: release.Input{Observed: release.Observed{Current: snap(4, "pending-rollback", desired)}},
			action: release.ActionUnlock, state: release.StateLocked},
		{name: "uninstalling unlocks", in: release.Input{Observed: release.Observed{Current: snap(4, "uninstalling", desired)}},
			action: release.ActionUnlock, state: release.StateLocked},
		{name: "no history: unmanaged upgrades", in: release.Input{Observed: release.Observed{Current: snap(1, "deployed", desired)}},
			action: release.ActionUpgrade, state: release.StateUnmanaged},
		{name: "revision made behind our back: unmanaged",
			in:     release.Input{Observed: release.Observed{Current: snap(3, "deployed", desired)}, Status: managed(snap(2, "deployed", desired))},
			action: release.ActionUpgrade, state: release.StateUnmanaged},
		{name: "no digest label: unmanaged",
			in:     release.Input{Observed: release.Observed{Current: snap(1, "deployed", "")}, Status: managed(snap(1, "deployed", ""))},
			action: release.ActionUpgrade, state: release.StateUnmanaged},
		{name: "in sync", in: inSync(), action: release.ActionNone, state: release.StateInSync},
		{name: "in sync clears counters", in: withStatus(inSync(), func(s *release.Status) { s.UpgradeFailures = 1; s.Failures = 2 }),
			action: release.ActionNone, state: release.StateInSync, check: resets},
		{name: "in sync, forced, upgrades", in: withInput(inSync(), func(in *release.Input) { in.Force = true }),
			action: release.ActionUpgrade, state: release.StateInSync},
		{name: "out of sync upgrades", in: withInput(inSync(), func(in *release.Input) { in.ConfigDigest = "new" }),
			action: release.ActionUpgrade, state: release.StateOutOfSync, check: noReset},
		{name: "out of sync, out of retries, stalls",
			in: withStatus(withCurrent(inSync(), snap(3, "deployed", older)), func(s *release.Status) {
				s.History[0].Version = 3
				s.UpgradeFailures = 1
			}),
			action: release.ActionNone, state: release.StateOutOfSync, check: stalled},
		{name: "failed upgrade rolls back",
			in:     failedUpgrade(1, release.Spec{Upgrade: release.Upgrade{Remediation: release.UpgradeRemediation{Retries: 2}}}),
			action: release.ActionRollback, state: release.StateFailed, check: rollbackTo(1)},
		{name: "failed upgrade, retries 0, stalls",
			in:     failedUpgrade(1, release.Spec{}),
			action: release.ActionNone, state: release.StateFailed, check: stalled},
		{name: "failed upgrade, retries 0, remediate last failure",
			in:     failedUpgrade(1, release.Spec{Upgrade: release.Upgrade{Remediation: release.UpgradeRemediation{RemediateLastFailure: &yes}}}),
			action: release.ActionRollback, state: release.StateFailed},
		{name: "failed upgrade, retries exhausted, remediated by default when retries > 0",
			in:     failedUpgrade(3, release.Spec{Upgrade: release.Upgrade{Remediation: release.UpgradeRemediation{Retries: 2}}}),
			action: release.ActionRollback, state: release.StateFailed},
		{name: "failed upgrade, unlimited retries",
			in:     failedUpgrade(100, release.Spec{Upgrade: release.Upgrade{Remediation: release.UpgradeRemediation{Retries: -1}}}),
			action: release.ActionRollback, state: release.StateFailed},
		{name: "failed upgrade, uninstall strategy",
			in:     failedUpgrade(1, release.Spec{Upgrade: release.Upgrade{Remediation: release.UpgradeRemediation{Retries: 1, Strategy: release.RemediateUninstall}}}),
			action: release.ActionUninstall, state: release.StateFailed, check: remediation},
		{name: "failed upgrade without a rollback target uninstalls",
			in: withInput(failedUpgrade(1, release.Spec{Upgrade: release.Upgrade{Remediation: release.UpgradeRemediation{Retries: 1}}}),
				func(in *release.Input) { in.Observed.RollbackTarget = 0 }),
			action: release.ActionUninstall, state: release.StateFailed, check: remediation},
		{name: "failed, not counted (interrupted), upgrades",
			in:     failedUpgrade(0, release.Spec{}),
			action: release.ActionUpgrade, state: release.StateFailed},
		{name: "failed, desired state changed since, upgrades with fresh counters",
			in:     withInput(failedUpgrade(5, release.Spec{}), func(in *release.Input) { in.ConfigDigest = "new" }),
			action: release.ActionUpgrade, state: release.StateFailed, check: resets},
		{name: "failed, forced, upgrades", in: withInput(failedUpgrade(5, release.Spec{}), func(in *release.Input) { in.Force = true }),
			action: release.ActionUpgrade, state: release.StateFailed},
		{name: "failed install uninstalls",
			in:     failedInstall(1, release.Spec{Install: release.Install{Remediation: release.InstallRemediation{Retries: 1}}}),
			action: release.ActionUninstall, state: release.StateFailed, check: remediation},
		{name: "failed install, retries 0, stalls",
			in:     failedInstall(1, release.Spec{}),
			action: release.ActionNone, state: release.StateFailed, check: stalled},
		{name: "failed install, remediate last failure",
			in:     failedInstall(1, release.Spec{Install: release.Install{Remediation: release.InstallRemediation{RemediateLastFailure: true}}}),
			action: release.ActionUninstall, state: release.StateFailed},
		{name: "RetryOnFailure waits for its interval",
			in: withStatus(failedUpgrade(1, release.Spec{Upgrade: release.Upgrade{Strategy: release.RetryOnFailure, RetryInterval: time.Minute}}),
				func(s *release.Status) { s.LastFailureTime = &metav1.Time{Time: planNow.Add(-20 * time.Second)} }),
			action: release.ActionNone, state: release.StateFailed, check: requeue(40 * time.Second)},
		{name: "RetryOnFailure retries after its interval",
			in: withStatus(failedUpgrade(7, release.Spec{Upgrade: release.Upgrade{Strategy: release.RetryOnFailure, RetryInterval: time.Minute}}),
				func(s *release.Status) { s.LastFailureTime = &metav1.Time{Time: planNow.Add(-time.Hour)} }),
			action: release.ActionUpgrade, state: release.StateFailed},
		{name: "RetryOnFailure on an absent release waits, then installs",
			in: release.Input{Observed: release.Observed{Now: planNow}, ConfigDigest: desired, Spec: release.Spec{Install: release.Install{Strategy: release.RetryOnFailure}},
				Status: release.Status{InstallFailures: 4, LastAttemptedConfigDigest: desired, LastFailureTime: &metav1.Time{Time: planNow.Add(-time.Minute)}}},
			action: release.ActionNone, state: release.StateAbsent, check: requeue(4 * time.Minute)},
		{name: "untested tests", in: withTests(inSync(), map[string]string{"t1": "Succeeded", "t2": ""}),
			action: release.ActionTest, state: release.StateUntested},
		{name: "an interrupted test runs again", in: withTests(inSync(), map[string]string{"t1": "Running"}),
			action: release.ActionTest, state: release.StateUntested},
		{name: "tests passed", in: withTests(inSync(), map[string]string{"t1": "Succeeded"}),
			action: release.ActionNone, state: release.StateInSync},
		{name: "a failed test (counted) stalls without retries",
			in: withStatus(withTests(inSync(), map[string]string{"t1": "Succeeded", "t2": "Failed", "t3": ""}), func(s *release.Status) {
				s.LastAttemptedAction, s.UpgradeFailures = release.ActionUpgrade, 1
			}),
			action: release.ActionNone, state: release.StateTestFailed, check: stalled},
		{name: "a failed test is remediated by rollback",
			in: withInput(withStatus(withTests(inSync(), map[string]string{"t1": "Failed"}), func(s *release.Status) {
				s.LastAttemptedAction, s.UpgradeFailures = release.ActionUpgrade, 1
			}), func(in *release.Input) {
				in.Spec.Upgrade.Remediation.Retries = 1
				in.Observed.RollbackTarget = 1
			}),
			action: release.ActionRollback, state: release.StateTestFailed},
		{name: "a failed test not counted is run again", in: withTests(inSync(), map[string]string{"t1": "Failed"}),
			action: release.ActionTest, state: release.StateTestFailed},
		{name: "ignored test failures", in: withInput(withTests(inSync(), map[string]string{"t1": "Failed"}), func(in *release.Input) { in.Spec.Test.IgnoreFailures = true }),
			action: release.ActionNone, state: release.StateInSync},
		{name: "install's ignoreTestFailures overrides the test block",
			in: withInput(withStatus(withTests(inSync(), map[string]string{"t1": "Failed"}), func(s *release.Status) {
				s.LastAttemptedAction, s.InstallFailures = release.ActionInstall, 1
			}), func(in *release.Input) { in.Spec.Install.Remediation.IgnoreTestFailures = &yes }),
			action: release.ActionNone, state: release.StateInSync},
		{name: "a filtered-out failed test does not count",
			in: withInput(withTests(inSync(), map[string]string{"t1": "Failed", "t2": "Succeeded"}), func(in *release.Input) {
				in.Spec.Test.Filters = []release.TestFilter{{Name: "t1", Exclude: true}}
			}),
			action: release.ActionNone, state: release.StateInSync},
		{name: "drift detection asks for a check", in: withDrift(inSync(), release.DriftEnabled, nil),
			action: release.ActionDetectDrift, state: release.StateInSync},
		{name: "no drift", in: withDrift(inSync(), release.DriftEnabled, &release.DriftReport{}),
			action: release.ActionNone, state: release.StateInSync},
		{name: "drift corrected", in: withDrift(inSync(), release.DriftEnabled, drifted()),
			action: release.ActionCorrectDrift, state: release.StateDrifted},
		{name: "drift warned", in: withDrift(inSync(), release.DriftWarn, drifted()),
			action: release.ActionNone, state: release.StateDrifted},
		{name: "a renamed release uninstalls the old one",
			in:     withInput(inSync(), func(in *release.Input) { in.Release.Name = "renamed" }),
			action: release.ActionUninstall, state: release.StateMoved, check: func(t *testing.T, d release.Decision) {
				if d.Release.Name != "app" || d.Release.Namespace != "apps" {
					t.Errorf("uninstalls %+v, want the old identity", d.Release)
				}
			}},
		{name: "a new storage namespace uninstalls from the old one",
			in:     withInput(inSync(), func(in *release.Input) { in.Release.StorageNamespace = "flux-system" }),
			action: release.ActionUninstall, state: release.StateMoved},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			if in.Release == (release.Ref{}) {
				in.Release = planRef
			}
			if in.ConfigDigest == "" {
				in.ConfigDigest = desired
			}
			if in.Observed.Now.IsZero() {
				in.Observed.Now = planNow
			}
			d := release.Plan(in)
			if d.Action != tc.action || d.State != tc.state {
				t.Fatalf("decided %s in state %s (%s), want %s in %s", d.Action, d.State, d.Reason, tc.action, tc.state)
			}
			if d.Reason == "" {
				t.Error("no reason given")
			}
			if tc.check != nil {
				tc.check(t, d)
			}
			if again := release.Plan(in); again != d {
				t.Errorf("Plan is not a function of its input: %+v then %+v", d, again)
			}
		})
	}
}

func inSync() release.Input {
	cur := snap(2, "deployed", desired)
	return release.Input{Observed: release.Observed{Current: cur, RollbackTarget: 1}, Status: managed(cur)}
}

func failedUpgrade(failures int64, spec release.Spec) release.Input {
	cur := snap(2, "failed", desired)
	st := managed(cur)
	st.LastAttemptedAction, st.UpgradeFailures = release.ActionUpgrade, failures
	return release.Input{Observed: release.Observed{Current: cur, RollbackTarget: 1}, Status: st, Spec: spec}
}

func failedInstall(failures int64, spec release.Spec) release.Input {
	cur := snap(1, "failed", desired)
	st := managed(cur)
	st.LastAttemptedAction, st.InstallFailures = release.ActionInstall, failures
	return release.Input{Observed: release.Observed{Current: cur}, Status: st, Spec: spec}
}

func withInput(in release.Input, f func(*release.Input)) release.Input { f(&in); return in }

func withStatus(in release.Input, f func(*release.Status)) release.Input {
	in.Status.History = append([]release.Snapshot(nil), in.Status.History...)
	f(&in.Status)
	return in
}

func withCurrent(in release.Input, cur *release.Snapshot) release.Input {
	in.Observed.Current = cur
	return in
}

func withTests(in release.Input, phases map[string]string) release.Input {
	cur := *in.Observed.Current
	cur.TestHooks = map[string]release.TestHook{}
	for n, p := range phases {
		cur.TestHooks[n] = release.TestHook{Phase: p}
	}
	in.Observed.Current = &cur
	in.Spec.Test.Enable = true
	return in
}

func withDrift(in release.Input, mode release.DriftMode, d *release.DriftReport) release.Input {
	in.Spec.Drift.Mode = mode
	in.Observed.Drift = d
	return in
}

func drifted() *release.DriftReport {
	return &release.DriftReport{Objects: []release.DriftedObject{{ID: ssa.ObjectID{Kind: "ConfigMap", Namespace: "apps", Name: "x"}, Action: ssa.ActionConfigured, Paths: []string{"/data/a"}}}}
}

func stalled(t *testing.T, d release.Decision) {
	if !d.Stalled || !d.Done() {
		t.Errorf("not stalled: %+v", d)
	}
}

func resets(t *testing.T, d release.Decision) {
	if !d.ResetFailures {
		t.Errorf("counters not reset: %+v", d)
	}
}

func noReset(t *testing.T, d release.Decision) {
	if d.ResetFailures {
		t.Errorf("counters reset: %+v", d)
	}
}

func remediation(t *testing.T, d release.Decision) {
	if !d.Remediation {
		t.Errorf("not marked a remediation: %+v", d)
	}
}

func rollbackTo(v int) func(*testing.T, release.Decision) {
	return func(t *testing.T, d release.Decision) {
		if d.RollbackTo != v || !d.Remediation {
			t.Errorf("rolls back to %d (remediation %v), want %d", d.RollbackTo, d.Remediation, v)
		}
	}
}

func requeue(want time.Duration) func(*testing.T, release.Decision) {
	return func(t *testing.T, d release.Decision) {
		if d.RequeueAfter != want || d.Stalled {
			t.Errorf("requeue after %s (stalled %v), want %s", d.RequeueAfter, d.Stalled, want)
		}
	}
}

// TestPlanInvariants enumerates every combination of release status,
// history, counters, strategies, retries, tests, drift and force, and
// checks what must hold whatever the combination.
func TestPlanInvariants(t *testing.T) {
	statuses := []string{"", "deployed", "failed", "superseded", "uninstalled", "uninstalling", "pending-install", "pending-upgrade", "pending-rollback", "unknown"}
	digests := []string{desired, older, ""}
	actions := []release.Action{"", release.ActionInstall, release.ActionUpgrade}
	counts := []int64{0, 1, 3}
	retries := []int{-1, 0, 2}
	strategies := []release.Strategy{"", release.RetryOnFailure}
	remediations := []release.RemediationStrategy{"", release.RemediateUninstall}
	tests := []map[string]string{nil, {"t": ""}, {"t": "Failed"}, {"t": "Succeeded"}}
	drifts := []*release.DriftReport{nil, {}, drifted()}
	modes := []release.DriftMode{"", release.DriftEnabled, release.DriftWarn}
	n := 0
	for _, status := range statuses {
		for _, digest := range digests {
			for _, known := range []bool{true, false} {
				for _, a := range actions {
					for _, c := range counts {
						for _, r := range retries {
							for _, s := range strategies {
								for _, rem := range remediations {
									for _, tt := range tests {
										for i, dr := range drifts {
											for _, mode := range modes {
												for _, force := range []bool{false, true} {
													in := release.Input{Release: planRef, ConfigDigest: desired, Force: force}
													in.Observed = release.Observed{Now: planNow, RollbackTarget: 1, Drift: dr}
													if status != "" {
														cur := snap(2, status, digest)
														for n, p := range tt {
															if cur.TestHooks == nil {
																cur.TestHooks = map[string]release.TestHook{}
															}
															cur.TestHooks[n] = release.TestHook{Phase: p}
														}
														in.Observed.Current = cur
														if known {
															in.Status.History = []release.Snapshot{*cur}
														}
													}
													in.Status.LastAttemptedAction = a
													in.Status.LastAttemptedConfigDigest = desired
													in.Status.InstallFailures, in.Status.UpgradeFailures = c, c
													in.Status.LastFailureTime = &metav1.Time{Time: planNow.Add(-time.Duration(i) * 3 * time.Minute)}
													in.Spec.Install.Remediation.Retries, in.Spec.Upgrade.Remediation.Retries = r, r
													in.Spec.Install.Strategy, in.Spec.Upgrade.Strategy = s, s
													in.Spec.Upgrade.Remediation.Strategy = rem
													in.Spec.Test.Enable = tt != nil
													in.Spec.Drift.Mode = mode
													checkInvariants(t, in, release.Plan(in))
													n++
												}
											}
										}
									}
								}
							}
						}
					}
				}
			}
		}
	}
	t.Logf("%d combinations", n)
}

func checkInvariants(t *testing.T, in release.Input, d release.Decision) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("%s\ninput: %+v\ncurrent: %+v\ndecision: %+v", fmt.Sprintf(format, args...), in, in.Observed.Current, d)
	}
	cur := in.Observed.Current
	if d.Reason == "" {
		fail("no reason")
	}
	if d.Stalled && d.Action != release.ActionNone {
		fail("stalled but acting")
	}
	if d.RequeueAfter > 0 && (d.Action != release.ActionNone || d.Stalled) {
		fail("waiting but acting or stalled")
	}
	if d.Release != in.Release && d.State != release.StateMoved {
		fail("acts on another release")
	}
	if in.Force && d.Stalled {
		fail("stalled although forced")
	}
	switch d.Action {
	case release.ActionRollback:
		if d.RollbackTo != in.Observed.RollbackTarget || d.RollbackTo == 0 || !d.Remediation {
			fail("bad rollback")
		}
		fallthrough
	case release.ActionUninstall:
		if d.State == release.StateMoved {
			break
		}
		if !d.Remediation || in.Spec.Upgrade.Strategy == release.RetryOnFailure && in.Status.LastAttemptedAction != release.ActionInstall {
			fail("remediation under RetryOnFailure, or unmarked")
		}
		if in.Status.LastAttemptedAction == release.ActionInstall && d.Action == release.ActionRollback {
			fail("a failed install rolled back")
		}
	case release.ActionInstall:
		if cur != nil && cur.Status != "uninstalled" {
			fail("install over an existing release")
		}
	case release.ActionUnlock:
		if cur == nil || cur.Status == "deployed" || cur.Status == "failed" || cur.Status == "superseded" {
			fail("unlock of a release that is not locked")
		}
	case release.ActionTest:
		if !in.Spec.Test.Enable || cur == nil || cur.Status != "deployed" && cur.Status != "superseded" {
			fail("test of an undeployed release or with tests off")
		}
	case release.ActionDetectDrift:
		if in.Observed.Drift != nil || in.Spec.Drift.Mode == "" || in.Spec.Drift.Mode == release.DriftDisabled {
			fail("drift detection not asked for")
		}
	case release.ActionCorrectDrift:
		if in.Spec.Drift.Mode != release.DriftEnabled || in.Observed.Drift == nil || len(in.Observed.Drift.Objects) == 0 {
			fail("drift correction not asked for")
		}
	}
	if cur != nil {
		switch cur.Status {
		case "pending-install", "pending-upgrade", "pending-rollback", "uninstalling", "unknown":
			if d.Action != release.ActionUnlock {
				fail("a locked release not unlocked")
			}
		}
	}
	if d.State == release.StateInSync && d.Action == release.ActionNone && (cur == nil || cur.ConfigDigest != in.ConfigDigest) {
		fail("in sync while the digest differs")
	}
}
