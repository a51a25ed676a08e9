package gitopsctl

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
	"k8s.io/client-go/discovery"
)

// version returns gitopsctl's version: the module version it was built
// at, else the VCS revision, else "dev".
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	rev, dirty := "", false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "dev"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "-dirty"
	}
	return "dev-" + rev
}

func (a *app) versionCommand() *cobra.Command {
	var clientOnly bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print gitopsctl's version, and the cluster's Kubernetes and gitopsd",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintf(a.stdout, "gitopsctl: %s (%s, %s/%s)\n", version(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
			if clientOnly {
				return nil
			}
			return a.serverVersion(cmd.Context())
		},
	}
	cmd.Flags().BoolVar(&clientOnly, "client", false, "Only gitopsctl's version: do not connect to the cluster.")
	return cmd
}

func (a *app) serverVersion(ctx context.Context) error {
	cl, err := a.cluster()
	if err != nil {
		return err
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cl.cfg)
	if err != nil {
		return err
	}
	info, err := dc.ServerVersion()
	if err != nil {
		return fmt.Errorf("reading the API server's version at %s: %w", cl.cfg.Host, err)
	}
	fmt.Fprintf(a.stdout, "kubernetes: %s\n", info.GitVersion)
	problem, image := checkDeployment(ctx, cl)
	switch {
	case image != "":
		fmt.Fprintf(a.stdout, "gitopsd: %s\n", image)
	default:
		fmt.Fprintf(a.stdout, "gitopsd: %s\n", problem)
	}
	return nil
}
