package gitopsctl

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/ssa"

	kustomizev1 "github.com/gitopskit/kit/examples/api/kustomize/v1"
	ksctl "github.com/gitopskit/kit/examples/internal/controller/kustomize"
)

type diffOptions struct {
	localOptions
	timeout time.Duration
}

func (a *app) diffCommand() *cobra.Command {
	var o diffOptions
	cmd := &cobra.Command{
		Use:   "diff kustomization <name> --path <dir>",
		Short: "Show what applying a local folder with a Kustomization's settings would change",
		Long: `diff builds a local folder (a checkout of a pull request, say) exactly as
gitopsd builds the Kustomization's spec.path — its overlay, its
postBuild substitutions (reading the ConfigMaps and Secrets it names) —
then asks the API server for a server-side dry-run of every object as
gitopsd would apply it, and prints a unified diff per object, the objects
that would be created, and those that would be pruned.

Secret values are masked; SOPS-encrypted values are not decrypted (no key
is needed): an encrypted Secret counts as changed only when its keys do.

Exit codes: 0 no changes, 1 changes, 2 error — ready for CI.`,
		Example: `  gitopsctl diff ks apps --path ./clusters/production/apps
  gitopsctl diff kustomization podinfo -n apps --path ./deploy --root .`,
		ValidArgsFunction: a.completeKustomization,
		RunE: func(cmd *cobra.Command, args []string) error {
			name, err := kustomizationArg(args)
			if err != nil {
				return err
			}
			return a.diff(cmd.Context(), name, o)
		},
	}
	o.bind(cmd)
	cmd.Flags().DurationVar(&o.timeout, "timeout", DefaultTimeout, "How long the build and the dry-run may take.")
	return cmd
}

// kustomizationArg reads "kustomization <name>" (or ks/<name>).
func kustomizationArg(args []string) (string, error) {
	k, rest, err := parseKind(args)
	if err != nil {
		return "", err
	}
	if k.Kind != kustomizev1.KustomizationKind {
		return "", &usageError{msg: errNotKustomization.Error()}
	}
	if len(rest) != 1 {
		return "", usageErrorf("want kustomization <name>")
	}
	return rest[0], nil
}

// change is one line of diff's report.
type change struct {
	id     ssa.ObjectID
	action string
	diff   string
}

func (a *app) diff(ctx context.Context, name string, o diffOptions) error {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	cl, err := a.cluster()
	if err != nil {
		return err
	}
	key := client.ObjectKey{Namespace: cl.namespace, Name: name}
	ks := &kustomizev1.Kustomization{}
	if err := cl.c.Get(ctx, key, ks); err != nil {
		return readable(err, kustomizev1.GroupVersion.WithKind(kustomizev1.KustomizationKind).GroupKind(), kustomizev1.GroupVersion.String(), key)
	}
	b, err := a.buildLocal(ctx, cl.c, ks, o.localOptions)
	if err != nil {
		return err
	}
	for obj := range b.encrypted {
		if !isSecret(obj) {
			a.err.warn("%s is SOPS-encrypted and not a Secret: its encrypted values are compared as they are", ssa.IDOf(obj))
			continue
		}
		live := &corev1.Secret{}
		ns := obj.GetNamespace()
		if ns == "" {
			ns = ks.Namespace
		}
		if err := cl.c.Get(ctx, client.ObjectKey{Namespace: ns, Name: obj.GetName()}, live); err != nil {
			if !apierrors.IsNotFound(err) {
				return err
			}
			live = nil
		}
		keepLiveSecretValues(obj, live)
	}
	mgr, err := ksctl.NewApplyManager(cl.c, ks)
	if err != nil {
		return err
	}
	diffs, err := mgr.Diff(ctx, b.objs, ssa.DiffOptions{DefaultNamespace: ks.Namespace, IgnoreRules: ksctl.IgnoreRules(ks)})
	var setErr *ssa.SetError
	if err != nil && !errors.As(err, &setErr) {
		return fmt.Errorf("dry-run: %w", err)
	}
	var changes []change
	next := &ssa.Inventory{}
	unchanged := 0
	for _, d := range diffs {
		next.Add(d.ID, "")
		switch d.Action {
		case ssa.ActionUnchanged:
			unchanged++
		case ssa.ActionSkipped:
			changes = append(changes, change{id: d.ID, action: "skipped"})
		default:
			changes = append(changes, change{id: d.ID, action: string(d.Action), diff: d.Unified})
		}
	}
	if setErr != nil {
		for _, oe := range setErr.Objects {
			next.Add(oe.ID, "")
		}
	}
	pruned, err := a.wouldPrune(ctx, cl, ks, next)
	if err != nil {
		return err
	}
	changes = append(changes, pruned...)
	a.printChanges(changes)
	if setErr != nil {
		for _, oe := range setErr.Objects {
			a.errorf("%s: %v", oe.ID, oe.Err)
		}
		return &exitError{code: ExitError, err: fmt.Errorf("the dry-run failed for %d of %d objects", len(setErr.Objects), len(b.objs))}
	}
	n := 0
	for _, c := range changes {
		if c.action != "skipped" {
			n++
		}
	}
	if n == 0 {
		a.err.success("no changes: %d objects unchanged", unchanged)
		return nil
	}
	a.err.warn("%d %s would change, %d unchanged", n, plural(n, "object"), unchanged)
	return failed(nil)
}

// wouldPrune returns the objects of the Kustomization's inventory that
// left the build and that a prune would delete.
func (a *app) wouldPrune(ctx context.Context, cl *cluster, ks *kustomizev1.Kustomization, next *ssa.Inventory) ([]change, error) {
	if !ks.Spec.Prune || ks.Status.Inventory == nil {
		return nil, nil
	}
	old := &ssa.Inventory{}
	for _, e := range ks.Status.Inventory.Entries {
		id, err := ssa.ParseInventoryID(e.ID)
		if err != nil {
			return nil, fmt.Errorf("status.inventory: %w", err)
		}
		old.Add(id, e.Version)
	}
	stale, err := old.Diff(next).Objects()
	if err != nil {
		return nil, err
	}
	var out []change
	for _, obj := range stale {
		live := obj.DeepCopy()
		if err := cl.c.Get(ctx, client.ObjectKeyFromObject(obj), live); err != nil {
			if apierrors.IsNotFound(err) {
				continue // already gone
			}
			return nil, err
		}
		id := ssa.IDOf(obj)
		if live.GetAnnotations()[ssa.PruneAnnotation] == ssa.Disabled {
			out = append(out, change{id: id, action: "skipped"})
			continue
		}
		out = append(out, change{id: id, action: "pruned"})
	}
	return out, nil
}

// printChanges prints one header per changed object, and its diff.
func (a *app) printChanges(changes []change) {
	p := a.out
	for _, c := range changes {
		switch c.action {
		case string(ssa.ActionCreated):
			p.line(green, "► %s created", c.id)
		case string(ssa.ActionConfigured):
			p.line(yellow, "► %s configured", c.id)
			a.printUnified(c.diff)
		case "pruned":
			p.line(red, "► %s pruned", c.id)
		case "skipped":
			p.line(plain, "► %s skipped", c.id)
		default:
			p.line(plain, "► %s %s", c.id, c.action)
		}
	}
}

// printUnified prints a unified diff, coloured line by line.
func (a *app) printUnified(diff string) {
	for _, l := range strings.SplitAfter(strings.TrimRight(diff, "\n"), "\n") {
		l = strings.TrimRight(l, "\n")
		c := plain
		switch {
		case strings.HasPrefix(l, "+++"), strings.HasPrefix(l, "---"):
			c = bold
		case strings.HasPrefix(l, "@@"):
			c = cyan
		case strings.HasPrefix(l, "+"):
			c = green
		case strings.HasPrefix(l, "-"):
			c = red
		}
		a.out.line(c, "%s", l)
	}
}

// buildObjectsForOutput masks what build must not print and stamps the
// ownership labels gitopsd applies.
func buildObjectsForOutput(b *built, ks *kustomizev1.Kustomization) []*unstructured.Unstructured {
	for _, obj := range b.objs {
		if isSecret(obj) {
			maskSecretValues(obj, b.encrypted[obj])
		}
		labels := obj.GetLabels()
		if labels == nil {
			labels = map[string]string{}
		}
		labels[kustomizev1.GroupVersion.Group+"/name"] = ks.Name
		labels[kustomizev1.GroupVersion.Group+"/namespace"] = ks.Namespace
		obj.SetLabels(labels)
	}
	return b.objs
}
