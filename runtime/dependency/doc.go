// Package dependency orders objects by their dependsOn references and decides
// whether a dependency is ready.
//
// # Ordering
//
// Sort is a stable topological sort: every item comes after the items it
// depends on, and independent items keep their input order (an input that is
// already correctly ordered comes back unchanged). Levels groups the same
// order into stages whose members may be handled concurrently. A dependency
// cycle is reported as a *CycleError that names one cycle:
//
//	dependency cycle: apps/a -> apps/b -> apps/a
//
// A reference with an empty namespace means the dependent's own namespace, as
// in Flux. References to objects outside the sorted set are ignored by Sort and
// Levels (they impose no order among the given items); Missing lists them, so
// a controller can report "dependency 'ns/name' not found" where it makes sense.
//
// # Readiness
//
// CheckReady decides whether a dependency object is ready: its Ready condition
// is True and it reports having observed its current generation
// (status.observedGeneration, and the Ready condition's observedGeneration
// when set, equal metadata.generation), and it is not being deleted. An
// optional CEL expression (ReadyExpr) adds a check of its own or replaces the
// built-in one for kinds that have no Ready condition. A dependency that is
// not ready yields a *NotReadyError whose message is ready to be put in a
// condition:
//
//	dependency 'apps/db' is not ready: Ready condition is False: Progressing: waiting for rollout
package dependency
