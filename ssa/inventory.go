package ssa

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// InventoryEntry is one object of an Inventory, in Flux's format: ID is
// <namespace>_<name>_<group>_<kind> and Version the API version it was
// applied with.
type InventoryEntry struct {
	ID      string `json:"id"`
	Version string `json:"v"`
}

// Inventory records which objects a set put on the cluster, so the next
// apply can prune what left the set. Its JSON form is Flux's
// ResourceInventory: {"entries":[{"id":...,"v":...}]}. Entries are kept
// sorted by ID and unique.
type Inventory struct {
	Entries []InventoryEntry `json:"entries"`
}

// NewInventory returns the inventory of the objects. Objects must carry their
// namespace (use the ChangeSet's IDs when a default namespace was applied:
// InventoryFromChangeSet).
func NewInventory(objs ...*unstructured.Unstructured) *Inventory {
	inv := &Inventory{}
	for _, o := range objs {
		inv.Add(IDOf(o), o.GroupVersionKind().Version)
	}
	return inv
}

// InventoryFromChangeSet returns the inventory of the objects in the
// ChangeSet that exist on the cluster after Apply: every object except the
// deleted ones and those skipped by the Ignore policy. A nil ChangeSet gives
// an empty inventory.
func InventoryFromChangeSet(cs *ChangeSet) *Inventory {
	inv := &Inventory{}
	if cs == nil {
		return inv
	}
	for _, c := range cs.Changes {
		if c.Action == ActionDeleted || (c.Action == ActionSkipped && strings.HasSuffix(c.Reason, PolicyIgnore)) {
			continue
		}
		inv.Add(c.ID, c.Version)
	}
	return inv
}

// InventoryFromResult returns the inventory of what may be on the cluster
// after an Apply that returned cs and err: InventoryFromChangeSet(cs), and
// the objects of err's *SetError whose write may have been done although
// it failed (ObjectError.MayExist). Kept after a failed apply, it lets a
// later prune find every object the apply may have created; an object in
// it that is not on the cluster costs the prune nothing.
func InventoryFromResult(cs *ChangeSet, err error) *Inventory {
	inv := InventoryFromChangeSet(cs)
	var se *SetError
	if errors.As(err, &se) {
		for _, o := range se.Objects {
			if o.MayExist {
				inv.Add(o.ID, o.version)
			}
		}
	}
	return inv
}

// Add records an object, replacing the version of an existing entry.
func (inv *Inventory) Add(id ObjectID, version string) {
	e := InventoryEntry{ID: id.InventoryID(), Version: version}
	i, found := slices.BinarySearchFunc(inv.Entries, e.ID, func(a InventoryEntry, id string) int { return strings.Compare(a.ID, id) })
	if found {
		inv.Entries[i] = e
		return
	}
	inv.Entries = slices.Insert(inv.Entries, i, e)
}

// Has reports whether the inventory holds the object.
func (inv *Inventory) Has(id ObjectID) bool {
	_, found := slices.BinarySearchFunc(inv.Entries, id.InventoryID(), func(a InventoryEntry, id string) int { return strings.Compare(a.ID, id) })
	return found
}

// Diff returns the entries of inv that are not in next (by ID, whatever the
// version): the objects that left the set.
func (inv *Inventory) Diff(next *Inventory) *Inventory {
	out := &Inventory{}
	for _, e := range inv.Entries {
		if next == nil {
			out.Entries = append(out.Entries, e)
			continue
		}
		if _, found := slices.BinarySearchFunc(next.Entries, e.ID, func(a InventoryEntry, id string) int { return strings.Compare(a.ID, id) }); !found {
			out.Entries = append(out.Entries, e)
		}
	}
	return out
}

// Objects returns one object per entry carrying only apiVersion, kind,
// namespace and name, for Wait and Prune.
func (inv *Inventory) Objects() ([]*unstructured.Unstructured, error) {
	if inv == nil {
		return nil, nil
	}
	out := make([]*unstructured.Unstructured, 0, len(inv.Entries))
	for _, e := range inv.Entries {
		id, err := ParseInventoryID(e.ID)
		if err != nil {
			return nil, err
		}
		if e.Version == "" {
			return nil, fmt.Errorf("%w: inventory entry %q has no version", ErrInvalidID, truncate(e.ID))
		}
		u := &unstructured.Unstructured{}
		apiVersion := e.Version
		if id.Group != "" {
			apiVersion = id.Group + "/" + e.Version
		}
		u.SetAPIVersion(apiVersion)
		u.SetKind(id.Kind)
		u.SetNamespace(id.Namespace)
		u.SetName(id.Name)
		out = append(out, u)
	}
	return out, nil
}

// InventoryConfigMapKey is the ConfigMap data key holding an inventory.
const InventoryConfigMapKey = "inventory"

// maxInventory bounds a stored inventory: a ConfigMap holds at most 1 MiB.
const maxInventory = 1 << 20

// ParseInventory parses an inventory's JSON form, checking every entry.
func ParseInventory(data []byte) (*Inventory, error) {
	if len(data) > maxInventory {
		return nil, fmt.Errorf("%w: inventory larger than %d bytes", ErrInvalidID, maxInventory)
	}
	var raw Inventory
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("%w: inventory: %w", ErrInvalidID, err)
	}
	inv := &Inventory{}
	for _, e := range raw.Entries {
		id, err := ParseInventoryID(e.ID)
		if err != nil {
			return nil, err
		}
		if e.Version == "" || strings.ContainsAny(e.Version, "/_ ") {
			return nil, fmt.Errorf("%w: inventory entry %q has a bad version %q", ErrInvalidID, truncate(e.ID), truncate(e.Version))
		}
		inv.Add(id, e.Version)
	}
	return inv, nil
}

// ConfigMap returns a ConfigMap holding the inventory under
// InventoryConfigMapKey.
func (inv *Inventory) ConfigMap(key types.NamespacedName) (*corev1.ConfigMap, error) {
	data, err := json.Marshal(inv)
	if err != nil {
		return nil, err
	}
	if len(data) > maxInventory {
		return nil, fmt.Errorf("inventory of %d entries is larger than %d bytes", len(inv.Entries), maxInventory)
	}
	return &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: key.Name, Namespace: key.Namespace},
		Data:       map[string]string{InventoryConfigMapKey: string(data)},
	}, nil
}

// InventoryFromConfigMap reads an inventory stored by Inventory.ConfigMap.
func InventoryFromConfigMap(cm *corev1.ConfigMap) (*Inventory, error) {
	data, ok := cm.Data[InventoryConfigMapKey]
	if !ok {
		return nil, fmt.Errorf("%w: configmap %s/%s has no %q key", ErrInvalidID, cm.Namespace, cm.Name, InventoryConfigMapKey)
	}
	return ParseInventory([]byte(data))
}

// SaveInventory stores the inventory in the ConfigMap key with a
// server-side apply by the owner's field manager.
func (m *Manager) SaveInventory(ctx context.Context, key types.NamespacedName, inv *Inventory) error {
	cm, err := inv.ConfigMap(key)
	if err != nil {
		return err
	}
	raw, err := toUnstructured(cm)
	if err != nil {
		return err
	}
	if _, err := m.apply(ctx, raw, true, false); err != nil {
		return fmt.Errorf("saving inventory %s: %w", key, err)
	}
	return nil
}

// LoadInventory reads the inventory stored in the ConfigMap key; a missing
// ConfigMap is an empty inventory.
func (m *Manager) LoadInventory(ctx context.Context, key types.NamespacedName) (*Inventory, error) {
	cm := &corev1.ConfigMap{}
	if err := m.client.Get(ctx, key, cm); err != nil {
		if apierrors.IsNotFound(err) {
			return &Inventory{}, nil
		}
		return nil, fmt.Errorf("loading inventory %s: %w", key, err)
	}
	return InventoryFromConfigMap(cm)
}

func toUnstructured(obj client.Object) (*unstructured.Unstructured, error) {
	data, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(data); err != nil {
		return nil, err
	}
	unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
	return u, nil
}
