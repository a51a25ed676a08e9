// Package gitopsctl is the gitopsctl command: the command line a Flux user
// reaches for, for gitopsd. Run executes a command line with the streams
// and cluster of Options and returns its exit code, so tests and the demo
// run exactly what the binary runs; Main is the binary.
//
// Every command works from one table of gitopsd's kinds (kinds.go): their
// names and short names, their columns, and where each keeps its
// revision, suspension, source reference and inventory. Ready, Reconciling
// and Stalled are read with runtime/conditions, reconcile requests are the
// annotations of runtime/reconcile. A new kind is a new entry there.
//
// diff and build run the Kustomization reconciler's own build
// (internal/controller/kustomize.Build) and its apply manager
// (NewApplyManager) for the server-side dry-run, so a preview shows what
// gitopsd would do. install and bootstrap apply the manifests of
// examples/config embedded in the program (config.Render); bootstrap
// commits them through the git module and applies them with gitopsd's
// own field manager, so gitopsd takes over without a change. artifact
// speaks the oci module's Flux format. convert rewrites Flux manifests,
// checking every field against gitopsd's CRDs.
package gitopsctl
