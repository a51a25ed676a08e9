package gitopsctl

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/ssa"
)

// maxTreeDepth bounds how deep tree expands nested Kustomizations.
const maxTreeDepth = 32

func (a *app) treeCommand() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "tree kustomization <name>",
		Short: "Show the objects a Kustomization applied, nested Kustomizations expanded",
		Long: `tree prints a Kustomization's inventory (status.inventory: what it applied
and would prune) as a tree; a Kustomization in it is expanded with its
own inventory, and so on.`,
		Example:           "  gitopsctl tree ks gitopskit-system\n  gitopsctl tree ks apps -n apps -o json",
		ValidArgsFunction: a.completeKustomization,
		RunE: func(cmd *cobra.Command, args []string) error {
			k, rest, err := parseKind(args)
			if err != nil {
				return err
			}
			if k.Inventory == nil {
				return usageErrorf("tree: %s applies nothing; want a kind with an inventory (kustomization)", k.Kind)
			}
			if len(rest) != 1 {
				return usageErrorf("tree: want <kind> <name>")
			}
			if output != "text" && output != "json" && output != "yaml" {
				return usageErrorf("tree: -o must be text, json or yaml, not %q", output)
			}
			cl, err := a.cluster()
			if err != nil {
				return err
			}
			key := client.ObjectKey{Namespace: cl.namespace, Name: rest[0]}
			obj, err := cl.get(cmd.Context(), k, key)
			if err != nil {
				return err
			}
			root := &treeNode{ID: idString(ssa.ObjectID{Group: k.GroupVersion.Group, Kind: k.Kind, Namespace: key.Namespace, Name: key.Name})}
			if err := a.expand(cmd.Context(), cl, k, obj, root, map[string]bool{root.ID: true}, 0); err != nil {
				return err
			}
			if output == "text" {
				fmt.Fprintln(a.stdout, root.ID)
				root.print(a.stdout, "")
				return nil
			}
			return writeFormatted(a.stdout, root, output)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "Output format: text, json or yaml.")
	return cmd
}

// treeNode is an object of a tree.
type treeNode struct {
	ID       string      `json:"id"`
	Note     string      `json:"note,omitempty"`
	Children []*treeNode `json:"children,omitempty"`
}

// idString names an object as Kind/[namespace/]name.
func idString(id ssa.ObjectID) string {
	if id.Namespace == "" {
		return id.Kind + "/" + id.Name
	}
	return id.Kind + "/" + id.Namespace + "/" + id.Name
}

// inventoryOf returns the IDs of the objects obj's inventory lists.
func inventoryOf(k *kind, obj *unstructured.Unstructured) ([]ssa.ObjectID, error) {
	entries, _, err := unstructured.NestedSlice(obj.Object, k.Inventory...)
	if err != nil {
		return nil, fmt.Errorf("%s %s/%s: %v", k.Kind, obj.GetNamespace(), obj.GetName(), err)
	}
	var ids []ssa.ObjectID
	for _, e := range entries {
		m, _ := e.(map[string]any)
		s, _ := m["id"].(string)
		id, err := ssa.ParseInventoryID(s)
		if err != nil {
			return nil, fmt.Errorf("%s %s/%s: %w", k.Kind, obj.GetNamespace(), obj.GetName(), err)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// expand adds obj's inventory to n, expanding the objects of kinds that
// have an inventory themselves.
func (a *app) expand(ctx context.Context, cl *cluster, k *kind, obj *unstructured.Unstructured, n *treeNode, seen map[string]bool, depth int) error {
	ids, err := inventoryOf(k, obj)
	if err != nil {
		return err
	}
	for _, id := range ids {
		child := &treeNode{ID: idString(id)}
		n.Children = append(n.Children, child)
		ck, ok := kindByGroupKind(schema.GroupKind{Group: id.Group, Kind: id.Kind})
		if !ok || ck.Inventory == nil {
			continue
		}
		switch {
		case seen[child.ID]:
			child.Note = "already shown above"
			continue
		case depth+1 >= maxTreeDepth:
			child.Note = fmt.Sprintf("not expanded: deeper than %d levels", maxTreeDepth)
			continue
		}
		seen[child.ID] = true
		nested, err := cl.get(ctx, ck, client.ObjectKey{Namespace: id.Namespace, Name: id.Name})
		if err != nil {
			child.Note = err.Error()
			continue
		}
		if err := a.expand(ctx, cl, ck, nested, child, seen, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// print writes n's children as a tree.
func (n *treeNode) print(w io.Writer, prefix string) {
	for i, c := range n.Children {
		branch, next := "├── ", "│   "
		if i == len(n.Children)-1 {
			branch, next = "└── ", "    "
		}
		line := prefix + branch + c.ID
		if c.Note != "" {
			line += " (" + c.Note + ")"
		}
		fmt.Fprintln(w, strings.TrimRight(line, " "))
		c.print(w, prefix+next)
	}
}
