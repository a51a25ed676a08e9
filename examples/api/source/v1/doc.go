// Package v1 is the source.gitopskit.dev/v1 API of the reference operator:
// GitRepository, OCIRepository and Bucket. A source controller fetches and verifies
// the source, packages it as an artifact (github.com/gitopskit/kit/artifact)
// and records it in status.artifact, where consumers such as the
// Kustomization controller pick it up.
//
// +kubebuilder:object:generate=true
// +groupName=source.gitopskit.dev
package v1
