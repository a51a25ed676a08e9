package gitopsctl

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

type suspendOptions struct {
	all  bool
	wait bool
	reconcileOptions
}

// suspendCommand is suspend (suspend true) or resume.
func (a *app) suspendCommand(suspend bool) *cobra.Command {
	var o suspendOptions
	verb, long := "resume", `resume sets spec.suspend to false and asks for a reconcile at once, then
follows it as reconcile does (--wait=false returns at once). The exit code
is 1 when a resumed object fails to reconcile.`
	short := "Resume suspended objects and wait for their next reconcile"
	if suspend {
		verb, short = "suspend", "Stop gitopsd from reconciling objects"
		long = `suspend sets spec.suspend to true: gitopsd leaves the object alone (no
fetch, apply or prune) until it is resumed.`
	}
	cmd := &cobra.Command{
		Use:               verb + " <kind> <name>|--all",
		Short:             short,
		Long:              long,
		Example:           fmt.Sprintf("  gitopsctl %s ks podinfo\n  gitopsctl %s source git --all -n apps", verb, verb),
		ValidArgsFunction: a.completeKindThenName,
		RunE: func(cmd *cobra.Command, args []string) error {
			k, rest, err := parseKind(args)
			if err != nil {
				return err
			}
			if o.all != (len(rest) == 0) || len(rest) > 1 {
				return usageErrorf("%s: want <kind> <name>, or <kind> --all", verb)
			}
			cl, err := a.cluster()
			if err != nil {
				return err
			}
			var keys []client.ObjectKey
			if o.all {
				items, err := cl.list(cmd.Context(), k, a.listNamespace(cl))
				if err != nil {
					return err
				}
				sortObjects(items)
				for _, it := range items {
					if k.statusOf(&it).Suspended != suspend {
						keys = append(keys, client.ObjectKeyFromObject(&it))
					}
				}
				if len(keys) == 0 {
					a.err.success("no %s to %s in %s", k.Kind, verb, namespaceNoun(a.listNamespace(cl)))
					return nil
				}
			} else {
				keys = []client.ObjectKey{{Namespace: cl.namespace, Name: rest[0]}}
			}
			if suspend {
				return a.suspend(cmd.Context(), cl, k, keys)
			}
			return a.resume(cmd.Context(), cl, k, keys, o)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.all, "all", false, "Every object of the kind in the namespace (or every namespace with -A).")
	a.addAllNamespaces(cmd)
	if !suspend {
		f.BoolVar(&o.wait, "wait", true, "Wait for the resumed objects' reconcile.")
		f.DurationVar(&o.timeout, "timeout", DefaultTimeout, "How long to wait for each reconcile.")
	}
	return cmd
}

func (a *app) suspend(ctx context.Context, cl *cluster, k *kind, keys []client.ObjectKey) error {
	for _, key := range keys {
		a.err.step("suspending %s %s", k.Kind, displayKey(key))
		if _, err := mergePatch(ctx, cl, k, key, specPatch(k.Suspend, true)); err != nil {
			return err
		}
		a.err.success("%s %s suspended", k.Kind, displayKey(key))
	}
	return nil
}

func (a *app) resume(ctx context.Context, cl *cluster, k *kind, keys []client.ObjectKey, o suspendOptions) error {
	type pending struct {
		key       client.ObjectKey
		token, rv string
	}
	var ps []pending
	for _, key := range keys {
		a.err.step("resuming %s %s", k.Kind, displayKey(key))
		// One patch: the spec change and a reconcile request, so gitopsd
		// reconciles at once and says when it did.
		token, rv, err := requestReconcile(ctx, cl, k, key, false, false, specPatch(k.Suspend, false)["spec"].(map[string]any))
		if err != nil {
			return err
		}
		ps = append(ps, pending{key, token, rv})
	}
	if !o.wait {
		a.err.success("resumed %d %s", len(ps), plural(len(ps), k.Kind))
		return nil
	}
	var errs []error
	for _, p := range ps {
		if err := a.follow(ctx, cl, k, p.key, p.token, p.rv, o.timeout); err != nil {
			var ee *exitError
			if !errors.As(err, &ee) {
				return err
			}
			a.errorf("%v", ee.err)
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return failed(nil)
	}
	return nil
}

// specPatch returns the merge patch setting the field at path (under
// spec) to v.
func specPatch(path []string, v any) map[string]any {
	var cur any = v
	for i := len(path) - 1; i >= 0; i-- {
		cur = map[string]any{path[i]: cur}
	}
	return cur.(map[string]any)
}

func plural(n int, s string) string {
	if n == 1 {
		return s
	}
	return s + "s"
}
