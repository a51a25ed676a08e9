package ssa

import (
	"context"
	"encoding/base64"
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// item is one object of a set, normalised and validated.
type item struct {
	obj        *unstructured.Unstructured
	id         ObjectID
	namespaced bool
	policy     string
	recreate   bool
	deps       []int // indexes of the items this one waits for
	explicit   map[int]bool
	// nsItem and crdItem index the set's own Namespace and
	// CustomResourceDefinition this object needs, -1 when they are not in
	// the set: the server may only be able to validate the object once
	// they are applied.
	nsItem, crdItem int
}

// prepare copies, validates and normalises a set before any request that
// writes: it returns an error naming every bad object, and nothing is
// applied when it fails.
func (m *Manager) prepare(ctx context.Context, objs []*unstructured.Unstructured, defaultNS string) ([]*item, error) {
	crdScopes := map[schema.GroupKind]string{}
	for _, o := range objs {
		if o == nil {
			continue
		}
		if gk := o.GroupVersionKind().GroupKind(); gk.Group == "apiextensions.k8s.io" && gk.Kind == "CustomResourceDefinition" {
			g, _, _ := unstructured.NestedString(o.Object, "spec", "group")
			k, _, _ := unstructured.NestedString(o.Object, "spec", "names", "kind")
			s, _, _ := unstructured.NestedString(o.Object, "spec", "scope")
			crdScopes[schema.GroupKind{Group: g, Kind: k}] = s
		}
	}
	items := make([]*item, 0, len(objs))
	seen := map[ObjectID]bool{}
	var errs []error
	for i, o := range objs {
		if o == nil {
			errs = append(errs, fmt.Errorf("%w: object %d is nil", ErrInvalidObject, i))
			continue
		}
		it, err := m.prepareOne(ctx, o, defaultNS, crdScopes)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if seen[it.id] {
			errs = append(errs, fmt.Errorf("%w: %s appears more than once", ErrInvalidObject, it.id))
			continue
		}
		seen[it.id] = true
		items = append(items, it)
	}
	if len(errs) > 0 {
		return nil, joinErrors(errs)
	}
	return items, nil
}

func (m *Manager) prepareOne(ctx context.Context, in *unstructured.Unstructured, defaultNS string, crdScopes map[schema.GroupKind]string) (*item, error) {
	for _, f := range []string{"name", "namespace"} {
		if _, _, err := unstructured.NestedString(in.Object, "metadata", f); err != nil {
			return nil, fmt.Errorf("%w: %s: metadata.%s: %w", ErrInvalidObject, IDOf(in), f, err)
		}
	}
	gvk := in.GroupVersionKind()
	if gvk.Kind == "" || gvk.Version == "" || in.GetName() == "" {
		return nil, fmt.Errorf("%w: %s: apiVersion, kind and metadata.name are required", ErrInvalidObject, IDOf(in))
	}
	obj := in.DeepCopy()
	namespaced, err := m.isNamespaced(gvk, crdScopes)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrInvalidObject, IDOf(obj), err)
	}
	if namespaced {
		if obj.GetNamespace() == "" {
			if defaultNS == "" {
				return nil, fmt.Errorf("%w: %s: namespaced object without a namespace and no default namespace", ErrInvalidObject, IDOf(obj))
			}
			obj.SetNamespace(defaultNS)
		}
	} else if obj.GetNamespace() != "" {
		return nil, fmt.Errorf("%w: %s: cluster-scoped %s has a namespace", ErrInvalidObject, IDOf(obj), gvk.Kind)
	}
	it := &item{obj: obj, id: IDOf(obj), namespaced: namespaced}
	ann := obj.GetAnnotations()
	switch p := ann[ApplyPolicyAnnotation]; p {
	case "", PolicyIgnore, PolicyIfNotPresent, PolicyMerge:
		it.policy = p
	default:
		return nil, fmt.Errorf("%w: %s: annotation %s has unknown value %q", ErrInvalidObject, it.id, ApplyPolicyAnnotation, truncate(p))
	}
	it.recreate = ann[RecreateAnnotation] == Enabled
	if err := normalize(obj); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrInvalidObject, it.id, err)
	}
	return it, nil
}

func (m *Manager) isNamespaced(gvk schema.GroupVersionKind, crdScopes map[schema.GroupKind]string) (bool, error) {
	if s, ok := crdScopes[gvk.GroupKind()]; ok {
		return s != "Cluster", nil
	}
	mapping, err := m.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		if meta.IsNoMatchError(err) {
			return false, fmt.Errorf("kind %s is not served by the cluster and no CustomResourceDefinition in the set defines it", gvk)
		}
		return false, fmt.Errorf("mapping %s: %w", gvk, err)
	}
	return mapping.Scope.Name() == meta.RESTScopeNameNamespace, nil
}

// normalize removes the differences between what authors write and what the
// API server stores that would otherwise show as drift or break apply merges.
func normalize(obj *unstructured.Unstructured) error {
	gvk := obj.GroupVersionKind()
	switch {
	case gvk.Group == "" && gvk.Kind == "Secret":
		return mergeStringData(obj)
	case gvk.Group == "" && gvk.Kind == "Service":
		defaultProtocols(obj.Object, "spec", "ports")
	}
	if path := podSpecPath(gvk.GroupKind()); path != nil {
		spec, ok, _ := unstructured.NestedMap(obj.Object, path...)
		if ok {
			for _, f := range []string{"containers", "initContainers", "ephemeralContainers"} {
				cs, ok := spec[f].([]any)
				if !ok {
					continue
				}
				for _, c := range cs {
					if cm, ok := c.(map[string]any); ok {
						defaultProtocols(cm, "ports")
					}
				}
			}
			if err := unstructured.SetNestedMap(obj.Object, spec, path...); err != nil {
				return err
			}
		}
	}
	return nil
}

// defaultProtocols sets protocol: TCP on the port entries that lack one.
// Ports are a list-map keyed by port and protocol; leaving the protocol to
// server defaulting makes SSA see a different key than the stored one.
func defaultProtocols(m map[string]any, path ...string) {
	ports, ok, _ := unstructured.NestedSlice(m, path...)
	if !ok {
		return
	}
	for _, p := range ports {
		if pm, ok := p.(map[string]any); ok {
			if _, has := pm["protocol"]; !has {
				pm["protocol"] = "TCP"
			}
		}
	}
	_ = unstructured.SetNestedSlice(m, ports, path...)
}

// mergeStringData moves a Secret's stringData into data (base64), as the API
// server does on write, so the applied configuration matches what is stored.
func mergeStringData(obj *unstructured.Unstructured) error {
	sd, ok, err := unstructured.NestedMap(obj.Object, "stringData")
	if err != nil {
		return fmt.Errorf("secret stringData: %w", err)
	}
	if !ok {
		return nil
	}
	data, _, err := unstructured.NestedMap(obj.Object, "data")
	if err != nil {
		return fmt.Errorf("secret data: %w", err)
	}
	if data == nil {
		data = map[string]any{}
	}
	for k, v := range sd {
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("secret stringData key %q is not a string", k)
		}
		data[k] = base64.StdEncoding.EncodeToString([]byte(s))
	}
	unstructured.RemoveNestedField(obj.Object, "stringData")
	return unstructured.SetNestedMap(obj.Object, data, "data")
}

// podSpecPath returns where the pod spec lives in a workload kind.
func podSpecPath(gk schema.GroupKind) []string {
	switch gk {
	case schema.GroupKind{Kind: "Pod"}:
		return []string{"spec"}
	case schema.GroupKind{Group: "apps", Kind: "Deployment"},
		schema.GroupKind{Group: "apps", Kind: "StatefulSet"},
		schema.GroupKind{Group: "apps", Kind: "DaemonSet"},
		schema.GroupKind{Group: "apps", Kind: "ReplicaSet"},
		schema.GroupKind{Group: "batch", Kind: "Job"},
		schema.GroupKind{Kind: "ReplicationController"}:
		return []string{"spec", "template", "spec"}
	case schema.GroupKind{Group: "batch", Kind: "CronJob"}:
		return []string{"spec", "jobTemplate", "spec", "template", "spec"}
	}
	return nil
}
