package gitopsctl

import (
	"context"
	"errors"
	"fmt"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/examples/internal/gitopsd"
)

// fieldManager is the field manager of what gitopsctl writes itself
// (annotations, suspend, created objects).
const fieldManager = "gitopsctl"

// cluster is the API server a command talks to.
type cluster struct {
	cfg *rest.Config
	c   client.WithWatch
	// namespace is -n, else the context's namespace, else the default.
	namespace string
}

// cluster connects to the API server the flags (or Options.Config)
// select, once.
func (a *app) cluster() (*cluster, error) {
	if a.cl != nil {
		return a.cl, nil
	}
	cl := &cluster{namespace: a.namespace}
	if a.opts.Config != nil {
		cl.cfg = rest.CopyConfig(a.opts.Config)
	} else {
		rules := clientcmd.NewDefaultClientConfigLoadingRules()
		if a.kubeconfig != "" {
			rules.ExplicitPath = a.kubeconfig
		}
		overrides := &clientcmd.ConfigOverrides{CurrentContext: a.kubecontext}
		cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides)
		cfg, err := cc.ClientConfig()
		if err != nil {
			return nil, fmt.Errorf("loading the kubeconfig: %w", err)
		}
		cl.cfg = cfg
		if cl.namespace == "" {
			if ns, explicit, err := cc.Namespace(); err == nil && explicit {
				cl.namespace = ns
			}
		}
	}
	if cl.namespace == "" {
		cl.namespace = a.opts.Namespace
	}
	if cl.namespace == "" {
		cl.namespace = DefaultNamespace
	}
	cl.cfg.UserAgent = "gitopsctl/" + version()
	if cl.cfg.QPS == 0 {
		cl.cfg.QPS, cl.cfg.Burst = 50, 100
	}
	scheme, err := gitopsd.NewScheme()
	if err != nil {
		return nil, err
	}
	if err := apiextensionsv1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	c, err := client.NewWithWatch(cl.cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, fmt.Errorf("connecting to the API server at %s: %w", cl.cfg.Host, err)
	}
	cl.c = c
	a.cl = cl
	return cl, nil
}

// listNamespace is the namespace a list reads: "" (every one) with -A.
func (a *app) listNamespace(cl *cluster) string {
	if a.allNamespaces {
		return ""
	}
	return cl.namespace
}

// get reads the object of kind k at key.
func (cl *cluster) get(ctx context.Context, k *kind, key client.ObjectKey) (*unstructured.Unstructured, error) {
	obj := k.newObject()
	if err := cl.c.Get(ctx, key, obj); err != nil {
		return nil, readable(err, k.GVK().GroupKind(), k.GroupVersion.String(), key)
	}
	return obj, nil
}

// list lists the objects of kind k in namespace ns ("" for every one).
func (cl *cluster) list(ctx context.Context, k *kind, ns string, opts ...client.ListOption) ([]unstructured.Unstructured, error) {
	l := k.newList()
	if err := cl.c.List(ctx, l, append(opts, client.InNamespace(ns))...); err != nil {
		return nil, readable(err, k.GVK().GroupKind(), k.GroupVersion.String(), client.ObjectKey{Namespace: ns})
	}
	return l.Items, nil
}

// readable turns the errors a user meets most into sentences naming what
// is missing.
func readable(err error, gk schema.GroupKind, apiVersion string, key client.ObjectKey) error {
	switch {
	case meta.IsNoMatchError(err), apierrors.IsNotFound(err) && key.Name == "":
		return fmt.Errorf("the cluster does not serve %s (%s): gitopsd's CRDs are not installed (see gitopsctl install and gitopsctl check)", gk.Kind, apiVersion)
	case apierrors.IsNotFound(err):
		return fmt.Errorf("%s %s not found", gk.Kind, displayKey(key))
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("timed out talking to the API server: %w", err)
	}
	return err
}

// displayKey is namespace/name, or name for cluster-scoped objects.
func displayKey(key client.ObjectKey) string {
	if key.Namespace == "" {
		return key.Name
	}
	return key.Namespace + "/" + key.Name
}

// isNoMatch reports an error saying the cluster does not serve a kind.
func isNoMatch(err error) bool { return meta.IsNoMatchError(err) }
