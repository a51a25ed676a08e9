package ssa

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// ObjectID identifies an object independently of its API version.
type ObjectID struct {
	Group     string
	Kind      string
	Namespace string
	Name      string
}

// IDOf returns the ObjectID of obj.
func IDOf(obj *unstructured.Unstructured) ObjectID {
	gvk := obj.GroupVersionKind()
	return ObjectID{Group: gvk.Group, Kind: gvk.Kind, Namespace: obj.GetNamespace(), Name: obj.GetName()}
}

// GroupKind returns the group and kind of the ID.
func (id ObjectID) GroupKind() schema.GroupKind {
	return schema.GroupKind{Group: id.Group, Kind: id.Kind}
}

// String returns a readable form: Kind[.group]/[namespace/]name, for example
// "Deployment.apps/default/web" or "Namespace/apps".
func (id ObjectID) String() string {
	var b strings.Builder
	b.WriteString(id.Kind)
	if id.Group != "" {
		b.WriteByte('.')
		b.WriteString(id.Group)
	}
	b.WriteByte('/')
	if id.Namespace != "" {
		b.WriteString(id.Namespace)
		b.WriteByte('/')
	}
	b.WriteString(id.Name)
	return b.String()
}

// InventoryID returns the ID in Flux's inventory format:
// <namespace>_<name>_<group>_<kind>.
func (id ObjectID) InventoryID() string {
	return id.Namespace + "_" + id.Name + "_" + id.Group + "_" + id.Kind
}

// DependsOnRef returns the ID in the format of the
// config.kubernetes.io/depends-on annotation:
// <group>/namespaces/<namespace>/<kind>/<name> for a namespaced object and
// <group>/<kind>/<name> for a cluster-scoped one.
func (id ObjectID) DependsOnRef() string {
	if id.Namespace != "" {
		return id.Group + "/namespaces/" + id.Namespace + "/" + id.Kind + "/" + id.Name
	}
	return id.Group + "/" + id.Kind + "/" + id.Name
}

// ParseInventoryID parses an ID in Flux's inventory format
// <namespace>_<name>_<group>_<kind>. Kubernetes names, namespaces, groups and
// kinds cannot contain '_', so the format is unambiguous.
func ParseInventoryID(s string) (ObjectID, error) {
	parts := strings.Split(s, "_")
	if len(parts) != 4 {
		return ObjectID{}, fmt.Errorf("%w: inventory id %q: want <namespace>_<name>_<group>_<kind>", ErrInvalidID, truncate(s))
	}
	id := ObjectID{Namespace: parts[0], Name: parts[1], Group: parts[2], Kind: parts[3]}
	if id.Name == "" || id.Kind == "" {
		return ObjectID{}, fmt.Errorf("%w: inventory id %q: empty name or kind", ErrInvalidID, truncate(s))
	}
	return id, nil
}

// maxDependsOn bounds the size of a depends-on annotation value.
const maxDependsOn = 64 << 10

// ParseDependsOn parses the value of the config.kubernetes.io/depends-on
// annotation: a comma-separated list of object references in the cli-utils
// format, <group>/namespaces/<namespace>/<kind>/<name> or <group>/<kind>/<name>
// (the core group is empty, so those references start with '/'). Blanks
// around a reference are ignored; anything else malformed is an error.
func ParseDependsOn(value string) ([]ObjectID, error) {
	if len(value) > maxDependsOn {
		return nil, fmt.Errorf("%w: depends-on annotation longer than %d bytes", ErrInvalidID, maxDependsOn)
	}
	if strings.TrimSpace(value) == "" {
		return nil, nil
	}
	refs := strings.Split(value, ",")
	ids := make([]ObjectID, 0, len(refs))
	for _, ref := range refs {
		id, err := parseDependsOnRef(strings.TrimSpace(ref))
		if err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, nil
}

func parseDependsOnRef(ref string) (ObjectID, error) {
	parts := strings.Split(ref, "/")
	var id ObjectID
	switch len(parts) {
	case 3:
		id = ObjectID{Group: parts[0], Kind: parts[1], Name: parts[2]}
	case 5:
		if parts[1] != "namespaces" {
			return ObjectID{}, fmt.Errorf("%w: depends-on reference %q: want <group>/namespaces/<namespace>/<kind>/<name>", ErrInvalidID, truncate(ref))
		}
		id = ObjectID{Group: parts[0], Namespace: parts[2], Kind: parts[3], Name: parts[4]}
		if id.Namespace == "" {
			return ObjectID{}, fmt.Errorf("%w: depends-on reference %q: empty namespace", ErrInvalidID, truncate(ref))
		}
	default:
		return ObjectID{}, fmt.Errorf("%w: depends-on reference %q: want <group>/<kind>/<name> or <group>/namespaces/<namespace>/<kind>/<name>", ErrInvalidID, truncate(ref))
	}
	if id.Kind == "" || id.Name == "" {
		return ObjectID{}, fmt.Errorf("%w: depends-on reference %q: empty kind or name", ErrInvalidID, truncate(ref))
	}
	for _, p := range []string{id.Group, id.Kind, id.Namespace, id.Name} {
		if strings.ContainsAny(p, " \t\r\n") {
			return ObjectID{}, fmt.Errorf("%w: depends-on reference %q: blank inside a part", ErrInvalidID, truncate(ref))
		}
	}
	return id, nil
}

// truncate shortens untrusted input quoted in error messages.
func truncate(s string) string {
	const max = 200
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}
