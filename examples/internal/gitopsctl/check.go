package gitopsctl

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/Masterminds/semver/v3"
	"github.com/spf13/cobra"
	appsv1 "k8s.io/api/apps/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/discovery"
	kstatus "sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/examples/config"
)

// MinKubernetes is the oldest Kubernetes version gitopsd supports: its
// CRDs use CEL validation rules with messages, and the toolkit's
// server-side apply reads the OpenAPI v3 schemas.
const MinKubernetes = "1.30.0"

func (a *app) checkCommand() *cobra.Command {
	var pre bool
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Check the cluster: Kubernetes version, gitopsd's CRDs, gitopsd ready",
		Long: `check verifies that the API server is Kubernetes ` + MinKubernetes + ` or newer, that
gitopsd's CRDs are installed and serve the versions this gitopsctl knows
(and are established), and that the gitopsd Deployment is ready. --pre
checks only what an install needs. The exit code is 1 when a check fails.`,
		Example: "  gitopsctl check\n  gitopsctl check --pre",
		Args:    exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := a.cluster()
			if err != nil {
				return err
			}
			return a.check(cmd.Context(), cl, pre)
		},
	}
	cmd.Flags().BoolVar(&pre, "pre", false, "Only the prerequisites of an install.")
	return cmd
}

func (a *app) check(ctx context.Context, cl *cluster, pre bool) error {
	ok := true
	bad := func(format string, args ...any) {
		ok = false
		a.err.line(red, "✗ "+format, args...)
	}
	a.err.step("checking prerequisites")
	dc, err := discovery.NewDiscoveryClientForConfig(cl.cfg)
	if err != nil {
		return err
	}
	info, err := dc.ServerVersion()
	if err != nil {
		return fmt.Errorf("reading the API server's version at %s: %w", cl.cfg.Host, err)
	}
	v, err := semver.NewVersion(info.GitVersion)
	min := semver.MustParse(MinKubernetes)
	switch {
	case err != nil:
		bad("Kubernetes version %q cannot be read: %v", info.GitVersion, err)
	case v.LessThan(min):
		bad("Kubernetes %s is older than %s", info.GitVersion, MinKubernetes)
	default:
		a.err.success("Kubernetes %s >= %s", info.GitVersion, MinKubernetes)
	}
	if !pre {
		a.err.step("checking CRDs")
		want, err := config.CRDs()
		if err != nil {
			return err
		}
		for _, w := range want {
			if problem := checkCRD(ctx, cl, w); problem != "" {
				bad("%s: %s", w.Name, problem)
			} else {
				a.err.success("%s: %s", w.Name, strings.Join(servedVersions(w), ", "))
			}
		}
		a.err.step("checking gitopsd")
		if problem, image := checkDeployment(ctx, cl); problem != "" {
			bad("Deployment %s/%s: %s", systemNamespace, deploymentName, problem)
		} else {
			a.err.success("Deployment %s/%s is ready (%s)", systemNamespace, deploymentName, image)
		}
	}
	if !ok {
		return failedf("check failed")
	}
	a.err.success("all checks passed")
	return nil
}

// servedVersions lists a CRD's served versions, the storage one marked.
func servedVersions(crd *apiextensionsv1.CustomResourceDefinition) []string {
	var out []string
	for _, v := range crd.Spec.Versions {
		if v.Served {
			s := v.Name
			if v.Storage {
				s += " (storage)"
			}
			out = append(out, s)
		}
	}
	return out
}

// checkCRD compares the cluster's CRD with want; "" when it matches.
func checkCRD(ctx context.Context, cl *cluster, want *apiextensionsv1.CustomResourceDefinition) string {
	got := &apiextensionsv1.CustomResourceDefinition{}
	if err := cl.c.Get(ctx, client.ObjectKey{Name: want.Name}, got); err != nil {
		if apierrors.IsNotFound(err) {
			return "not installed (gitopsctl install)"
		}
		return err.Error()
	}
	if w, g := servedVersions(want), servedVersions(got); !slices.Equal(w, g) {
		return fmt.Sprintf("serves %s, gitopsctl expects %s (upgrade with gitopsctl install)", strings.Join(g, ", "), strings.Join(w, ", "))
	}
	for _, c := range got.Status.Conditions {
		if c.Type == apiextensionsv1.Established && c.Status != apiextensionsv1.ConditionTrue {
			return "not established: " + c.Message
		}
	}
	return ""
}

// checkDeployment returns why the gitopsd Deployment is not ready ("" when
// it is) and its image.
func checkDeployment(ctx context.Context, cl *cluster) (string, string) {
	d := &appsv1.Deployment{}
	if err := cl.c.Get(ctx, client.ObjectKey{Namespace: systemNamespace, Name: deploymentName}, d); err != nil {
		if apierrors.IsNotFound(err) {
			return "not found (gitopsctl install)", ""
		}
		return err.Error(), ""
	}
	var images []string
	for _, c := range d.Spec.Template.Spec.Containers {
		images = append(images, c.Image)
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(d)
	if err != nil {
		return err.Error(), ""
	}
	u := &unstructured.Unstructured{Object: m}
	u.SetAPIVersion("apps/v1")
	u.SetKind("Deployment")
	res, err := kstatus.Compute(u)
	if err != nil {
		return err.Error(), ""
	}
	if res.Status != kstatus.CurrentStatus {
		return fmt.Sprintf("not ready (%s): %s", res.Status, res.Message), strings.Join(images, ", ")
	}
	return "", strings.Join(images, ", ")
}
