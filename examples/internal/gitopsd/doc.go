// Package gitopsd assembles the gitopsd operator: one controller-runtime
// manager running the GitRepository, OCIRepository and Kustomization
// reconcilers, the artifact storage they share and the HTTP server that
// serves it.
//
// Everything comes from the toolkit's public APIs: runtime/options builds
// the manager (leader election, metrics, health probes, logging, cache
// restrictions; Secrets, ConfigMaps and Namespaces are read uncached),
// runtime/metrics records every reconcile on the metrics endpoint,
// artifact/storage and artifact/server keep and serve the
// artifacts the source reconcilers produce, artifact/fetch downloads them
// for the Kustomization reconciler, and runtime/acl decides whether a
// Kustomization may reference another namespace.
//
// One git/gogit Cache, under --git-cache-path (<storage-path>/.git-cache by
// default, which the artifact server never serves), is kept across
// restarts and shared by the GitRepository and ImageUpdateAutomation
// reconcilers, so every fetch of a remote brings only its new objects;
// the GitRepositories' exports and the automations' worktrees live beside
// it.
//
// The webhook receiver server (receiver.go, --receiver-addr) runs on every
// replica: events/receivers verifies each webhook for the Receiver whose
// status.webhookPath it was posted to, and RequestReconcile annotates the
// Receiver's resources, those the cross-namespace policy lets it reach.
//
// The binary (examples/cmd/gitopsd) binds Options to flags and calls Run.
// Tests and the demo call New and Operator.Start in process:
//
//	opts := gitopsd.DefaultOptions()
//	opts.StoragePath = dir
//	opts.StorageAddr = "127.0.0.1:0"
//	opts.ReceiverAddr = "127.0.0.1:0" // or "" for none
//	op, err := gitopsd.New(cfg, opts)
//	...
//	go op.Start(ctx)
package gitopsd
