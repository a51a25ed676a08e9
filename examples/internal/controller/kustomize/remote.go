package kustomize

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/gitopskit/kit/runtime/reconcile"

	kustomizev1 "github.com/gitopskit/kit/examples/api/kustomize/v1"
	controllers "github.com/gitopskit/kit/examples/internal/controller"
)

// Keys of a kubeConfig Secret tried when spec.kubeConfig.secretRef.key is
// empty, as Flux does.
var kubeConfigKeys = []string{"value", "value.yaml"}

// maxKubeConfig bounds a kubeconfig read from a Secret.
const maxKubeConfig = 1 << 20

// errUnsafeKubeConfig is a kubeconfig that would make gitopsd run a
// program or read one of its own files.
var errUnsafeKubeConfig = errors.New("unsafe kubeconfig")

// remoteConfig reads spec.kubeConfig's Secret into a rest.Config for the
// remote cluster, refusing what a tenant must not make gitopsd do with it.
func (r *KustomizationReconciler) remoteConfig(ctx context.Context, obj *kustomizev1.Kustomization, rep *controllers.Reporter) (*rest.Config, error) {
	ref := obj.Spec.KubeConfig.SecretRef
	key := types.NamespacedName{Namespace: obj.Namespace, Name: ref.Name}
	sec := &corev1.Secret{}
	if err := r.Client.Get(ctx, key, sec); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("kubeConfig Secret '%s' not found", key)
		}
		return nil, fmt.Errorf("reading kubeConfig Secret '%s': %w", key, err)
	}
	keys := kubeConfigKeys
	if ref.Key != "" {
		keys = []string{ref.Key}
	}
	var data []byte
	for _, k := range keys {
		if v, ok := sec.Data[k]; ok {
			data = v
			break
		}
	}
	if data == nil {
		return nil, reconcile.Stall(InvalidSpecReason, fmt.Errorf("kubeConfig Secret '%s' has no key %q", key, keys))
	}
	cfg, err := parseKubeConfig(data)
	if err != nil {
		return nil, reconcile.Stall(InvalidSpecReason, fmt.Errorf("kubeConfig Secret '%s': %w", key, err))
	}
	rep.Mask(cfg.BearerToken, cfg.Password, string(cfg.KeyData))
	return cfg, nil
}

// parseKubeConfig turns a kubeconfig's current context into a rest.Config.
// It refuses exec and auth-provider plugins (they run programs or reach
// cloud metadata as gitopsd) and every field that names a local file
// (certificate-authority, client-certificate, client-key, tokenFile, a
// cluster proxy), which would read gitopsd's own files — its service
// account token among them. Errors never quote the document.
func parseKubeConfig(data []byte) (*rest.Config, error) {
	if len(data) > maxKubeConfig {
		return nil, fmt.Errorf("%w: larger than %d bytes", errUnsafeKubeConfig, maxKubeConfig)
	}
	raw, err := clientcmd.Load(data)
	if err != nil {
		return nil, errors.New("the kubeconfig does not parse")
	}
	cc := clientcmd.NewDefaultClientConfig(*raw, &clientcmd.ConfigOverrides{})
	rawCfg, err := cc.RawConfig()
	if err != nil {
		return nil, errors.New("the kubeconfig does not parse")
	}
	name := rawCfg.CurrentContext
	kctx, ok := rawCfg.Contexts[name]
	if !ok || kctx == nil {
		return nil, fmt.Errorf("the kubeconfig has no current context %q", name)
	}
	if c := rawCfg.Clusters[kctx.Cluster]; c != nil {
		if c.CertificateAuthority != "" {
			return nil, fmt.Errorf("%w: cluster %q reads certificate-authority from a file", errUnsafeKubeConfig, kctx.Cluster)
		}
		if c.ProxyURL != "" {
			return nil, fmt.Errorf("%w: cluster %q sets proxy-url", errUnsafeKubeConfig, kctx.Cluster)
		}
	}
	if u := rawCfg.AuthInfos[kctx.AuthInfo]; u != nil {
		if err := checkAuthInfo(kctx.AuthInfo, u); err != nil {
			return nil, err
		}
	}
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, errors.New("the kubeconfig's current context is incomplete")
	}
	return cfg, nil
}

func checkAuthInfo(name string, u *clientcmdapi.AuthInfo) error {
	switch {
	case u.Exec != nil:
		return fmt.Errorf("%w: user %q runs an exec plugin", errUnsafeKubeConfig, name)
	case u.AuthProvider != nil:
		return fmt.Errorf("%w: user %q uses an auth provider", errUnsafeKubeConfig, name)
	case u.ClientCertificate != "" || u.ClientKey != "":
		return fmt.Errorf("%w: user %q reads a client certificate or key from a file", errUnsafeKubeConfig, name)
	case u.TokenFile != "":
		return fmt.Errorf("%w: user %q reads its token from a file", errUnsafeKubeConfig, name)
	}
	return nil
}
