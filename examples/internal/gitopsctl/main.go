package gitopsctl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/rest"
)

// Exit codes of Run and Main.
const (
	// ExitOK: the command did what it was asked, and found nothing wrong
	// (diff: no changes).
	ExitOK = 0
	// ExitFailure: the command ran and the outcome is a failure: a
	// reconcile that failed or timed out, changes found by diff, a failed
	// check, fields convert could not carry over.
	ExitFailure = 1
	// ExitError: the command could not run: a usage error, an object or a
	// CRD not found, the API server unreachable, invalid input.
	ExitError = 2
)

// Options are what Run needs from its caller. The zero value reads the
// process's standard streams and environment.
type Options struct {
	// Stdin, Stdout and Stderr are the command's streams; nil means the
	// process's. Data (tables, YAML, diffs) goes to Stdout, progress and
	// errors to Stderr.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Color forces colour on (true) or off (false); nil decides per
	// stream: on when it is a terminal, NO_COLOR is not set and
	// --no-color is not given.
	Color *bool
	// Config, when set, is the cluster to talk to instead of the one the
	// kubeconfig flags select (tests, the demo).
	Config *rest.Config
	// Namespace is the default namespace when -n is not given and the
	// kubeconfig names none; empty means DefaultNamespace.
	Namespace string
	// Now returns the current time (ages, elapsed times); nil means
	// time.Now.
	Now func() time.Time
	// Getenv reads the environment; nil means os.Getenv.
	Getenv func(string) string
}

// DefaultNamespace is where gitopsd runs and where gitopsctl looks when
// neither -n nor the kubeconfig's context names a namespace.
const DefaultNamespace = "gitopskit-system"

// Main runs the gitopsctl command with the process's streams until it
// ends or SIGINT/SIGTERM, and returns the exit code.
func Main(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return Run(ctx, args, Options{})
}

// Run runs the gitopsctl command line args (without the program name) and
// returns its exit code. It is the whole command: Main calls it with the
// process's streams, tests and the demo with their own.
func Run(ctx context.Context, args []string, opts Options) int {
	a := newApp(opts)
	root := a.rootCommand()
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			a.errorf("%v", ee.err)
		}
		return ee.code
	}
	a.errorf("%v", err)
	if isUsage(err) {
		fmt.Fprintf(a.stderr, "Run '%s --help' for usage.\n", commandPath(root, args))
	}
	return ExitError
}

// commandPath names the (sub)command args run, for the usage hint.
func commandPath(root *cobra.Command, args []string) string {
	c, _, err := root.Find(args)
	if err != nil || c == nil {
		return root.Name()
	}
	return c.CommandPath()
}

// exitError ends a command with an exit code other than ExitError; err,
// when not nil, is printed first.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit code %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// failed returns the error of a command whose outcome is a failure
// (ExitFailure); err, when not nil, is printed.
func failed(err error) error { return &exitError{code: ExitFailure, err: err} }

// failedf is failed with a formatted message.
func failedf(format string, args ...any) error { return failed(fmt.Errorf(format, args...)) }

// usageError is a command line that cannot be run.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

func isUsage(err error) bool {
	var u *usageError
	if errors.As(err, &u) {
		return true
	}
	// cobra's own: unknown command or flag, wrong number of arguments.
	msg := err.Error()
	for _, s := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "flag needs an argument", "invalid argument", "accepts ", "requires at least", "requires at most", "required flag"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// exactArgs checks the number of positional arguments, as a usage error.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageErrorf("%s: want %s, got %d argument(s)", cmd.CommandPath(), what, len(args))
		}
		return nil
	}
}
