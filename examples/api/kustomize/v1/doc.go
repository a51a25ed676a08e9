// Package v1 is the kustomize.gitopskit.dev/v1 API of the reference
// operator: Kustomization, which builds a folder of a source's artifact
// with kustomize and keeps the result applied to the cluster.
//
// +kubebuilder:object:generate=true
// +groupName=kustomize.gitopskit.dev
package v1
