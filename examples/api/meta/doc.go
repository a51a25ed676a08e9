// Package meta holds the reference types the reference operator's APIs
// share: references to objects in the same namespace or across namespaces,
// and the status fields every reconciled object carries.
//
// +kubebuilder:object:generate=true
package meta
