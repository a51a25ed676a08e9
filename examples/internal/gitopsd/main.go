package gitopsd

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/go-logr/logr"
	ctrl "sigs.k8s.io/controller-runtime"
)

// Exit codes of Main.
const (
	ExitOK     = 0 // stopped cleanly after SIGINT or SIGTERM
	ExitFailed = 1 // gitopsd could not start or failed while running
	ExitUsage  = 2 // invalid flags
)

// Main is the gitopsd command: it parses args (the command line without
// the program name), runs gitopsd until SIGINT or SIGTERM, and returns the
// exit code. Usage errors go to stderr, everything else to the log
// (--log-format, --log-level). It finds the API server as
// controller-runtime does: --kubeconfig, $KUBECONFIG, the in-cluster
// service account, then ~/.kube/config.
//
// Main sets controller-runtime's process-wide logger, as a main function
// does; it is exported so that tests can run the command in a child
// process of their own binary.
func Main(args []string, stderr io.Writer) int {
	opts := DefaultOptions()
	fs := flag.NewFlagSet(Name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	opts.BindFlags(fs)
	ctrl.RegisterFlags(fs) // --kubeconfig, read by ctrl.GetConfig
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		return ExitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "gitopsd: unexpected arguments %q\n", fs.Args())
		return ExitUsage
	}
	if err := opts.Validate(); err != nil {
		fmt.Fprintln(stderr, "gitopsd:", err)
		return ExitUsage
	}
	if opts.Controller.LogOutput == nil {
		opts.Controller.LogOutput = stderr
	}
	log, err := opts.Controller.Logger()
	if err != nil {
		fmt.Fprintln(stderr, "gitopsd:", err)
		return ExitUsage
	}
	ctrl.SetLogger(log)
	// Helm logs some lines through slog's default logger, not the one
	// helmutil hands it: a program, unlike a library, may route them.
	slog.SetDefault(slog.New(logr.ToSlogHandler(log)))

	cfg, err := ctrl.GetConfig()
	if err != nil {
		log.Error(err, "loading the Kubernetes client configuration")
		return ExitFailed
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log.Info("starting gitopsd", "storagePath", opts.StoragePath, "storageAddr", opts.StorageAddr)
	if err := Run(ctx, cfg, opts); err != nil {
		log.Error(err, "gitopsd stopped")
		return ExitFailed
	}
	log.Info("gitopsd stopped")
	return ExitOK
}
