package gitopsctl

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	kustomizev1 "github.com/gitopskit/kit/examples/api/kustomize/v1"
)

type buildOptions struct {
	localOptions
	dryRun  bool
	ksFile  string
	timeout time.Duration
}

func (a *app) buildCommand() *cobra.Command {
	var o buildOptions
	cmd := &cobra.Command{
		Use:   "build kustomization <name> --path <dir>",
		Short: "Print the YAML gitopsd would apply for a local folder",
		Long: `build builds a local folder with the Kustomization's settings, exactly as
gitopsd builds its spec.path, and prints the objects gitopsd would apply,
with the ownership labels it stamps. Secret values are printed as ***,
SOPS-encrypted ones as **SOPS** (nothing is decrypted).

Without a cluster, --dry-run reads the Kustomization from
--kustomization-file instead; postBuild.substituteFrom is then not read.`,
		Example: `  gitopsctl build ks apps --path ./clusters/production/apps
  gitopsctl build ks apps --path ./apps --dry-run --kustomization-file ./clusters/production/apps.yaml`,
		ValidArgsFunction: a.completeKustomization,
		RunE: func(cmd *cobra.Command, args []string) error {
			name, err := kustomizationArg(args)
			if err != nil {
				return err
			}
			if o.dryRun != (o.ksFile != "") {
				return usageErrorf("build: --dry-run and --kustomization-file go together")
			}
			return a.build(cmd.Context(), name, o)
		},
	}
	o.bind(cmd)
	f := cmd.Flags()
	f.BoolVar(&o.dryRun, "dry-run", false, "Do not connect to a cluster: read the Kustomization from --kustomization-file.")
	f.StringVar(&o.ksFile, "kustomization-file", "", "A YAML file holding the Kustomization (with --dry-run).")
	f.DurationVar(&o.timeout, "timeout", DefaultTimeout, "How long the build may take.")
	return cmd
}

func (a *app) build(ctx context.Context, name string, o buildOptions) error {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	var (
		ks *kustomizev1.Kustomization
		c  client.Client
	)
	if o.dryRun {
		var err error
		if ks, err = kustomizationFromFile(o.ksFile, name); err != nil {
			return err
		}
		if a.namespace != "" && a.namespace != ks.Namespace {
			return usageErrorf("build: %s holds Kustomization %s/%s, not in namespace %s", o.ksFile, ks.Namespace, name, a.namespace)
		}
	} else {
		cl, err := a.cluster()
		if err != nil {
			return err
		}
		key := client.ObjectKey{Namespace: cl.namespace, Name: name}
		ks = &kustomizev1.Kustomization{}
		if err := cl.c.Get(ctx, key, ks); err != nil {
			return readable(err, kustomizev1.GroupVersion.WithKind(kustomizev1.KustomizationKind).GroupKind(), kustomizev1.GroupVersion.String(), key)
		}
		c = cl.c
	}
	b, err := a.buildLocal(ctx, c, ks, o.localOptions)
	if err != nil {
		return err
	}
	for i, obj := range buildObjectsForOutput(b, ks) {
		data, err := yaml.Marshal(obj.Object)
		if err != nil {
			return err
		}
		if i > 0 {
			fmt.Fprintln(a.stdout, "---")
		}
		if _, err := a.stdout.Write(data); err != nil {
			return err
		}
	}
	return nil
}
