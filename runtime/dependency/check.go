package dependency

import (
	"context"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Check reads the dependency ref with r into obj, an empty object of ref's
// kind, and decides whether it is ready as CheckReady does. It returns nil
// when it is ready; a *NotReadyError when it is not, or when it does not
// exist (NotFound set); and another error when it cannot be read or its
// readiness cannot be decided.
//
// ref should be resolved against the dependent first (Ref.Resolve): the
// error names ref as given, kind included, so that a dependent whose
// dependencies are of several kinds says which one it waits for:
//
//	dependency 'HelmRelease/apps/db' is not ready: Ready condition is False: InstallFailed: …
//
// Check is the one rule every dependent kind shares: a Kustomization and a
// HelmRelease wait for each other the same way.
func Check(ctx context.Context, r client.Reader, ref Ref, obj client.Object, opts ReadyOptions) error {
	if err := r.Get(ctx, client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}, obj); err != nil {
		if apierrors.IsNotFound(err) {
			return &NotReadyError{Dependency: ref, NotFound: true}
		}
		return fmt.Errorf("reading dependency '%s': %w", ref, err)
	}
	err := CheckReady(ctx, obj, opts)
	if nr := (*NotReadyError)(nil); errors.As(err, &nr) {
		nr.Dependency = ref
	}
	return err
}
