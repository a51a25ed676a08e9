package gitopsctl

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/gitopskit/kit/runtime/reconcile"
	"github.com/gitopskit/kit/ssa"
)

func (a *app) exportCommand() *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "export <kind>|sources|all [name]|--all",
		Short: "Print objects as clean YAML, for backup or migration",
		Long: `export prints objects as YAML without status and without what the API
server and gitopsd add (uid, resourceVersion, managedFields, finalizers,
reconcile requests), ready to be committed or applied elsewhere. Secrets
the objects refer to are not exported.`,
		Example:           "  gitopsctl export ks --all > kustomizations.yaml\n  gitopsctl export source git podinfo\n  gitopsctl export all --all -A",
		ValidArgsFunction: a.completeKindThenName,
		RunE: func(cmd *cobra.Command, args []string) error {
			ks, rest, err := parseKinds(args)
			if err != nil {
				return err
			}
			if all == (len(rest) == 1) || len(rest) > 1 {
				return usageErrorf("export: want a name, or --all")
			}
			cl, err := a.cluster()
			if err != nil {
				return err
			}
			name := ""
			if !all {
				name = rest[0]
			}
			return a.export(cmd.Context(), cl, ks, name)
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "Every object of the kind(s).")
	a.addAllNamespaces(cmd)
	return cmd
}

func (a *app) export(ctx context.Context, cl *cluster, ks []*kind, name string) error {
	ns := a.listNamespace(cl)
	var objs []unstructured.Unstructured
	for _, k := range ks {
		if name != "" {
			obj, err := cl.get(ctx, k, client.ObjectKey{Namespace: ns, Name: name})
			if err != nil {
				if len(ks) > 1 && strings.HasSuffix(err.Error(), "not found") {
					continue
				}
				return err
			}
			objs = append(objs, *obj)
			continue
		}
		items, err := cl.list(ctx, k, ns)
		if err != nil {
			return err
		}
		sortObjects(items)
		objs = append(objs, items...)
	}
	if name != "" && len(objs) == 0 {
		return fmt.Errorf("no object named %q in namespace %s", name, ns)
	}
	for i := range objs {
		data, err := yaml.Marshal(clean(&objs[i]))
		if err != nil {
			return err
		}
		fmt.Fprintln(a.stdout, "---")
		if _, err := a.stdout.Write(data); err != nil {
			return err
		}
	}
	return nil
}

// clean returns obj as a user would write it: apiVersion, kind, the
// metadata a user sets, and spec.
func clean(obj *unstructured.Unstructured) map[string]any {
	md := map[string]any{"name": obj.GetName()}
	if ns := obj.GetNamespace(); ns != "" {
		md["namespace"] = ns
	}
	if l := obj.GetLabels(); len(l) > 0 {
		md["labels"] = l
	}
	ann := obj.GetAnnotations()
	for _, k := range []string{reconcile.RequestedAtAnnotation, reconcile.ForceAtAnnotation, reconcile.ResetAtAnnotation, ssa.LastAppliedAnnotation} {
		delete(ann, k)
	}
	if len(ann) > 0 {
		md["annotations"] = ann
	}
	out := map[string]any{"apiVersion": obj.GetAPIVersion(), "kind": obj.GetKind(), "metadata": md}
	for k, v := range obj.Object {
		switch k {
		case "apiVersion", "kind", "metadata", "status":
		default:
			out[k] = v
		}
	}
	return out
}
