package controller

import (
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// UncachedObjects are the types the manager running these reconcilers must
// read straight from the API server (manager.Options.Client.Cache.DisableFor)
// instead of through informers. The reconcilers only Get the few Secrets
// and ConfigMaps their specs name, the ServiceAccounts whose image pull
// secrets an OCIRepository uses, and the Namespace of a referrer under a
// namespace-selector policy (runtime/acl): caching them would list and
// watch every Secret and ConfigMap of the cluster (memory, and list/watch
// permission on all Secrets), and a lagging Namespace cache could keep
// granting cross-namespace references after the label allowing them was
// removed. The RBAC markers of this package grant only get on them.
func UncachedObjects() []client.Object {
	return []client.Object{&corev1.Secret{}, &corev1.ConfigMap{}, &corev1.ServiceAccount{}, &corev1.Namespace{}}
}
