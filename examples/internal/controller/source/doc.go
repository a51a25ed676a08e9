// Package source holds gitopsd's source reconcilers: GitRepositoryReconciler,
// OCIRepositoryReconciler, BucketReconciler, HelmRepositoryReconciler and
// HelmChartReconciler. Each turns a source object into an artifact — a
// reproducible tar.gz in an artifact/storage directory, served over HTTP —
// and records it in status.artifact for consumers such as Kustomizations.
//
// All follow Flux's source-controller:
//
//   - the finalizer source.gitopskit.dev/finalizer is added first; on
//     deletion the object's artifacts are removed from storage and the
//     finalizer dropped;
//   - spec.suspend stops all work (deletion excepted); the reconcile
//     request annotation (reconcile.gitopskit.dev/requestedAt) triggers a
//     reconcile before the interval and is recorded in
//     status.lastHandledReconcileAt; status-only updates do not trigger one;
//   - credentials come from the Secrets the spec names, validated by
//     runtime/secrets; a missing Secret or key gives Ready=False with a
//     message naming the Secret and key, never a value;
//   - signatures are verified before anything is stored (condition
//     SourceVerified);
//   - when the source still points at the stored revision, built as the
//     spec says (ignore rules, layer selector, submodules, sparse folders,
//     includes and the included artifacts, recorded in the status'
//     observed* fields), and the stored file still matches its digest,
//     nothing is fetched nor written again; otherwise the new artifact is
//     stored, ArtifactInStorage is set and older artifacts are
//     garbage-collected as the reconciler's Retention says (by default
//     all but the previous one);
//   - conditions Ready, Reconciling and Stalled follow runtime/reconcile:
//     a spec that cannot work (an invalid semver range, an unsupported URL,
//     credentials over plain HTTP) is Stalled and not retried until it
//     changes; a transient failure (an unreachable server, a missing Secret)
//     is Ready=False and retried with backoff; success is requeued at
//     spec.interval with jitter.
//
// GitRepository revisions are "<branch or tag>@sha1:<commit>" (or
// "sha1:<commit>" for a bare commit). The reconciler fetches with git/gogit
// through a cache of bare repositories (submodules included; GitCache, which
// gitopsd keeps across restarts and shares with image automation) and
// exports each object's files into a working folder updated in place, under
// WorkDir (gitopsd keeps it beside the cache, across restarts) or a
// temporary directory that lives as long as the manager. spec.include
// copies other GitRepositories' artifacts into a copy of that folder
// (assemble), never into it; the includers of a GitRepository are found
// through a field index and reconciled when its artifact changes.
//
// OCIRepository credentials come from spec.secretRef and the image pull
// secrets of spec.serviceAccountName; keyless signatures are checked
// against the trusted root of spec.verify.secretRef or, without one, the
// reconciler's TrustedRoot (gitopsd's --sigstore-trusted-root).
//
// OCIRepository revisions are "<tag>@sha256:<manifest digest>" (or
// "sha256:<digest>" for a digest reference).
//
// HelmRepository revisions are "sha256:<hex>" of the index.yaml, stored as
// fetched (a repository of type oci has no artifact). HelmChart revisions
// are the packaged chart's version; a HelmChart's source revision (the
// index's, an OCI chart's "<version>@sha256:<digest>", a Git/OCI/Bucket
// artifact's) is status.observedSourceArtifactRevision, and the charts of
// a source are found through a field index and reconciled when its
// artifact changes. Indexes are parsed once per digest into a repo.Cache
// both reconcilers share.
package source
