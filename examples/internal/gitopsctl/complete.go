package gitopsctl

import (
	"context"
	"strings"
	"time"

	"github.com/spf13/cobra"

	kustomizev1 "github.com/gitopskit/kit/examples/api/kustomize/v1"
)

// completeKindThenName completes a kind, then the names of that kind's
// objects in the namespace (shell completion; cobra provides the
// completion command).
func (a *app) completeKindThenName(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if len(args) == 0 {
		return append(kindNames(), "source", "all"), cobra.ShellCompDirectiveNoFileComp
	}
	k, rest, err := parseKind(args)
	if err != nil {
		if args[0] == "source" || args[0] == "sources" {
			return []string{"git", "oci"}, cobra.ShellCompDirectiveNoFileComp
		}
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	if len(rest) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return a.names(cmd.Context(), k, toComplete), cobra.ShellCompDirectiveNoFileComp
}

// completeKustomization completes "kustomization <name>".
func (a *app) completeKustomization(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if len(args) == 0 {
		return []string{"kustomization", "ks"}, cobra.ShellCompDirectiveNoFileComp
	}
	if len(args) > 1 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	k, _ := kindByName(kustomizev1.KustomizationKind)
	return a.names(cmd.Context(), k, toComplete), cobra.ShellCompDirectiveNoFileComp
}

// names lists the objects of k whose name starts with prefix, briefly.
func (a *app) names(ctx context.Context, k *kind, prefix string) []string {
	cl, err := a.cluster()
	if err != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	items, err := cl.list(ctx, k, cl.namespace)
	if err != nil {
		return nil
	}
	var out []string
	for _, it := range items {
		if strings.HasPrefix(it.GetName(), prefix) {
			out = append(out, it.GetName())
		}
	}
	return out
}
