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
// service account, then ~/.kube/config.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/gitopskit/kit/examples/internal/gitopsd"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

// run parses args, runs gitopsd until SIGINT or SIGTERM and returns the
// exit code: 0 after a clean shutdown, 1 when gitopsd failed, 2 for bad
// flags.
func run(args []string) int {
	opts := gitopsd.DefaultOptions()
	fs := flag.NewFlagSet("gitopsd", flag.ContinueOnError)
	opts.BindFlags(fs)
	ctrl.RegisterFlags(fs) // --kubeconfig, read by ctrl.GetConfig
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if err := opts.Validate(); err != nil {
		fmt.Fprintln(os.Stderr, "gitopsd:", err)
		return 2
	}
	log, err := opts.Controller.Logger()
	if err != nil {
		fmt.Fprintln(os.Stderr, "gitopsd:", err)
		return 2
	}
	ctrl.SetLogger(log)

	cfg, err := ctrl.GetConfig()
	if err != nil {
		log.Error(err, "loading the Kubernetes client configuration")
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log.Info("starting gitopsd", "storagePath", opts.StoragePath, "storageAddr", opts.StorageAddr)
	if err := gitopsd.Run(ctx, cfg, opts); err != nil {
		log.Error(err, "gitopsd stopped")
		return 1
	}
	log.Info("gitopsd stopped")
	return 0
}
