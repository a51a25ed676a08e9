package source

import (
	"context"

	"sigs.k8s.io/controller-runtime/pkg/client"

	sourcev1 "github.com/gitopskit/kit/examples/api/source/v1"
	controllers "github.com/gitopskit/kit/examples/internal/controller"
	"github.com/gitopskit/kit/git"
	"github.com/gitopskit/kit/oci"
)

// RegistryClientOptions returns the registry client's options for a
// registry reached as obj describes it (spec.url, secretRef,
// certSecretRef, proxySecretRef, serviceAccountName, insecure, timeout) —
// the options the OCIRepository reconciler builds, for other reconcilers
// reading the same registries (image automation). It also returns the
// repository (host/path) of spec.url. Every secret value read is masked
// in rep.
func RegistryClientOptions(ctx context.Context, c client.Client, obj *sourcev1.OCIRepository, rep *controllers.Reporter) (opts []oci.Option, repo string, err error) {
	repo, host, err := ociRepository(obj.Spec.URL)
	if err != nil {
		return nil, "", err
	}
	opts, err = (&OCIRepositoryReconciler{Client: c}).clientOptions(ctx, obj, host, rep)
	return opts, repo, err
}

// GitAuth returns the git credentials of a GitRepository (spec.secretRef
// and spec.proxySecretRef), as the GitRepository reconciler reads them,
// for other reconcilers writing to the same remote (image update
// automation). Every secret value read is masked in rep.
func GitAuth(ctx context.Context, c client.Client, obj *sourcev1.GitRepository, rep *controllers.Reporter) (git.AuthOptions, error) {
	return (&GitRepositoryReconciler{Client: c}).auth(ctx, obj, rep)
}
