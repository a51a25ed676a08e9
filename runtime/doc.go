// Package runtime holds the conventions every controller built on gitopskit
// shares.
//
// Its sub-packages are independent of each other; import only what you use:
//
//   - conditions: get/set/mark conditions, compute Ready from the conditions a
//     controller owns, and check a condition set against kstatus.
//   - patch: write back what a reconcile changed without losing a concurrent
//     writer's conditions or finalizers.
//   - reconcile: reconcile-request annotations, the event predicate, suspend,
//     requeue jitter, and one mapping from outcome to conditions and result.
//   - dependency: stable topological order of dependsOn references, named
//     cycles, and dependency readiness with an optional CEL expression.
//   - acl: the cross-namespace reference policy.
//   - secrets: TLS, basic auth, bearer token, SSH, proxy and docker config from
//     Secrets, with errors that name keys and never values.
//   - metrics: Prometheus collectors for reconcile duration, conditions and
//     suspension.
//   - options: the flags every controller binary needs, and a manager built
//     from them.
//   - testenv: a real kube-apiserver and etcd for tests, one per test binary,
//     with a fresh namespace, CRD installation and impersonated clients per test.
package runtime
