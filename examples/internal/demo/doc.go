// Package demo is the program behind `make demo`: a tour of gitopsd on a
// fresh machine, with nothing but the control-plane binaries that `make
// controlplane` builds.
//
// Run starts a local control plane (runtime/testenv), a git server
// (git/gittest) holding a sample application (the app folder, embedded),
// and gitopsd — the built binary as a child process, or in process. It then
// creates a GitRepository and a Kustomization and reports their progress
// until Ready; pushes a commit that changes a ConfigMap and shows it
// applied, first with a reconcile request (the requestedAt annotation set
// on the GitRepository right after the push), later with interval polling
// only; and pushes a commit removing a manifest and shows the object
// pruned. Later steps show a GitHub webhook, interval polling, an alert, a
// Helm release, and image automation: an image tag pushed to a registry
// (oci/ocitest) written back to the repository by an ImageUpdateAutomation
// as one commit, which the Kustomization applies. Every step prints what
// happened, the revision and how long it took; the latencies are returned
// in a Result too.
//
// Everything runs on loopback in a temporary folder that is removed at the
// end, including when ctx is cancelled (Ctrl-C in cmd/demo).
package demo
