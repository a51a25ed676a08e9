// Package helmutil is Helm for GitOps controllers, on the Helm v4 SDK:
// chart repositories whose indexes are parsed as a stream into a compact
// table (helmutil/repo), charts loaded, built and packaged reproducibly
// (helmutil/chart), values composed from references (helmutil/values), and
// releases driven step by step by a state machine that recovers from
// interrupted actions and reports drift honestly (helmutil/release).
// helmutil/helmtest serves chart repositories for tests.
package helmutil
