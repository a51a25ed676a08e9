// Package ssa is a server-side apply engine: it applies a set of
// Kubernetes objects in dependency order, reports what changed, diffs,
// waits for the objects to become ready and prunes what left the set.
//
// # Apply
//
// Manager.Apply validates and normalises the whole set first (a namespaced
// object without a namespace gets ApplyOptions.DefaultNamespace, a
// namespace on a cluster-scoped object is an error, Service and container
// ports get an explicit TCP protocol, a Secret's stringData is merged into
// data) and rejects it before any write when something is wrong.
//
// It then orders the set as a dependency graph, not in fixed phases:
//   - a Namespace before the objects in it;
//   - a CustomResourceDefinition before its custom resources, which start
//     only once the CRD is Established and the RESTMapper serves the kind;
//   - a Role or ClusterRole before the bindings that reference it;
//   - a ServiceAccount before the workloads (Pod, Deployment, StatefulSet,
//     DaemonSet, ReplicaSet, Job, CronJob) that run as it;
//   - admission webhook configurations and admission policies after
//     everything else;
//   - the objects named in a config.kubernetes.io/depends-on annotation
//     (cli-utils format, see ParseDependsOn) before the annotated object.
//     A reference to an object outside the set is an error, as is a cycle;
//     both name the objects involved.
//
// Before any write, the API server validates the whole set: every object
// is read and sent as a server-side dry-run apply, concurrently (at most
// WithConcurrency at a time) and without waiting for dependencies. When
// the server rejects any object — its OpenAPI schema or a CRD's, a CEL
// validation rule, an admission webhook, a namespace that does not exist,
// missing permissions — nothing is written and Apply returns a *SetError
// naming every rejected object, so a bad commit does not leave the cluster
// half on the new revision. Two kinds of objects cannot be validated before
// the set's own writes and are validated as they are applied instead: the
// objects in a Namespace the set creates, and the custom resources of a
// CustomResourceDefinition the set creates or changes (decided from the
// set, the pre-flight's reads and the RESTMapper, without waiting). A set
// the API server rejects is not half-applied, except for those objects.
// An immutable-field change is not a rejection for an object that may be
// recreated.
//
// The writes then run in dependency order: each object starts as soon as
// the objects it depends on are done, with at most WithConcurrency objects
// in flight. The write phase reuses the pre-flight's GET and dry-run: the
// dry-run result is compared with the live object (ignoring
// resourceVersion, generation and managedFields timestamps): an unchanged
// object gets no write and keeps its resourceVersion; a changed one is
// applied with the owner's field manager and forced ownership; a new one
// is applied after its dry-run. Re-applying an unchanged set costs two
// read-only requests per object (a GET and a dry-run) and writes nothing;
// creating an object costs three (GET, dry-run, apply), two when it is
// validated as applied. An object that changes on the cluster between its
// pre-flight and its write is written as the pre-flight decided; the next
// Apply sees the change.
//
// # Policies
//
// Annotations on an object change how it is applied:
//   - ssa.gitopskit.dev/apply: Ignore — never applied nor pruned;
//   - ssa.gitopskit.dev/apply: IfNotPresent — created when absent, left
//     alone otherwise;
//   - ssa.gitopskit.dev/apply: Merge — applied without force and without the
//     fields other field managers hold (shared ones included), so their
//     values stay and no conflict arises;
//   - ssa.gitopskit.dev/recreate: enabled — when an update changes an
//     immutable field (an Invalid error whose causes say so), the object is
//     deleted, its deletion awaited, and created again. ApplyOptions.Recreate
//     allows this for every object;
//   - ssa.gitopskit.dev/prune: disabled — Prune leaves the object alone.
//
// Before the write, fields held by kubectl's client-side managers
// (DefaultTakeoverManagers, configurable with WithTakeoverManagers) are
// moved to the owner's Apply entry with one JSON patch of managedFields
// (guarded by the resourceVersion), and kubectl's last-applied annotation
// is removed, so fields that left the manifests are removed on the next
// apply instead of lingering under kubectl's name.
//
// # Results and errors
//
// Apply returns a ChangeSet (created, configured, unchanged, skipped,
// recreated per object) and, on failure, a *SetError naming every failed
// object and why: every object the pre-flight rejected (and then an empty
// ChangeSet), or the objects that failed while being applied; objects that
// depend on a failed one fail with a *DependencyError without being tried.
//
// # Diff, Wait, Inventory and Prune
//
// Manager.Diff returns, per object, the action Apply would take, a unified
// YAML diff and an RFC 6902 JSON patch, computed from a server-side
// dry-run. Secret values are masked ("***" when equal on both sides,
// "*** (before)" and "*** (after)" when changed).
//
// Manager.Wait watches the objects (list then watch per kind and namespace,
// resumed on disconnect) and computes their status with kstatus, with CEL
// health rules per kind.
//
// Inventory records the applied objects in Flux's format and tells which
// left the set; Manager.Prune deletes those in reverse dependency order.
//
// The Manager logs through the logr.Logger in the context and never prints.
package ssa
