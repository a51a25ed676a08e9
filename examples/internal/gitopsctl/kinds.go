package gitopsctl

import (
	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gitopskit/kit/runtime/conditions"

	helmv1 "github.com/gitopskit/kit/examples/api/helm/v1"
	imagev1 "github.com/gitopskit/kit/examples/api/image/v1"
	kustomizev1 "github.com/gitopskit/kit/examples/api/kustomize/v1"
	notificationv1 "github.com/gitopskit/kit/examples/api/notification/v1"
	sourcev1 "github.com/gitopskit/kit/examples/api/source/v1"
)

// kind is what gitopsctl knows of one of gitopsd's kinds. Every command
// works from this table: adding a kind to gitopsd is adding an entry here
// (and a create builder, if it can be created from the command line).
type kind struct {
	// Kind and GroupVersion name the kind; Plural is its resource.
	Kind         string
	GroupVersion schema.GroupVersion
	Plural       string
	// Names are what the command line accepts for the kind besides its
	// lower-case name and plural: short names, and Flux's two-word forms
	// ("source git").
	Names []string
	// Source marks a kind a sourceRef names (get sources, trace).
	Source bool
	// FluxGroup is the API group of the Flux kind of the same name that
	// convert --from-flux rewrites into this one.
	FluxGroup string

	// Revision is the field path of the revision the object currently
	// offers or applied; Suspend the path of its suspend flag. Ready,
	// Reconciling and Stalled are read from status.conditions, and the
	// handled reconcile request from status.lastHandledReconcileAt, as
	// for every kind.
	Revision []string
	Suspend  []string
	// Columns are the kind's own columns of get -o wide, and the details
	// trace prints.
	Columns []column

	// Attempted is the path of the revision of its source the object
	// last worked on, success or not (reconcile --with-source waits for
	// the source's new one); nil when it has no source.
	Attempted []string

	// SourceRef is the path of the object's reference to its source
	// (reconcile --with-source, trace); nil when it has none.
	SourceRef []string
	// Inventory is the path of the list of applied objects, in Flux's
	// inventory format (tree, trace); nil when it applies nothing.
	Inventory []string
	// OwnerGroup is the prefix of the ownership labels <group>/name and
	// <group>/namespace the kind's controller stamps on what it applies
	// (trace).
	OwnerGroup string

	// Create, when set, is the create subcommand: its path under create
	// and the builder of the object from its flags.
	Create *creator
}

// column is a field shown for a kind.
type column struct {
	Header string
	Path   []string
}

// kinds is every kind gitopsctl handles, in the order get all lists them.
// It is set once, by init: its create builders look kinds up in it.
var kinds []*kind

func init() { kinds = kindTable() }

func kindTable() []*kind {
	return []*kind{
		{
			Kind: sourcev1.GitRepositoryKind, GroupVersion: sourcev1.GroupVersion, Plural: "gitrepositories",
			Names:     []string{"gitrepo", "gitrepos", "source git", "sources git"},
			Source:    true,
			FluxGroup: "source.toolkit.fluxcd.io",
			Revision:  []string{"status", "artifact", "revision"},
			Suspend:   []string{"spec", "suspend"},
			Columns: []column{
				{"URL", []string{"spec", "url"}},
				{"BRANCH", []string{"spec", "ref", "branch"}},
				{"TAG", []string{"spec", "ref", "tag"}},
				{"SEMVER", []string{"spec", "ref", "semver"}},
				{"COMMIT", []string{"spec", "ref", "commit"}},
			},
			Create: gitRepositoryCreator,
		},
		{
			Kind: sourcev1.OCIRepositoryKind, GroupVersion: sourcev1.GroupVersion, Plural: "ocirepositories",
			Names:     []string{"ocirepo", "ocirepos", "source oci", "sources oci"},
			Source:    true,
			FluxGroup: "source.toolkit.fluxcd.io",
			Revision:  []string{"status", "artifact", "revision"},
			Suspend:   []string{"spec", "suspend"},
			Columns: []column{
				{"URL", []string{"spec", "url"}},
				{"TAG", []string{"spec", "ref", "tag"}},
				{"SEMVER", []string{"spec", "ref", "semver"}},
				{"DIGEST", []string{"spec", "ref", "digest"}},
			},
			Create: ociRepositoryCreator,
		},
		{
			Kind: sourcev1.BucketKind, GroupVersion: sourcev1.GroupVersion, Plural: "buckets",
			Names:     []string{"bucket", "source bucket", "sources bucket"},
			Source:    true,
			FluxGroup: "source.toolkit.fluxcd.io",
			Revision:  []string{"status", "artifact", "revision"},
			Suspend:   []string{"spec", "suspend"},
			Columns: []column{
				{"ENDPOINT", []string{"spec", "endpoint"}},
				{"BUCKET", []string{"spec", "bucketName"}},
				{"PREFIX", []string{"spec", "prefix"}},
			},
		},
		{
			Kind: sourcev1.HelmRepositoryKind, GroupVersion: sourcev1.GroupVersion, Plural: "helmrepositories",
			Names:     []string{"helmrepo", "helmrepos", "source helm", "sources helm"},
			Source:    true,
			FluxGroup: "source.toolkit.fluxcd.io",
			Revision:  []string{"status", "artifact", "revision"},
			Suspend:   []string{"spec", "suspend"},
			Columns: []column{
				{"URL", []string{"spec", "url"}},
				{"TYPE", []string{"spec", "type"}},
			},
		},
		{
			Kind: sourcev1.HelmChartKind, GroupVersion: sourcev1.GroupVersion, Plural: "helmcharts",
			Names:     []string{"hc", "helmchart", "source chart", "sources chart"},
			Source:    true,
			FluxGroup: "source.toolkit.fluxcd.io",
			Revision:  []string{"status", "artifact", "revision"},
			Attempted: []string{"status", "observedSourceArtifactRevision"},
			Suspend:   []string{"spec", "suspend"},
			SourceRef: []string{"spec", "sourceRef"},
			Columns: []column{
				{"CHART", []string{"spec", "chart"}},
				{"VERSION", []string{"spec", "version"}},
				{"SOURCE", []string{"spec", "sourceRef", "name"}},
			},
		},
		{
			Kind: kustomizev1.KustomizationKind, GroupVersion: kustomizev1.GroupVersion, Plural: "kustomizations",
			Names:      []string{"ks"},
			FluxGroup:  "kustomize.toolkit.fluxcd.io",
			Revision:   []string{"status", "lastAppliedRevision"},
			Attempted:  []string{"status", "lastAttemptedRevision"},
			Suspend:    []string{"spec", "suspend"},
			SourceRef:  []string{"spec", "sourceRef"},
			Inventory:  []string{"status", "inventory", "entries"},
			OwnerGroup: kustomizev1.GroupVersion.Group,
			Columns: []column{
				{"SOURCE", []string{"spec", "sourceRef", "name"}},
				{"PATH", []string{"spec", "path"}},
				{"ATTEMPTED", []string{"status", "lastAttemptedRevision"}},
			},
			Create: kustomizationCreator,
		},
		{
			Kind: helmv1.HelmReleaseKind, GroupVersion: helmv1.GroupVersion, Plural: "helmreleases",
			Names:     []string{"hr", "helmrelease", "helmreleases"},
			FluxGroup: "helm.toolkit.fluxcd.io",
			Revision:  []string{"status", "lastAttemptedRevision"},
			Attempted: []string{"status", "lastAttemptedRevision"},
			Suspend:   []string{"spec", "suspend"},
			SourceRef: []string{"spec", "chartRef"},
			Inventory: []string{"status", "inventory", "entries"},
			Columns: []column{
				{"CHART", []string{"spec", "chart", "spec", "chart"}},
				{"CHARTREF", []string{"spec", "chartRef", "name"}},
				{"RELEASE", []string{"spec", "releaseName"}},
			},
		},
		{
			Kind: notificationv1.ProviderKind, GroupVersion: notificationv1.GroupVersion, Plural: "providers",
			Names:     []string{"provider", "alert-provider", "alert-providers"},
			FluxGroup: "notification.toolkit.fluxcd.io",
			Suspend:   []string{"spec", "suspend"},
			Columns: []column{
				{"TYPE", []string{"spec", "type"}},
				{"CHANNEL", []string{"spec", "channel"}},
			},
		},
		{
			Kind: notificationv1.AlertKind, GroupVersion: notificationv1.GroupVersion, Plural: "alerts",
			Names:     []string{"alert"},
			FluxGroup: "notification.toolkit.fluxcd.io",
			Suspend:   []string{"spec", "suspend"},
			Columns: []column{
				{"PROVIDER", []string{"spec", "providerRef", "name"}},
				{"SEVERITY", []string{"spec", "eventSeverity"}},
			},
		},
		{
			Kind: notificationv1.ReceiverKind, GroupVersion: notificationv1.GroupVersion, Plural: "receivers",
			Names:     []string{"receiver"},
			FluxGroup: "notification.toolkit.fluxcd.io",
			Suspend:   []string{"spec", "suspend"},
			Columns: []column{
				{"TYPE", []string{"spec", "type"}},
				{"WEBHOOK", []string{"status", "webhookPath"}},
			},
		},
		{
			Kind: imagev1.ImageRepositoryKind, GroupVersion: imagev1.GroupVersion, Plural: "imagerepositories",
			Names:     []string{"imagerepo", "image-repository", "image-repositories"},
			FluxGroup: "image.toolkit.fluxcd.io",
			Revision:  []string{"status", "lastScanResult", "revision"},
			Suspend:   []string{"spec", "suspend"},
			Columns: []column{
				{"IMAGE", []string{"spec", "image"}},
				{"TAGS", []string{"status", "lastScanResult", "tagCount"}},
			},
		},
		{
			Kind: imagev1.ImagePolicyKind, GroupVersion: imagev1.GroupVersion, Plural: "imagepolicies",
			Names:     []string{"imgpol", "image-policy", "image-policies"},
			FluxGroup: "image.toolkit.fluxcd.io",
			Revision:  []string{"status", "latestRef", "tag"},
			Suspend:   []string{"spec", "suspend"},
			Columns: []column{
				{"REPOSITORY", []string{"spec", "imageRepositoryRef", "name"}},
				{"IMAGE", []string{"status", "latestRef", "name"}},
			},
		},
		{
			Kind: imagev1.ImageUpdateAutomationKind, GroupVersion: imagev1.GroupVersion, Plural: "imageupdateautomations",
			Names:     []string{"iua", "image-update", "image-updates"},
			FluxGroup: "image.toolkit.fluxcd.io",
			Revision:  []string{"status", "lastPushCommit"},
			Suspend:   []string{"spec", "suspend"},
			Columns: []column{
				{"SOURCE", []string{"spec", "sourceRef", "name"}},
				{"PATH", []string{"spec", "update", "path"}},
			},
		},
	}
}

// Paths every kind shares.
var (
	lastHandledPath = []string{"status", "lastHandledReconcileAt"}
	generationPath  = []string{"status", "observedGeneration"}
)

// GVK returns the kind's GroupVersionKind.
func (k *kind) GVK() schema.GroupVersionKind { return k.GroupVersion.WithKind(k.Kind) }

// String returns the kind's name.
func (k *kind) String() string { return k.Kind }

// names returns every name the command line accepts for k.
func (k *kind) names() []string {
	return append([]string{strings.ToLower(k.Kind), k.Plural}, k.Names...)
}

// newObject returns an empty object of the kind.
func (k *kind) newObject() *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(k.GVK())
	return u
}

// newList returns an empty list of the kind.
func (k *kind) newList() *unstructured.UnstructuredList {
	l := &unstructured.UnstructuredList{}
	l.SetGroupVersionKind(k.GroupVersion.WithKind(k.Kind + "List"))
	return l
}

// status is what every command reads from an object of any kind.
type status struct {
	Ready     metav1.ConditionStatus // True, False, Unknown, or "" without a Ready condition
	Reason    string
	Message   string
	Revision  string
	Suspended bool
	// Reconciling and Stalled are the conditions of the same names.
	Reconciling, Stalled bool
	// Current reports that the status is about the current generation.
	Current bool
	// LastHandled is status.lastHandledReconcileAt.
	LastHandled string
}

// statusOf reads the status of obj, an object of kind k.
func (k *kind) statusOf(obj *unstructured.Unstructured) status {
	s := status{
		Revision:    str(obj, k.Revision),
		LastHandled: str(obj, lastHandledPath),
	}
	s.Suspended, _, _ = unstructured.NestedBool(obj.Object, k.Suspend...)
	g := conditions.Unstructured(obj)
	if c := conditions.Get(g, conditions.Ready); c != nil {
		s.Ready, s.Reason, s.Message = c.Status, c.Reason, c.Message
	}
	s.Reconciling = conditions.IsTrue(g, conditions.Reconciling)
	s.Stalled = conditions.IsTrue(g, conditions.Stalled)
	observed, _, _ := unstructured.NestedInt64(obj.Object, generationPath...)
	s.Current = observed == obj.GetGeneration()
	return s
}

// str returns the string at path in obj, or "".
func str(obj *unstructured.Unstructured, path []string) string {
	if len(path) == 0 {
		return ""
	}
	v, _, _ := unstructured.NestedFieldNoCopy(obj.Object, path...)
	switch v := v.(type) {
	case string:
		return v
	case nil:
		return ""
	default:
		return fmt.Sprint(v)
	}
}

// kindByName returns the kind a command-line name means.
func kindByName(name string) (*kind, bool) {
	name = strings.ToLower(name)
	for _, k := range kinds {
		if slices.Contains(k.names(), name) {
			return k, true
		}
	}
	return nil, false
}

// kindByGVK returns the kind of a group and kind, whatever the version.
func kindByGroupKind(gk schema.GroupKind) (*kind, bool) {
	for _, k := range kinds {
		if k.GroupVersion.Group == gk.Group && k.Kind == gk.Kind {
			return k, true
		}
	}
	return nil, false
}

// sourceKind returns the source kind a sourceRef names.
func sourceKind(kindName string) (*kind, bool) {
	for _, k := range kinds {
		if k.Source && k.Kind == kindName {
			return k, true
		}
	}
	return nil, false
}

// parseKind reads a kind from the start of args: a name of kindByName,
// Flux's two-word form ("source git"), or kind/name (which also gives the
// object's name). It returns the kind and the rest of args.
func parseKind(args []string) (*kind, []string, error) {
	if len(args) == 0 {
		return nil, nil, usageErrorf("a kind is required (%s)", kindList())
	}
	first := args[0]
	if kindPart, name, ok := strings.Cut(first, "/"); ok && name != "" {
		k, found := kindByName(kindPart)
		if !found {
			return nil, nil, usageErrorf("unknown kind %q (%s)", kindPart, kindList())
		}
		return k, append([]string{name}, args[1:]...), nil
	}
	if len(args) > 1 {
		if k, ok := kindByName(first + " " + args[1]); ok {
			return k, args[2:], nil
		}
	}
	k, ok := kindByName(first)
	if !ok {
		return nil, nil, usageErrorf("unknown kind %q (%s)", first, kindList())
	}
	return k, args[1:], nil
}

// parseKinds is parseKind for get, export and events, which also accept
// "all" (every kind) and "sources" (every source kind).
func parseKinds(args []string) ([]*kind, []string, error) {
	if len(args) > 0 {
		switch strings.ToLower(args[0]) {
		case "all":
			return kinds, args[1:], nil
		case "sources", "source":
			if len(args) == 1 || (!strings.Contains(args[0], "/") && !isKindWord(args[0]+" "+args[1])) {
				var out []*kind
				for _, k := range kinds {
					if k.Source {
						out = append(out, k)
					}
				}
				return out, args[1:], nil
			}
		}
	}
	k, rest, err := parseKind(args)
	if err != nil {
		return nil, nil, err
	}
	return []*kind{k}, rest, nil
}

func isKindWord(s string) bool {
	_, ok := kindByName(s)
	return ok
}

// kindList names the kinds for usage messages.
func kindList() string {
	var names []string
	for _, k := range kinds {
		names = append(names, strings.ToLower(k.Kind))
	}
	return strings.Join(names, ", ")
}

// kindNames returns every kind name, for shell completion.
func kindNames() []string {
	var out []string
	for _, k := range kinds {
		out = append(out, strings.ToLower(k.Kind))
		for _, n := range k.Names {
			if !strings.Contains(n, " ") {
				out = append(out, n)
			}
		}
	}
	return out
}
