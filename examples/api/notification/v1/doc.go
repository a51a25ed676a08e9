// Package v1 is the notification.gitopskit.dev/v1 API of the reference
// operator: Provider (where notifications go and with which credentials),
// Alert (which events of which objects notify a Provider) and Receiver (a
// webhook that asks for objects to be reconciled). The field shapes are
// those of Flux's notification.toolkit.fluxcd.io v1beta3 Provider and Alert
// and v1 Receiver, so a Flux object translates field for field.
//
// +kubebuilder:object:generate=true
// +groupName=notification.gitopskit.dev
package v1
