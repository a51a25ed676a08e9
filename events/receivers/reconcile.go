package receivers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/runtime/reconcile"
)

// ErrResource is wrapped by RequestReconcile's errors about a resource
// that names nothing it can find: no apiVersion, or "*" without labels.
var ErrResource = errors.New("invalid resource")

// RequestReconcile asks every object the resources name to reconcile now,
// by setting runtime/reconcile's requestedAt annotation to at (RFC 3339,
// nanoseconds). A Name of "*" selects the objects of the kind in the
// namespace with the MatchLabels (required then); a named object that does
// not exist is an error. It returns the objects annotated.
//
// Check cross-namespace access before calling: RequestReconcile annotates
// whatever namespace a resource names.
func RequestReconcile(ctx context.Context, c client.Client, resources []Resource, at time.Time) ([]types.NamespacedName, error) {
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{
		reconcile.RequestedAtAnnotation: at.UTC().Format(time.RFC3339Nano),
	}}})
	if err != nil {
		return nil, err
	}
	var done []types.NamespacedName
	var errs []error
	for _, res := range resources {
		gv, err := schema.ParseGroupVersion(res.APIVersion)
		if err != nil || res.APIVersion == "" || res.Kind == "" {
			errs = append(errs, fmt.Errorf("%w: %s %s needs an apiVersion and a kind", ErrResource, res.Kind, res.Name))
			continue
		}
		gvk := gv.WithKind(res.Kind)
		var targets []*metav1.PartialObjectMetadata
		if res.Name == "*" {
			if len(res.MatchLabels) == 0 {
				errs = append(errs, fmt.Errorf("%w: %s/* needs matchLabels", ErrResource, res.Kind))
				continue
			}
			list := &metav1.PartialObjectMetadataList{}
			list.SetGroupVersionKind(gvk.GroupVersion().WithKind(res.Kind + "List"))
			if err := c.List(ctx, list, client.InNamespace(res.Namespace), client.MatchingLabels(res.MatchLabels)); err != nil {
				errs = append(errs, fmt.Errorf("listing %s in %s: %w", res.Kind, res.Namespace, err))
				continue
			}
			for i := range list.Items {
				list.Items[i].SetGroupVersionKind(gvk)
				targets = append(targets, &list.Items[i])
			}
		} else {
			o := &metav1.PartialObjectMetadata{}
			o.SetGroupVersionKind(gvk)
			o.SetNamespace(res.Namespace)
			o.SetName(res.Name)
			targets = append(targets, o)
		}
		for _, o := range targets {
			if err := c.Patch(ctx, o, client.RawPatch(types.MergePatchType, patch)); err != nil {
				errs = append(errs, fmt.Errorf("requesting a reconcile of %s %s/%s: %w", res.Kind, o.GetNamespace(), o.GetName(), err))
				continue
			}
			done = append(done, types.NamespacedName{Namespace: o.GetNamespace(), Name: o.GetName()})
		}
	}
	return done, errors.Join(errs...)
}
