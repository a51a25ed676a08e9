// Package helmutil is Helm for GitOps controllers, on the Helm v4 SDK:
// chart repositories whose indexes are parsed as a stream into a compact
// table with Helm's answers (helmutil/repo, HTTP and OCI), charts loaded
// from hostile packages and artifact directories, built and packaged
// reproducibly (helmutil/chart), values composed from references
// (helmutil/values), and releases driven step by step by a state machine
// that recovers from interrupted actions and reports drift honestly
// (helmutil/release). helmutil/helmtest serves chart repositories for
// tests, made by Helm's own packager, signer and indexer.
package helmutil
