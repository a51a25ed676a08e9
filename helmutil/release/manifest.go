package release

import (
	"context"
	"fmt"

	"github.com/go-logr/logr"
	rcommon "helm.sh/helm/v4/pkg/release/common"
	rel "helm.sh/helm/v4/pkg/release/v1"
	releaseutil "helm.sh/helm/v4/pkg/release/v1/util"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitopskit/kit/ssa"
)

// Ownership metadata Helm puts on every object it applies; the stored
// manifest does not hold it, so it is added back before comparing the
// manifest with the cluster or applying it again.
const (
	helmManagedByLabel          = "app.kubernetes.io/managed-by"
	helmReleaseNameAnnotation   = "meta.helm.sh/release-name"
	helmReleaseNamespaceAnnotat = "meta.helm.sh/release-namespace"
)

// objects parses a release's manifest (not its hooks) into objects as Helm
// applied them: with its ownership metadata, and namespaced objects in the
// release namespace unless they name one.
func (r *Runner) objects(re *rel.Release) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	for _, doc := range releaseutil.SplitManifests(re.Manifest) {
		objs, err := decodeObjects([]byte(doc))
		if err != nil {
			return nil, fmt.Errorf("release %s/%s revision %d: manifest: %w", re.Namespace, re.Name, re.Version, err)
		}
		for _, o := range objs {
			if o.GetKind() == "" {
				continue
			}
			labels := o.GetLabels()
			if labels == nil {
				labels = map[string]string{}
			}
			labels[helmManagedByLabel] = "Helm"
			o.SetLabels(labels)
			ann := o.GetAnnotations()
			if ann == nil {
				ann = map[string]string{}
			}
			ann[helmReleaseNameAnnotation], ann[helmReleaseNamespaceAnnotat] = re.Name, re.Namespace
			o.SetAnnotations(ann)
			if o.GetNamespace() == "" {
				gvk := o.GroupVersionKind()
				if m, err := r.mapper.RESTMapping(gvk.GroupKind(), gvk.Version); err == nil && m.Scope.Name() == meta.RESTScopeNameNamespace {
					o.SetNamespace(re.Namespace)
				}
			}
			out = append(out, o)
		}
	}
	return out, nil
}

// inventory lists the objects of a revision's manifest in ssa's inventory
// format, nil for no revision or one whose manifest does not parse (the
// error is logged).
func (r *Runner) inventory(ctx context.Context, ref Ref, re *rel.Release) *ssa.Inventory {
	if re == nil || (re.Info != nil && re.Info.Status == rcommon.StatusUninstalled) {
		return nil
	}
	objs, err := r.objects(re)
	if err != nil {
		logr.FromContextOrDiscard(ctx).Error(err, "listing the release's objects", "release", ref.String())
		return nil
	}
	return ssa.NewInventory(objs...)
}
