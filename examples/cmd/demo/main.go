// Command demo is `make demo`: it shows gitopsd keeping a cluster in sync
// with a git repository, on a local control plane, a local git server and a
// sample application, and measures commit-to-applied latency with a
// reconcile request, a webhook and interval polling, alerting, a Helm
// release, and an image tag written back to git by image automation.
//
// Usage (from examples/, after `make controlplane`; `make demo` does this):
//
//	go build -o ~/.cache/gitopskit/bin/gitopsd ./cmd/gitopsd
//	go run ./cmd/demo --gitopsd ~/.cache/gitopskit/bin/gitopsd
//
// Without --gitopsd, gitopsd runs inside the demo's process. The demo exits
// 0 when every step succeeded, 1 when one failed, 130 when interrupted
// (Ctrl-C), after stopping everything it started and removing its
// temporary folder.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/go-logr/logr"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/gitopskit/kit/examples/internal/demo"
)

func main() {
	var opts demo.Options
	flag.StringVar(&opts.GitopsdBinary, "gitopsd", "", "The gitopsd binary to run; empty runs gitopsd in this process.")
	flag.DurationVar(&opts.PollInterval, "poll-interval", demo.DefaultPollInterval, "The GitRepository interval of the polling step.")
	flag.DurationVar(&opts.StepTimeout, "step-timeout", demo.DefaultStepTimeout, "How long each step may wait for gitopsd.")
	flag.DurationVar(&opts.ImageBatchWindow, "image-update-batch-window", demo.DefaultImageBatchWindow, "gitopsd's --image-update-batch-window in the image automation step.")
	flag.StringVar(&opts.ControlPlaneDir, "controlplane", "", "The folder holding kube-apiserver and etcd (default: $KUBEBUILDER_ASSETS, then the cache folder make controlplane fills).")
	flag.Parse()
	opts.Out = os.Stdout
	// gitopsd in process logs to its own file; controller-runtime's
	// process-wide logger would otherwise warn on stderr.
	ctrl.SetLogger(logr.Discard())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	_, err := demo.Run(ctx, opts)
	switch {
	case err == nil:
	case ctx.Err() != nil:
		fmt.Fprintln(os.Stderr, "demo interrupted; everything it started is stopped")
		os.Exit(130)
	default:
		os.Exit(1)
	}
}
