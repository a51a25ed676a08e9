package gitopsctl

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/ssa"
)

func (a *app) traceCommand() *cobra.Command {
	var apiVersion string
	cmd := &cobra.Command{
		Use:   "trace <kind> <name>",
		Short: "Show which Kustomization manages an object, from which source and revision",
		Long: `trace finds the object gitopsd manages through its ownership labels
(kustomize.gitopskit.dev/name and /namespace), checks that the
Kustomization they name lists the object in its inventory, and prints the
Kustomization and its source with their revisions and readiness. The kind
is a resource name as kubectl takes it (configmap, deployments.apps,
Deployment) or one of gitopsd's. The exit code is 1 when gitopsd does not
manage the object.`,
		Example: "  gitopsctl trace deployment podinfo -n apps\n  gitopsctl trace configmaps app-config -n demo",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				if kindPart, name, ok := strings.Cut(args[0], "/"); ok {
					args = []string{kindPart, name}
				}
			}
			if len(args) != 2 {
				return usageErrorf("trace: want <kind> <name>")
			}
			cl, err := a.cluster()
			if err != nil {
				return err
			}
			return a.trace(cmd.Context(), cl, args[0], args[1], apiVersion)
		},
	}
	cmd.Flags().StringVar(&apiVersion, "api-version", "", "The object's API version, when the kind alone is ambiguous.")
	return cmd
}

// resolveKind maps a kind as the user typed it to a GroupVersionKind and
// whether it is namespaced.
func resolveKind(cl *cluster, typed, apiVersion string) (schema.GroupVersionKind, bool, error) {
	var mapper meta.RESTMapper = cl.c.RESTMapper()
	if dc, err := discovery.NewDiscoveryClientForConfig(cl.cfg); err == nil {
		// Short names (cm, deploy) come from discovery.
		mapper = restmapper.NewShortcutExpander(mapper, memory.NewMemCacheClient(dc), nil)
	}
	if k, ok := kindByName(typed); ok && apiVersion == "" {
		return k.GVK(), true, nil
	}
	var gvk schema.GroupVersionKind
	if apiVersion != "" {
		gv, err := schema.ParseGroupVersion(apiVersion)
		if err != nil {
			return gvk, false, usageErrorf("--api-version %q: %v", apiVersion, err)
		}
		gvk = gv.WithKind(typed)
		if m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version); err == nil {
			return m.GroupVersionKind, m.Scope.Name() != meta.RESTScopeNameRoot, nil
		}
		gvr := gv.WithResource(strings.ToLower(typed))
		found, err := mapper.KindFor(gvr)
		if err != nil {
			return gvk, false, fmt.Errorf("the cluster serves no kind %q in %s", typed, apiVersion)
		}
		gvk = found
	} else {
		gr := schema.ParseGroupResource(strings.ToLower(typed))
		found, err := mapper.KindFor(gr.WithVersion(""))
		if err != nil {
			return gvk, false, fmt.Errorf("the cluster serves no kind %q (try --api-version)", typed)
		}
		gvk = found
	}
	m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return gvk, false, err
	}
	return m.GroupVersionKind, m.Scope.Name() != meta.RESTScopeNameRoot, nil
}

func (a *app) trace(ctx context.Context, cl *cluster, typed, name, apiVersion string) error {
	gvk, namespaced, err := resolveKind(cl, typed, apiVersion)
	if err != nil {
		return err
	}
	key := client.ObjectKey{Name: name}
	if namespaced {
		key.Namespace = cl.namespace
	}
	obj := &unstructured.Unstructured{}
	obj.SetGroupVersionKind(gvk)
	if err := cl.c.Get(ctx, key, obj); err != nil {
		return readable(err, gvk.GroupKind(), gvk.GroupVersion().String(), key)
	}
	id := ssa.IDOf(obj)
	p := a.out
	field := func(indent, label, value string) {
		if value != "" {
			p.line(plain, "%s%-*s %s", indent, 14-len(indent), label+":", value)
		}
	}
	field("", "Object", idString(id))
	for _, mk := range kinds {
		if mk.OwnerGroup == "" {
			continue
		}
		labels := obj.GetLabels()
		mname, mns := labels[mk.OwnerGroup+"/name"], labels[mk.OwnerGroup+"/namespace"]
		if mname == "" {
			continue
		}
		mkey := client.ObjectKey{Namespace: mns, Name: mname}
		mgr, err := cl.get(ctx, mk, mkey)
		if err != nil {
			return failedf("%s names %s %s as its manager, which cannot be read: %v", idString(id), mk.Kind, displayKey(mkey), err)
		}
		ids, err := inventoryOf(mk, mgr)
		if err != nil {
			return err
		}
		listed := false
		for _, e := range ids {
			if e == id {
				listed = true
			}
		}
		note := "lists it in its inventory"
		if !listed {
			note = "labelled, but NOT in its inventory: gitopsd does not manage it"
		}
		field("", "Managed by", fmt.Sprintf("%s %s (%s)", mk.Kind, displayKey(mkey), note))
		a.traceDetails(mk, mgr, field)
		if mk.SourceRef != nil {
			sk, skey, err := sourceOf(mk, mgr)
			if err != nil {
				return err
			}
			field("", "Source", sk.Kind+" "+displayKey(skey))
			src, err := cl.get(ctx, sk, skey)
			if err != nil {
				field("  ", "Error", err.Error())
			} else {
				a.traceDetails(sk, src, field)
			}
		}
		if !listed {
			return failed(nil)
		}
		return nil
	}
	var labels []string
	for _, mk := range kinds {
		if mk.OwnerGroup != "" {
			labels = append(labels, mk.OwnerGroup+"/name")
		}
	}
	return failedf("%s is not managed by gitopsd (it has no %s label)", idString(id), strings.Join(labels, " or "))
}

// traceDetails prints an object's columns, revision and readiness.
func (a *app) traceDetails(k *kind, obj *unstructured.Unstructured, field func(indent, label, value string)) {
	for _, c := range k.Columns {
		if k.SourceRef != nil && len(c.Path) > len(k.SourceRef) && slices.Equal(c.Path[:len(k.SourceRef)], k.SourceRef) {
			continue // the source gets lines of its own
		}
		field("  ", title(c.Header), str(obj, c.Path))
	}
	s := k.statusOf(obj)
	field("  ", "Revision", s.Revision)
	if s.Suspended {
		field("  ", "Suspended", "True")
	}
	ready := orUnknown(s.Ready)
	if s.Message != "" {
		ready += ": " + oneLine(s.Message)
	}
	field("  ", "Ready", ready)
}

// title turns a column header into a label: URL, Branch.
func title(h string) string {
	if len(h) <= 3 {
		return h
	}
	return h[:1] + strings.ToLower(h[1:])
}
