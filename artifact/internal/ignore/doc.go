// Package ignore holds the .gitignore-syntax rules that archive applies
// when it packs a directory and bucket applies before it downloads
// anything, written once so that both leave out exactly the same paths.
//
// Patterns are go-git's gitignore patterns. A pattern read from a
// .sourceignore file applies to the directory the file is in (its domain)
// and below; the last matching pattern wins.
package ignore
