// Package codegen pins the code generators the repository runs
// (controller-gen, for the reference operator's deepcopy functions and CRD
// manifests). It is its own module, outside go.work, so the generators'
// dependencies never enter the libraries' build list; `make generate`
// builds them from here.
package codegen
