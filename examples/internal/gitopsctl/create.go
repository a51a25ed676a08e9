package gitopsctl

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/gitopskit/kit/ssa"

	kustomizev1 "github.com/gitopskit/kit/examples/api/kustomize/v1"
	"github.com/gitopskit/kit/examples/api/meta"
	sourcev1 "github.com/gitopskit/kit/examples/api/source/v1"
)

// creator builds an object of a kind from command-line flags.
type creator struct {
	// Path is the subcommand under create, e.g. ["source", "git"].
	Path           []string
	Short, Example string
	// Bind defines the kind's flags and returns the builder of the object
	// named name in namespace ns.
	Bind func(f *pflag.FlagSet) func(name, ns string) (client.Object, error)
}

type createOptions struct {
	export  bool
	timeout time.Duration
}

func (a *app) createCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create or update sources and Kustomizations, or print them with --export",
		Long: `create applies an object built from flags (server-side apply, field
manager gitopsctl) and waits until gitopsd reports it Ready, or prints its
YAML with --export (no cluster needed).`,
	}
	groups := map[string]*cobra.Command{}
	for _, k := range kinds {
		if k.Create == nil {
			continue
		}
		parent := cmd
		for _, p := range k.Create.Path[:len(k.Create.Path)-1] {
			g, ok := groups[p]
			if !ok {
				g = &cobra.Command{Use: p, Short: "Create " + p + "s"}
				groups[p] = g
				parent.AddCommand(g)
			}
			parent = g
		}
		parent.AddCommand(a.createKindCommand(k))
	}
	return cmd
}

func (a *app) createKindCommand(k *kind) *cobra.Command {
	var o createOptions
	cmd := &cobra.Command{
		Use:     k.Create.Path[len(k.Create.Path)-1] + " <name>",
		Short:   k.Create.Short,
		Example: k.Create.Example,
		Args:    exactArgs(1, "<name>"),
	}
	build := k.Create.Bind(cmd.Flags())
	cmd.Flags().BoolVar(&o.export, "export", false, "Print the object as YAML instead of applying it.")
	cmd.Flags().DurationVar(&o.timeout, "timeout", DefaultTimeout, "How long to wait for the object to be Ready.")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		ns := a.namespace
		var cl *cluster
		if !o.export {
			var err error
			if cl, err = a.cluster(); err != nil {
				return err
			}
			ns = cl.namespace
		}
		if ns == "" {
			ns = a.opts.Namespace
		}
		if ns == "" {
			ns = DefaultNamespace
		}
		typed, err := build(args[0], ns)
		if err != nil {
			return err
		}
		obj, err := toUnstructured(typed, k)
		if err != nil {
			return err
		}
		if o.export {
			data, err := yaml.Marshal(clean(obj))
			if err != nil {
				return err
			}
			fmt.Fprintln(a.stdout, "---")
			_, err = a.stdout.Write(data)
			return err
		}
		return a.applyAndWait(cmd.Context(), cl, k, obj, o.timeout)
	}
	return cmd
}

// toUnstructured converts a typed object of kind k.
func toUnstructured(obj client.Object, k *kind) (*unstructured.Unstructured, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{Object: m}
	u.SetGroupVersionKind(k.GVK())
	delete(u.Object, "status")
	unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
	return u, nil
}

// applyAndWait applies obj with server-side apply and waits until gitopsd
// reports its current generation Ready.
func (a *app) applyAndWait(ctx context.Context, cl *cluster, k *kind, obj *unstructured.Unstructured, timeout time.Duration) error {
	key := client.ObjectKeyFromObject(obj)
	what := k.Kind + " " + displayKey(key)
	mgr, err := ssa.NewManager(cl.c, ssa.Owner{Field: fieldManager})
	if err != nil {
		return err
	}
	a.err.step("applying %s", what)
	cs, err := mgr.Apply(ctx, []*unstructured.Unstructured{obj}, ssa.ApplyOptions{})
	if err != nil {
		return readable(err, k.GVK().GroupKind(), k.GroupVersion.String(), key)
	}
	a.err.success("%s %s", what, cs.Changes[0].Action)
	start := a.opts.Now()
	final, err := a.waitFor(ctx, cl, k, key, "", timeout, func(u *unstructured.Unstructured) bool {
		s := k.statusOf(u)
		return s.Current && (s.Ready == metav1.ConditionTrue || s.Stalled)
	}, start)
	if err != nil {
		if final != nil {
			s := k.statusOf(final)
			return failedf("%s is not Ready after %s: %s: %s", what, timeout, orDash(s.Reason), oneLine(s.Message))
		}
		return err
	}
	s := k.statusOf(final)
	if s.Ready != metav1.ConditionTrue {
		return failedf("%s is stalled: %s: %s", what, s.Reason, oneLine(s.Message))
	}
	rev := ""
	if s.Revision != "" {
		rev = " at revision " + s.Revision
	}
	a.err.success("%s Ready in %s%s", what, elapsed(a.opts.Now().Sub(start)), rev)
	return nil
}

// gitRepositoryCreator is create source git.
var gitRepositoryCreator = &creator{
	Path:    []string{"source", "git"},
	Short:   "Create or update a GitRepository",
	Example: "  gitopsctl create source git podinfo --url https://github.com/stefanprodan/podinfo --branch master\n  gitopsctl create source git app --url ssh://git@github.com/org/app --tag-semver '>=1.0.0' --secret-ref app-auth --export",
	Bind: func(f *pflag.FlagSet) func(name, ns string) (client.Object, error) {
		var (
			url, branch, tag, semver, commit, refName, secret string
			interval                                          time.Duration
		)
		f.StringVar(&url, "url", "", "The repository URL: http(s):// or ssh:// (required).")
		f.StringVar(&branch, "branch", "", "The branch to follow (default: the remote's HEAD).")
		f.StringVar(&tag, "tag", "", "The tag to check out.")
		f.StringVar(&semver, "tag-semver", "", "A semver range: the highest matching tag.")
		f.StringVar(&commit, "commit", "", "A commit SHA to check out.")
		f.StringVar(&refName, "ref-name", "", "A full reference name, e.g. refs/pull/42/head.")
		f.StringVar(&secret, "secret-ref", "", "The Secret holding the credentials (username/password, bearerToken, identity/known_hosts).")
		f.DurationVar(&interval, "interval", time.Minute, "How often to look for a new revision.")
		return func(name, ns string) (client.Object, error) {
			if url == "" {
				return nil, usageErrorf("create source git: --url is required")
			}
			r := &sourcev1.GitRepository{
				ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
				Spec: sourcev1.GitRepositorySpec{
					URL:      url,
					Interval: metav1.Duration{Duration: interval},
				},
			}
			if branch+tag+semver+commit+refName != "" {
				r.Spec.Reference = &sourcev1.GitRepositoryRef{Branch: branch, Tag: tag, SemVer: semver, Commit: commit, Name: refName}
			}
			if secret != "" {
				r.Spec.SecretRef = &meta.LocalObjectReference{Name: secret}
			}
			return r, nil
		}
	},
}

// ociRepositoryCreator is create source oci.
var ociRepositoryCreator = &creator{
	Path:    []string{"source", "oci"},
	Short:   "Create or update an OCIRepository",
	Example: "  gitopsctl create source oci podinfo --url oci://ghcr.io/stefanprodan/manifests/podinfo --tag-semver '>=6.0.0'",
	Bind: func(f *pflag.FlagSet) func(name, ns string) (client.Object, error) {
		var (
			url, tag, semver, digest, secret string
			insecure                         bool
			interval                         time.Duration
		)
		f.StringVar(&url, "url", "", "The repository, oci://<host>/<path> (required).")
		f.StringVar(&tag, "tag", "", "The tag to pull (default: latest).")
		f.StringVar(&semver, "tag-semver", "", "A semver range: the highest matching tag.")
		f.StringVar(&digest, "digest", "", "A manifest digest to pull, sha256:<hex>.")
		f.StringVar(&secret, "secret-ref", "", "The kubernetes.io/dockerconfigjson Secret holding the registry credentials.")
		f.BoolVar(&insecure, "insecure", false, "Talk plain HTTP to the registry.")
		f.DurationVar(&interval, "interval", time.Minute, "How often to look for a new revision.")
		return func(name, ns string) (client.Object, error) {
			if url == "" {
				return nil, usageErrorf("create source oci: --url is required")
			}
			r := &sourcev1.OCIRepository{
				ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
				Spec: sourcev1.OCIRepositorySpec{
					URL:      url,
					Interval: metav1.Duration{Duration: interval},
					Insecure: insecure,
				},
			}
			if tag+semver+digest != "" {
				r.Spec.Reference = &sourcev1.OCIRepositoryRef{Tag: tag, SemVer: semver, Digest: digest}
			}
			if secret != "" {
				r.Spec.SecretRef = &meta.LocalObjectReference{Name: secret}
			}
			return r, nil
		}
	},
}

// kustomizationCreator is create kustomization.
var kustomizationCreator = &creator{
	Path:    []string{"kustomization"},
	Short:   "Create or update a Kustomization",
	Example: "  gitopsctl create kustomization podinfo --source GitRepository/podinfo --path ./kustomize --prune --wait --target-namespace default",
	Bind: func(f *pflag.FlagSet) func(name, ns string) (client.Object, error) {
		var (
			source, path, targetNS, sa, decryptSecret string
			dependsOn                                 []string
			prune, wait, force                        bool
			interval, retry                           time.Duration
		)
		f.StringVar(&source, "source", "", "The source: <kind>/<name>[.<namespace>], e.g. GitRepository/podinfo (required).")
		f.StringVar(&path, "path", "./", "The folder of the source to build.")
		f.BoolVar(&prune, "prune", false, "Delete what leaves the build.")
		f.BoolVar(&wait, "wait", false, "Be Ready only once every applied object is Ready (spec.wait).")
		f.BoolVar(&force, "force", false, "Recreate objects whose immutable fields changed (spec.force).")
		f.StringVar(&targetNS, "target-namespace", "", "The namespace of every namespaced object.")
		f.StringVar(&sa, "service-account", "", "The service account to impersonate when applying.")
		f.StringSliceVar(&dependsOn, "depends-on", nil, "Kustomizations to wait for: <name> or <namespace>/<name> (repeatable).")
		f.StringVar(&decryptSecret, "decryption-secret", "", "The Secret holding the SOPS keys (*.agekey, *.asc): turns decryption on.")
		f.DurationVar(&interval, "interval", time.Minute, "How often to bring the cluster back in line.")
		f.DurationVar(&retry, "retry-interval", 0, "How soon to retry a failure (default: the interval).")
		return func(name, ns string) (client.Object, error) {
			ref, err := parseSourceRef(source)
			if err != nil {
				return nil, err
			}
			k := &kustomizev1.Kustomization{
				ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
				Spec: kustomizev1.KustomizationSpec{
					SourceRef:          ref,
					Path:               path,
					Interval:           metav1.Duration{Duration: interval},
					Prune:              prune,
					Wait:               wait,
					Force:              force,
					TargetNamespace:    targetNS,
					ServiceAccountName: sa,
				},
			}
			if retry > 0 {
				k.Spec.RetryInterval = &metav1.Duration{Duration: retry}
			}
			for _, d := range dependsOn {
				dns, dname, ok := strings.Cut(d, "/")
				if !ok {
					dns, dname = "", d
				}
				k.Spec.DependsOn = append(k.Spec.DependsOn, meta.DependencyReference{Namespace: dns, Name: dname})
			}
			if decryptSecret != "" {
				k.Spec.Decryption = &kustomizev1.Decryption{Provider: "sops", SecretRef: &meta.LocalObjectReference{Name: decryptSecret}}
			}
			return k, nil
		}
	},
}

// parseSourceRef reads <kind>/<name>[.<namespace>].
func parseSourceRef(s string) (kustomizev1.CrossNamespaceSourceReference, error) {
	var ref kustomizev1.CrossNamespaceSourceReference
	kindName, rest, ok := strings.Cut(s, "/")
	if !ok || rest == "" {
		return ref, usageErrorf("--source wants <kind>/<name>[.<namespace>], e.g. GitRepository/podinfo, got %q", s)
	}
	sk, found := kindByName(kindName)
	if !found || !sk.Source {
		if sk2, found2 := sourceKind(kindName); found2 {
			sk, found = sk2, true
		}
	}
	if !found || !sk.Source {
		return ref, usageErrorf("--source: %q is not a source kind", kindName)
	}
	name, ns, _ := strings.Cut(rest, ".")
	return kustomizev1.CrossNamespaceSourceReference{Kind: sk.Kind, Name: name, Namespace: ns}, nil
}
