package kustomize

import (
	"context"
	"errors"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/ssa"

	kustomizev1 "github.com/gitopskit/kit/examples/api/kustomize/v1"
	controllers "github.com/gitopskit/kit/examples/internal/controller"
)

// Build returns the objects the reconciler would apply for ks from the
// source tree at root, built by the reconciler's own code: spec.path with
// the spec's overlay, SOPS decryption with the keys of
// spec.decryption.secretRef and postBuild substitution, the ConfigMaps and
// Secrets the spec names read through c. gitopsctl's diff and build run it,
// so that a preview never differs from what gitopsd applies.
//
// c may be nil when the spec reads nothing from the cluster (no
// postBuild.substituteFrom, no decryption secretRef).
func Build(ctx context.Context, c client.Client, ks *kustomizev1.Kustomization, root string) ([]*unstructured.Unstructured, error) {
	if c == nil && readsCluster(ks) {
		return nil, errors.New("the Kustomization reads ConfigMaps or Secrets (postBuild.substituteFrom, decryption.secretRef): a client is needed")
	}
	r := &KustomizationReconciler{Client: c}
	return r.build(ctx, ks, root, &controllers.Reporter{})
}

// NewApplyManager returns the ssa.Manager the reconciler applies ks's
// objects with (its field manager and ownership labels), talking through
// c: a server-side dry-run diff with it shows what the next reconcile
// would change.
func NewApplyManager(c client.WithWatch, ks *kustomizev1.Kustomization) (*ssa.Manager, error) {
	return (&KustomizationReconciler{}).manager(c, ks)
}

// readsCluster reports whether building ks reads objects from the cluster.
func readsCluster(ks *kustomizev1.Kustomization) bool {
	if d := ks.Spec.Decryption; d != nil && d.SecretRef != nil {
		return true
	}
	return ks.Spec.PostBuild != nil && len(ks.Spec.PostBuild.SubstituteFrom) > 0
}
