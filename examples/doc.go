// Package examples is the module of gitopsd, the reference operator built
// from gitopskit's public APIs alone: GitRepository and OCIRepository
// sources, and Kustomizations that keep their builds applied. See
// README.md for running it and the demo.
package examples
