package gitopsctl

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/gitopskit/kit/kustomize"
	"github.com/gitopskit/kit/ssa"

	"github.com/gitopskit/kit/examples/config"
)

// Where config/ deploys gitopsd.
const (
	systemNamespace = DefaultNamespace
	deploymentName  = "gitopsd"
	// DefaultImage is the gitopsd image config/ names.
	DefaultImage = "ghcr.io/gitopskit/gitopsd"
)

type installOptions struct {
	export  bool
	image   string
	wait    bool
	timeout time.Duration
}

func (o *installOptions) bind(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&o.image, "image", "", "The gitopsd image, <repository>[:<tag>|@<digest>] (default "+DefaultImage+":latest, as config/ names it).")
	f.DurationVar(&o.timeout, "timeout", DefaultTimeout, "How long to wait for gitopsd to be ready.")
}

func (a *app) installCommand() *cobra.Command {
	var o installOptions
	cmd := &cobra.Command{
		Use:   "install",
		Short: "Install gitopsd (CRDs, RBAC, Deployment) in namespace " + systemNamespace,
		Long: `install applies gitopsd's deployment — the objects of kustomize build
examples/config, embedded in gitopsctl — with server-side apply, and waits
until the gitopsd Deployment is ready. --export prints them instead. A
second install changes nothing.`,
		Example: "  gitopsctl install\n  gitopsctl install --image registry.example.com/gitopsd:v0.1.0\n  gitopsctl install --export > gitopsd.yaml",
		Args:    exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			objs, err := a.components(cmd.Context(), o.image)
			if err != nil {
				return err
			}
			if o.export {
				return writeManifests(a.stdout, objs)
			}
			cl, err := a.cluster()
			if err != nil {
				return err
			}
			mgr, err := ssa.NewManager(cl.c, ssa.Owner{Field: fieldManager})
			if err != nil {
				return err
			}
			if err := a.applySet(cmd.Context(), mgr, objs, "gitopsd's components"); err != nil {
				return err
			}
			if !o.wait {
				return nil
			}
			return a.waitDeployment(cmd.Context(), mgr, o.timeout)
		},
	}
	o.bind(cmd)
	cmd.Flags().BoolVar(&o.export, "export", false, "Print the manifests instead of applying them.")
	cmd.Flags().BoolVar(&o.wait, "wait", true, "Wait for the gitopsd Deployment to be ready.")
	return cmd
}

// components renders gitopsd's deployment, with image when set.
func (a *app) components(ctx context.Context, image string) ([]*unstructured.Unstructured, error) {
	var overlay kustomize.Overlay
	if image != "" {
		img, err := parseImage(image)
		if err != nil {
			return nil, err
		}
		overlay.Images = []kustomize.Image{img}
	}
	return config.Render(ctx, overlay)
}

// parseImage reads <repository>[:<tag>|@<digest>] as a rewrite of
// DefaultImage.
func parseImage(s string) (kustomize.Image, error) {
	img := kustomize.Image{Name: DefaultImage}
	repo := s
	if at := strings.Index(s, "@"); at >= 0 {
		repo, img.Digest = s[:at], s[at+1:]
		if !strings.HasPrefix(img.Digest, "sha256:") {
			return img, usageErrorf("--image %q: a digest is sha256:<hex>", s)
		}
	} else if colon := strings.LastIndex(s, ":"); colon > strings.LastIndex(s, "/") {
		repo, img.NewTag = s[:colon], s[colon+1:]
	}
	if repo == "" || strings.ContainsAny(repo, " \t\n") {
		return img, usageErrorf("--image %q is not an image reference", s)
	}
	img.NewName = repo
	return img, nil
}

// writeManifests writes objects as a YAML stream.
func writeManifests(w io.Writer, objs []*unstructured.Unstructured) error {
	for _, o := range objs {
		data, err := yaml.Marshal(o.Object)
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(w, "---\n%s", data); err != nil {
			return err
		}
	}
	return nil
}

// applySet applies objs and prints what changed.
func (a *app) applySet(ctx context.Context, mgr *ssa.Manager, objs []*unstructured.Unstructured, what string) error {
	a.err.step("applying %s (%d objects)", what, len(objs))
	cs, err := mgr.Apply(ctx, objs, ssa.ApplyOptions{Timeout: time.Minute})
	for _, c := range cs.Changes {
		if c.Action != ssa.ActionUnchanged {
			a.err.line(plain, "  %s %s", c.ID, c.Action)
		}
	}
	if err != nil {
		return fmt.Errorf("applying %s: %w", what, err)
	}
	n := len(cs.Changes) - cs.Count(ssa.ActionUnchanged)
	if n == 0 {
		a.err.success("%s unchanged", what)
	} else {
		a.err.success("%s applied: %d of %d objects changed", what, n, len(cs.Changes))
	}
	return nil
}

// deployment is the gitopsd Deployment, for Wait.
func deployment() *unstructured.Unstructured {
	d := &unstructured.Unstructured{}
	d.SetAPIVersion("apps/v1")
	d.SetKind("Deployment")
	d.SetNamespace(systemNamespace)
	d.SetName(deploymentName)
	return d
}

// waitDeployment waits until the gitopsd Deployment is ready.
func (a *app) waitDeployment(ctx context.Context, mgr *ssa.Manager, timeout time.Duration) error {
	a.err.waiting("waiting for Deployment %s/%s to be ready", systemNamespace, deploymentName)
	start := a.opts.Now()
	if err := mgr.Wait(ctx, []*unstructured.Unstructured{deployment()}, ssa.WaitOptions{Timeout: timeout}); err != nil {
		return failedf("gitopsd is not ready: %v", err)
	}
	a.err.success("gitopsd is ready (%s)", elapsed(a.opts.Now().Sub(start)))
	return nil
}

type uninstallOptions struct {
	keepNamespace, yes bool
}

func (a *app) uninstallCommand() *cobra.Command {
	var o uninstallOptions
	cmd := &cobra.Command{
		Use:   "uninstall",
		Short: "Remove gitopsd, its CRDs and its objects, keeping what they applied",
		Long: `uninstall deletes the gitopsd Deployment, then every GitRepository,
OCIRepository and Kustomization (their finalizers removed first, so the
objects they applied stay on the cluster), then the CRDs, RBAC and the
namespace ` + systemNamespace + ` (unless --keep-namespace). It asks for
confirmation unless --yes.`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !o.yes {
				fmt.Fprintf(a.stderr, "Delete gitopsd, its CRDs and every %s (what they applied stays)? [y/N] ", kindList())
				answer, _ := bufio.NewReader(io.LimitReader(a.stdin, 1024)).ReadString('\n')
				if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
					return failedf("uninstall cancelled")
				}
			}
			cl, err := a.cluster()
			if err != nil {
				return err
			}
			return a.uninstall(cmd.Context(), cl, o)
		},
	}
	cmd.Flags().BoolVar(&o.keepNamespace, "keep-namespace", false, "Keep the "+systemNamespace+" namespace.")
	cmd.Flags().BoolVarP(&o.yes, "yes", "y", false, "Do not ask for confirmation.")
	return cmd
}

func (a *app) uninstall(ctx context.Context, cl *cluster, o uninstallOptions) error {
	objs, err := a.components(ctx, "")
	if err != nil {
		return err
	}
	del := func(obj client.Object, what string) error {
		err := cl.c.Delete(ctx, obj, client.PropagationPolicy(metav1.DeletePropagationBackground))
		switch {
		case err == nil:
			a.err.line(plain, "  %s deleted", what)
		case apierrors.IsNotFound(err), isNoMatch(err):
		default:
			return fmt.Errorf("deleting %s: %w", what, err)
		}
		return nil
	}
	a.err.step("stopping gitopsd")
	if err := del(deployment(), "Deployment/"+systemNamespace+"/"+deploymentName); err != nil {
		return err
	}
	a.err.step("deleting gitopsd's objects (what they applied stays)")
	for _, k := range kinds {
		items, err := cl.list(ctx, k, "")
		if err != nil {
			if isNoMatch(err) || strings.Contains(err.Error(), "CRDs are not installed") {
				continue
			}
			return err
		}
		for i := range items {
			it := &items[i]
			key := client.ObjectKeyFromObject(it)
			if len(it.GetFinalizers()) > 0 {
				if _, err := mergePatch(ctx, cl, k, key, map[string]any{"metadata": map[string]any{"finalizers": nil}}); err != nil && !apierrors.IsNotFound(err) {
					return err
				}
			}
			if err := del(it, k.Kind+"/"+displayKey(key)); err != nil {
				return err
			}
		}
	}
	a.err.step("deleting gitopsd's components")
	for _, obj := range objs {
		if obj.GetKind() == "Namespace" || (obj.GetKind() == "Deployment" && obj.GetName() == deploymentName) {
			continue
		}
		if err := del(obj, idString(ssa.IDOf(obj))); err != nil {
			return err
		}
	}
	if !o.keepNamespace {
		if err := del(&unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": systemNamespace}}}, "Namespace/"+systemNamespace); err != nil {
			return err
		}
	}
	a.err.success("uninstalled")
	return nil
}
