// Package runtime holds the conventions every controller built on gitopskit
// shares.
//
// Its sub-packages are independent of each other; import only what you use:
//
//   - testenv: a real kube-apiserver and etcd for tests, one per test binary,
//     with a fresh namespace, CRD installation and impersonated clients per test.
package runtime
