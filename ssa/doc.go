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
// Apply first reads the live objects: one list per GroupVersionKind and
// namespace (a GET for a lone object of a cluster-scoped kind, and for
// CustomResourceDefinitions), so an object the list does not hold is new
// and needs no GET. An identity that may not list a kind reads its objects
// one by one.
//
// Before any write, the API server validates the whole set: every object
// that would change is sent as a server-side dry-run apply, concurrently
// (at most WithConcurrency at a time) and without waiting for
// dependencies; an object found unchanged without a request (see "The
// local decision") is not sent. When the server rejects any object — its
// OpenAPI schema or a CRD's, a CEL validation rule, an admission webhook,
// a namespace that does not exist, missing permissions — nothing is
// written and Apply returns a *SetError naming every rejected object, so a
// bad commit does not leave the cluster half on the new revision. Two
// kinds of objects cannot be validated before the set's own writes and are
// validated as they are applied instead: the objects in a Namespace the
// set creates, and the custom resources of a CustomResourceDefinition the
// set creates or changes (decided from the set, the pre-flight's reads and
// the RESTMapper, without waiting). A set the API server rejects is not
// half-applied, except for those objects. An immutable-field change is not
// a rejection for an object that may be recreated. An object the local
// decision finds unchanged is not validated again: nothing of it would be
// written.
//
// The writes then run in dependency order: each object starts as soon as
// the objects it depends on are done, with at most WithConcurrency objects
// in flight. The write phase acts on the pre-flight's decision: the
// dry-run result is compared with the live object (ignoring
// resourceVersion, generation and managedFields timestamps): an unchanged
// object gets no write and keeps its resourceVersion; a changed one is
// applied with the owner's field manager and forced ownership; a new one
// is applied after its dry-run. With WithSchemas, re-applying an unchanged
// set costs one list per kind and namespace and three small requests per
// call (the OpenAPI index and the mutating admission configuration), and
// writes nothing; a changed object costs two requests (its dry-run and its
// write), a new one two (one when it is validated as applied, in a
// namespace the set creates, or with ApplyOptions.DisablePreflight, which
// writes without the whole-set validation). Without it, or with
// ApplyOptions.DisableLocalDecision, an unchanged object costs a GET and
// a dry-run, as in Flux's ssa package. An object that changes on the
// cluster between the list and its write is written as the pre-flight
// decided; the next Apply sees the change.
//
// # The local decision
//
// With WithSchemas, the Manager decides without a request that an
// existing object is unchanged: it runs, on the listed object, the API
// server's own server-side apply code (k8s.io/apimachinery's managedfields
// FieldManager over structured-merge-diff) with the schema the server
// publishes for the object's GroupVersion (OpenAPI v3, fetched once and
// fetched again when the server's index gives it a new hash, which it
// does when a CustomResourceDefinition changes), and skips the object
// when the result equals the live object: every value the same, and the
// same managed fields, so the owner's field set is exactly what it would
// apply. That is the question the dry-run answers, asked of the same code
// with the same inputs. Every doubt goes to the API server instead, so
// the answer is never worse than a dry-run's:
//   - no schema for the kind, or an object that does not fit it;
//   - a map or list under a part of the schema that types nothing
//     (x-kubernetes-preserve-unknown-fields, an int-or-string holding an
//     object), or a null value;
//   - a mutating admission webhook or policy whose rules may match an
//     update of the object (namespace selectors and match conditions are
//     taken to match), or admission configuration the Schemas' identity
//     cannot list;
//   - a field the object sets that another field manager owns too;
//   - fields held by kubectl's managers (taken over first);
//   - values the server normalises: a quantity written 0.5 where 500m is
//     stored, an integer written as a string, a defaulted field set or
//     dropped — the merge differs from the live object, and only the
//     server can tell whether its answer does;
//   - managed fields recorded in another API version, a conflict (Merge
//     policy), anything the field manager refuses.
//
// Server-side defaulting needs no model: the live object is already
// defaulted, and an apply that leaves it unchanged gives the server
// nothing to default. Whole numbers decoded as floats are compared as the
// integers encoding/json sends.
//
// Why a list is a safe basis: the lists are consistent reads (no
// resourceVersion, so the API server serves them at its current state), so
// every write completed before Apply started, its own previous writes
// included, is in them. The decision is about the object at the listed
// resourceVersion, and includes its managed fields: a change by anyone
// else since our last apply either changed a value (the merge sees it) or
// took a field from us (the field sets differ). A skip writes nothing, so
// it can only be wrong about a change made after the list — the same
// window GET-then-dry-run has between its two requests, and the next
// Apply sees it. A decision already made for the same inputs (schema
// hash, object UID and resourceVersion, desired object, field manager,
// force) is remembered by the Schemas, so a steady state costs a digest
// per object instead of a merge. Right after a CustomResourceDefinition
// changes, the API server takes a moment (well under a second here) to
// publish its new schema; an Apply in that moment decides with the
// previous one, and the next one with the new one.
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
// The ChangeSet is never nil, also alongside an error (empty when the set
// was refused before any write), and InventoryFromChangeSet accepts nil.
// A failed object whose write was sent and not refused (a timeout, a
// dropped connection: the API server may have stored it) is marked
// ObjectError.MayExist; InventoryFromResult adds those to the ChangeSet's
// objects, the inventory to keep after a failed apply.
//
// # Ignore rules
//
// ApplyOptions.IgnoreRules and DiffOptions.IgnoreRules (JSON pointers and a
// selector, Flux's driftIgnoreRules) leave fields to other field managers:
// Diff shows no drift in them, Apply neither applies them nor counts them
// as a change on an existing object. Leaving a field out of an apply makes
// the API server delete it when the owner alone held it, so Apply sends
// such a field with its live value instead, and leaves out a field another
// manager holds (so the owner gives up its share); see IgnoreRule.
// IgnoreOthersFields, in both, leaves out every field other managers hold
// and the owner does not (kubectl's managers excepted: their changes are
// drift), so a drift check and its correction agree on what is drift.
//
// # Diff, Wait, Inventory and Prune
//
// Manager.Diff returns, per object, the action Apply would take, a unified
// YAML diff and an RFC 6902 JSON patch, computed from a server-side
// dry-run, or without a request when the local decision finds the object
// unchanged (its ignore rules and IgnoreOthersFields included). Secret
// values are masked ("***" when equal on both sides, "*** (before)" and
// "*** (after)" when changed).
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
