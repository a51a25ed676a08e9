// Package v1 is the helm.gitopskit.dev/v1 API of the reference operator:
// HelmRelease, which keeps a Helm release of a chart installed, upgraded,
// tested and remediated as its spec says, the way Flux's helm-controller
// does, with Flux's field names (helm.toolkit.fluxcd.io/v2).
//
// +kubebuilder:object:generate=true
// +groupName=helm.gitopskit.dev
package v1
