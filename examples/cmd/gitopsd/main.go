// Command gitopsd is the gitopskit reference operator: it keeps a cluster
// in sync with Git repositories and OCI artifacts, the way Flux's
// source-controller and kustomize-controller do, in one process.
//
// Usage:
//
//	gitopsd --storage-path=/data [flags]
//
// Run gitopsd -h for the flags; examples/README.md describes them and
// examples/config deploys gitopsd to a cluster. The API server is found as
// controller-runtime finds it: --kubeconfig, $KUBECONFIG, the in-cluster
// service account, then ~/.kube/config. The exit code is 0 after a clean
// shutdown on SIGINT or SIGTERM, 1 when gitopsd failed, 2 for bad flags.
package main

import (
	"os"

	"github.com/gitopskit/kit/examples/internal/gitopsd"
)

func main() {
	os.Exit(gitopsd.Main(os.Args[1:], os.Stderr))
}
