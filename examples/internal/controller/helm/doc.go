// Package helm is gitopsd's HelmRelease controller: it keeps a Helm release
// of a chart installed as its HelmRelease says, the way Flux's
// helm-controller does, assembled from the toolkit's public modules only
// (helmutil for charts, values and releases; artifact/fetch for downloads).
//
// For each HelmRelease, HelmReleaseReconciler:
//
//   - resolves the chart: creates or updates the HelmChart spec.chart
//     describes (named <namespace>-<name>, in its source's namespace), or
//     reads the HelmChart or OCIRepository of spec.chartRef;
//   - waits until every spec.dependsOn Kustomization or HelmRelease is
//     ready, and until the chart's source has an artifact;
//   - downloads the chart package with artifact/fetch (digest verified,
//     bounded by MaxChartSize) and loads it with helmutil/chart — once per
//     artifact digest, kept in memory for the next reconciles;
//   - composes spec.valuesFrom and spec.values with helmutil/values,
//     reading ConfigMaps and Secrets straight from the API server, and
//     masks the values taken from Secrets in every message;
//   - runs helmutil/release's state machine as spec.serviceAccountName
//     (impersonated) until it is done: install, upgrade, test,
//     remediation (rollback or uninstall, failure counters), drift
//     detection and correction, recovery of a release left pending-* by
//     an interrupted action. A release in sync costs no Helm action and no
//     new revision.
//
// Conditions follow runtime/reconcile — Ready, Reconciling, Stalled — plus
// Released, TestSuccess, Remediated and Drifted. The state machine's
// Status (history, failure counters, lastAttempted*) is stored in the
// HelmRelease's status after every step.
//
// A HelmRelease is reconciled again on its interval, as soon as its
// chart's artifact changes, as soon as a dependency becomes ready, when a
// ConfigMap or Secret of its valuesFrom labelled WatchLabel changes, and
// when its reconcile-request annotation changes (force: upgrade even in
// sync or out of retries; reset: clear the failure counters). On deletion
// the release is uninstalled (unless the HelmRelease is suspended) and the
// HelmChart gitopsd made is deleted.
package helm
