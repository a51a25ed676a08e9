// Package release installs, upgrades, tests, rolls back and uninstalls Helm
// releases through Helm v4's actions, driven by a state machine a
// controller runs one step at a time, and detects and corrects drift
// through ssa.
//
// # The state machine
//
// Plan is a pure function of what Observe read (the release's newest
// record in Helm's storage, its rollback target, drift), the desired state
// (a Request's ConfigDigest) and what the controller's Status remembers
// (history, failure counters). It returns a Decision: install, upgrade,
// test, roll back, uninstall, unlock a release an interrupted action left
// pending-*, detect or correct drift, or nothing (in sync, stalled out of
// retries, waiting to retry). Runner.Step observes, plans and runs one
// action, and updates the Status the controller stores in its object's
// status; the controller calls Step until Outcome.Done, in one reconcile or
// across several.
//
// Failures are counted against the desired state: a new ConfigDigest
// starts with fresh counters, and a release that reached its desired state
// clears them. Under RemediateOnFailure a failed install is uninstalled and
// a failed upgrade rolled back (or uninstalled) while Retries allow, then
// the release stalls (Decision.Stalled) until the desired state changes,
// Status.ResetFailures is called or Request.Force is set. Under
// RetryOnFailure the failed release stays and the action is retried after
// RetryInterval.
//
// # Interruptions
//
// When the context ends during an action, the requests Helm sends end with
// it, Helm marks the revision failed (its records are written with a
// client the context does not cut), and Step returns the context's error;
// such a failure is not counted, so the next Step upgrades again. A
// release a killed process left pending-install, pending-upgrade,
// pending-rollback or uninstalling is unlocked (marked failed) by the next
// Step, then retried, without a human. A Runner assumes it is the only
// actor on its releases: run one controller (leader election) per release.
//
// # Helm, waiting and writes
//
// Every write is a server-side apply with forced conflicts, by the
// Runner's field manager. Helm's kstatus waiter (built on
// fluxcd/cli-utils) is replaced: Helm's kube client is wrapped so that its
// waits are ssa.Manager.Wait (watches, kstatus, Spec.HealthRules as CEL),
// hooks wait for their Pods to succeed and Jobs to complete, and deletions
// are watched. A chart's crds/ are applied by ssa as the CRD policy says.
//
// Helm keeps its field manager in a package variable,
// kube.ManagedFieldsManager. NewRunner sets it, once per process, to the
// field manager given with WithFieldManager (DefaultFieldManager unless
// told), and refuses a Runner asking for another one with ErrFieldManager:
// it is never set per call. Drift detection and correction use the same
// field manager, so ownership is Helm's.
//
// # Post-render
//
// Spec.PostRender (kustomize patches, image overrides, common labels and
// annotations: a HelmRelease's postRenderers and commonMetadata) is
// applied to the rendered manifests, not to the hooks, in memory, by the
// kustomize module. It is part of the ConfigDigest, so changing it alone
// upgrades the release, and the release's stored manifest is the
// post-rendered one, which drift detection compares with the cluster.
//
// # Drift
//
// Drift detection compares the current revision's manifest with the
// cluster through ssa's server-side dry-run diff, minus the Spec's ignore
// rules, minus fields other managers own (an autoscaler's replicas, a
// webhook's injections) unless told otherwise, minus objects annotated
// DriftDetectionAnnotation: disabled. Fields changed by hand with kubectl
// (whose field managers then own them) are drift. Correction applies the
// drifted objects again from the manifest with ssa — no Helm upgrade, no
// new revision, never a value from the diff.
//
// # Secrets
//
// Errors, the log lines of Helm's action configuration, storage driver and
// kube client (routed to the logr.Logger of the context) and drift reports
// never show a Request's Sensitive values: messages are masked. An
// *ActionError still unwraps to Helm's or the API server's original error,
// so errors.Is and errors.As work; show its Error().
//
// Some Helm packages log through log/slog's process-wide default logger
// instead (pkg/kube's "resource exists on cluster but not in original
// release", the engine's lookup warnings): those lines are neither routed
// nor masked. This package leaves slog.Default alone, as a library must;
// a program routes them itself, as gitopsd does with
// slog.SetDefault(slog.New(logr.ToSlogHandler(log))).
package release
