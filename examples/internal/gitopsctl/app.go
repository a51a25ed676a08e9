package gitopsctl

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"
)

// app is one run of the command: its streams, its global flags and the
// cluster it talks to, connected on first use.
type app struct {
	opts           Options
	stdin          io.Reader
	stdout, stderr io.Writer
	out, err       *printer // stdout and stderr, with colour as decided

	// Global flags.
	kubeconfig, kubecontext, namespace string
	allNamespaces                      bool
	noColor                            bool

	cl *cluster
}

func newApp(opts Options) *app {
	a := &app{opts: opts, stdin: opts.Stdin, stdout: opts.Stdout, stderr: opts.Stderr}
	if a.stdin == nil {
		a.stdin = os.Stdin
	}
	if a.stdout == nil {
		a.stdout = os.Stdout
	}
	if a.stderr == nil {
		a.stderr = os.Stderr
	}
	if a.opts.Now == nil {
		a.opts.Now = time.Now
	}
	if a.opts.Getenv == nil {
		a.opts.Getenv = os.Getenv
	}
	a.out, a.err = a.printer(a.stdout), a.printer(a.stderr)
	return a
}

// printer returns a printer on w, colouring as Options and the
// environment say; --no-color is applied once flags are parsed.
func (a *app) printer(w io.Writer) *printer {
	color := false
	switch {
	case a.opts.Color != nil:
		color = *a.opts.Color
	case a.opts.Getenv("NO_COLOR") != "":
	default:
		color = isTerminal(w)
	}
	return &printer{w: w, color: color, tty: isTerminal(w), now: a.opts.Now}
}

// errorf prints an error on stderr.
func (a *app) errorf(format string, args ...any) {
	a.err.line(red, "✗ "+format, args...)
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "gitopsctl",
		Short: "Drive gitopsd, the gitopskit reference operator, from the command line",
		Long: `gitopsctl shows and drives gitopsd's objects (GitRepository, OCIRepository,
Bucket, Kustomization): get, reconcile, suspend and resume them, preview a change
with diff and build before merging it, see what a Kustomization owns (tree)
and who manages an object (trace), install gitopsd or bootstrap it from a
git repository, push artifacts to OCI registries, and convert Flux
manifests.

Exit codes: 0 ok, 1 failure (a failed reconcile, changes found by diff, a
failed check), 2 error (usage, not found, unreachable).`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRun: func(*cobra.Command, []string) {
			if a.noColor {
				a.out.color, a.err.color = false, false
			}
		},
	}
	root.SetIn(a.stdin)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{msg: err.Error()} })
	pf := root.PersistentFlags()
	pf.StringVar(&a.kubeconfig, "kubeconfig", "", "Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config).")
	pf.StringVar(&a.kubecontext, "context", "", "The kubeconfig context to use.")
	pf.StringVarP(&a.namespace, "namespace", "n", "", fmt.Sprintf("The namespace (default: the context's, else %s).", DefaultNamespace))
	pf.BoolVar(&a.noColor, "no-color", false, "Never colour the output (colour is used only on a terminal, and not when NO_COLOR is set).")

	root.AddCommand(
		a.getCommand(),
		a.reconcileCommand(),
		a.suspendCommand(true),
		a.suspendCommand(false),
		a.diffCommand(),
		a.buildCommand(),
		a.treeCommand(),
		a.traceCommand(),
		a.eventsCommand(),
		a.exportCommand(),
		a.createCommand(),
		a.installCommand(),
		a.uninstallCommand(),
		a.checkCommand(),
		a.bootstrapCommand(),
		a.artifactCommand(),
		a.convertCommand(),
		a.versionCommand(),
	)
	return root
}

// addAllNamespaces adds -A to cmd.
func (a *app) addAllNamespaces(cmd *cobra.Command) {
	cmd.Flags().BoolVarP(&a.allNamespaces, "all-namespaces", "A", false, "In every namespace.")
}
