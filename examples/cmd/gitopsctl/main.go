// Command gitopsctl drives gitopsd, the gitopskit reference operator, from
// the command line, as Flux's CLI drives Flux: get, reconcile, suspend and
// resume objects, diff and build a local folder as a Kustomization would
// apply it, tree and trace what gitopsd manages, events, export, create,
// install, check, bootstrap from git, OCI artifacts, and convert Flux
// manifests.
//
// Usage:
//
//	gitopsctl <command> [flags]
//
// Run gitopsctl --help for the commands; examples/README.md has the
// reference. The exit code is 0 when the command succeeded, 1 when its
// outcome is a failure (a failed reconcile, changes found by diff, a
// failed check) and 2 when it could not run.
package main

import (
	"os"

	"github.com/gitopskit/kit/examples/internal/gitopsctl"
)

func main() {
	os.Exit(gitopsctl.Main(os.Args[1:]))
}
