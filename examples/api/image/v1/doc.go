// Package v1 is the image.gitopskit.dev/v1 API of the reference operator:
// ImageRepository (scan a registry's tags), ImagePolicy (choose the latest
// of them) and ImageUpdateAutomation (write the chosen images back to a
// git repository and push). The field shapes are those of Flux's
// image.toolkit.fluxcd.io v1beta2, so a Flux object translates field for
// field.
//
// +kubebuilder:object:generate=true
// +groupName=image.gitopskit.dev
package v1
