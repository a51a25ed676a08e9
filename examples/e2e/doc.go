// Package e2e holds gitopsd's end-to-end tests: the whole operator
// (gitopsd.New, every reconciler and the artifact server in one manager)
// against a real control plane (runtime/testenv), a real git server
// (git/gittest) and a real OCI registry (oci/ocitest).
//
// They cover a Git source to a Ready Kustomization, a new commit applied,
// pruning, dependsOn ordering, an OCI source, a cross-namespace source, and failures (wrong path,
// invalid YAML, missing Secret, unreachable source) that leave Ready=False
// with a clear message and delete nothing already applied. The demo's core
// (internal/demo) runs as a test too, and BenchmarkCommitToApplied measures
// commit-to-applied latency with a reconcile request and with polling.
//
// The package has no non-test code.
package e2e
