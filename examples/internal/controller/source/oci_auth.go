package source

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/sigstore/sigstore-go/pkg/root"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sourcev1 "github.com/gitopskit/kit/examples/api/source/v1"
	controllers "github.com/gitopskit/kit/examples/internal/controller"
	"github.com/gitopskit/kit/oci"
	"github.com/gitopskit/kit/runtime/reconcile"
	"github.com/gitopskit/kit/runtime/secrets"
)

// trustedRootKey is the key of a verification Secret holding the Sigstore
// trusted root for keyless verification.
const trustedRootKey = "trusted_root.json"

// clientOptions builds the registry client's options from the spec and its
// Secrets: TLS (spec.certSecretRef), the proxy (spec.proxySecretRef) and
// the credentials (spec.secretRef, then the image pull secrets of
// spec.serviceAccountName). Every secret value read is masked in rep.
func (r *OCIRepositoryReconciler) clientOptions(ctx context.Context, obj *sourcev1.OCIRepository, host string, rep *controllers.Reporter) ([]oci.Option, error) {
	opts := []oci.Option{oci.WithTimeout(obj.GetTimeout())}
	if obj.Spec.Insecure {
		opts = append(opts, oci.WithInsecure(true))
	}
	if ref := obj.Spec.CertSecretRef; ref != nil {
		s, err := getSecret(ctx, r.Client, obj.Namespace, ref.Name)
		if err != nil {
			return nil, err
		}
		t, err := secrets.TLSFromSecret(s)
		if err != nil {
			return nil, err
		}
		if len(t.CA) > 0 {
			pool := x509.NewCertPool()
			pool.AppendCertsFromPEM(t.CA)
			opts = append(opts, oci.WithRootCAs(pool))
		}
		if len(t.Cert) > 0 {
			cert, err := tls.X509KeyPair(t.Cert, t.Key)
			if err != nil {
				// TLSFromSecret checked the pair; this cannot quote it.
				return nil, fmt.Errorf("secret '%s/%s': invalid client certificate", s.Namespace, s.Name)
			}
			opts = append(opts, oci.WithClientCertificate(cert))
		}
	}
	if ref := obj.Spec.ProxySecretRef; ref != nil {
		u, err := proxyURL(ctx, r.Client, obj.Namespace, ref.Name, rep)
		if err != nil {
			return nil, err
		}
		opts = append(opts, oci.WithProxy(u))
	}
	auth, found, err := r.registryAuth(ctx, obj, host)
	if err != nil {
		return nil, err
	}
	if !found {
		return opts, nil
	}
	rep.Mask(auth.Password, auth.IdentityToken, auth.RegistryToken, basicCredentials(auth.Username, auth.Password))
	switch {
	case auth.RegistryToken != "":
		opts = append(opts, oci.WithBearerToken(auth.RegistryToken))
	case auth.IdentityToken != "":
		opts = append(opts, oci.WithAuth(authn.FromConfig(authn.AuthConfig{Username: auth.Username, IdentityToken: auth.IdentityToken})))
	default:
		opts = append(opts, oci.WithBasicAuth(auth.Username, auth.Password))
	}
	return opts, nil
}

// registryAuth returns the credentials for host: those of spec.secretRef,
// else of the first image pull secret of spec.serviceAccountName that has
// any for host, as the kubelet picks a Pod's. Without either field, none
// (anonymous). A spec.secretRef without credentials for host is an error
// unless a pull secret has some; pull secrets for other registries only
// are not (a service account's often serve several registries).
func (r *OCIRepositoryReconciler) registryAuth(ctx context.Context, obj *sourcev1.OCIRepository, host string) (secrets.RegistryAuth, bool, error) {
	var names []string
	if ref := obj.Spec.SecretRef; ref != nil {
		names = append(names, ref.Name)
	}
	if sa := obj.Spec.ServiceAccountName; sa != "" {
		pull, err := r.imagePullSecrets(ctx, obj.Namespace, sa)
		if err != nil {
			return secrets.RegistryAuth{}, false, err
		}
		names = append(names, pull...)
	}
	for _, name := range names {
		s, err := getSecret(ctx, r.Client, obj.Namespace, name)
		if err != nil {
			return secrets.RegistryAuth{}, false, err
		}
		cfg, err := secrets.DockerConfigFromSecret(s)
		if err != nil {
			return secrets.RegistryAuth{}, false, err
		}
		if auth, ok := cfg.Lookup(host); ok {
			return auth, true, nil
		}
	}
	if ref := obj.Spec.SecretRef; ref != nil {
		also := ""
		if obj.Spec.ServiceAccountName != "" {
			also = fmt.Sprintf(" nor do the image pull secrets of serviceaccount '%s'", obj.Spec.ServiceAccountName)
		}
		return secrets.RegistryAuth{}, false, fmt.Errorf("secret '%s/%s' holds no credentials for registry '%s'%s", obj.Namespace, ref.Name, host, also)
	}
	return secrets.RegistryAuth{}, false, nil
}

// imagePullSecrets reads the image pull secrets' names of the service
// account name, straight from the API server (see
// controllers.UncachedObjects).
func (r *OCIRepositoryReconciler) imagePullSecrets(ctx context.Context, namespace, name string) ([]string, error) {
	var sa corev1.ServiceAccount
	key := types.NamespacedName{Namespace: namespace, Name: name}
	if err := r.Client.Get(ctx, key, &sa); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("serviceaccount '%s' not found", key)
		}
		return nil, fmt.Errorf("reading serviceaccount '%s': %w", key, err)
	}
	out := make([]string, 0, len(sa.ImagePullSecrets))
	for _, s := range sa.ImagePullSecrets {
		if s.Name != "" {
			out = append(out, s.Name)
		}
	}
	return out, nil
}

// verifyOptions reads whom spec.verify trusts: PEM public keys in the
// values of spec.verify.secretRef whose key ends in .pub, and for keyless
// signatures the identities of spec.verify.matchOIDCIdentity checked
// against a Sigstore trusted root — trusted_root.json of that Secret, else
// the one gitopsd was started with (TrustedRoot).
func (r *OCIRepositoryReconciler) verifyOptions(ctx context.Context, namespace string, v *sourcev1.OCIRepositoryVerification) (*oci.VerifyOptions, error) {
	return cosignVerifyOptions(ctx, r.Client, r.TrustedRoot, namespace, v)
}

// cosignVerifyOptions is verifyOptions for any kind with an
// OCIRepositoryVerification (OCIRepositories, HelmCharts of oci
// repositories): the keys and identities it trusts, read with c, keyless
// signatures checked against trusted when the Secret has no trusted root.
func cosignVerifyOptions(ctx context.Context, c client.Client, trusted *TrustedRootFile, namespace string, v *sourcev1.OCIRepositoryVerification) (*oci.VerifyOptions, error) {
	opts := &oci.VerifyOptions{}
	var tm root.TrustedMaterial
	where := "" // of the keys, for messages
	if ref := v.SecretRef; ref != nil {
		s, err := getSecret(ctx, c, namespace, ref.Name)
		if err != nil {
			return nil, err
		}
		where = fmt.Sprintf("secret '%s/%s'", namespace, s.Name)
		names := make([]string, 0, len(s.Data))
		for k := range s.Data {
			names = append(names, k)
		}
		slices.Sort(names)
		for _, k := range names {
			if !strings.HasSuffix(k, ".pub") {
				continue
			}
			keys, err := oci.ParsePublicKeys(s.Data[k])
			if err != nil {
				return nil, fmt.Errorf("%s: key '%s': %w", where, k, err)
			}
			opts.PublicKeys = append(opts.PublicKeys, keys...)
		}
		if data, ok := s.Data[trustedRootKey]; ok {
			tr, err := root.NewTrustedRootFromJSON(data)
			if err != nil {
				return nil, fmt.Errorf("%s: key '%s': invalid trusted root", where, trustedRootKey)
			}
			tm = tr
		}
	}
	if tm == nil && trusted != nil && (len(v.MatchOIDCIdentity) > 0 || v.SecretRef == nil) {
		tr, err := trusted.Get()
		if err != nil {
			return nil, err
		}
		tm = tr
	}
	if tm != nil {
		if len(v.MatchOIDCIdentity) == 0 {
			return nil, reconcile.Stall(reasonInvalidSpec, errors.New("keyless verification needs spec.verify.matchOIDCIdentity"))
		}
		ids := make([]oci.Identity, 0, len(v.MatchOIDCIdentity))
		for _, m := range v.MatchOIDCIdentity {
			ids = append(ids, oci.Identity{IssuerRegexp: m.Issuer, SubjectRegexp: m.Subject})
		}
		opts.Keyless = &oci.KeylessOptions{TrustedMaterial: tm, Identities: ids}
	}
	switch {
	case len(opts.PublicKeys) > 0 || opts.Keyless != nil:
		return opts, nil
	case v.SecretRef == nil:
		return nil, reconcile.Stall(reasonInvalidSpec, errors.New("spec.verify.secretRef is not set and gitopsd has no Sigstore trusted root (--sigstore-trusted-root) for keyless verification"))
	case len(v.MatchOIDCIdentity) > 0:
		return nil, fmt.Errorf("%s holds neither a public key (a key ending in .pub) nor %s, and gitopsd has no Sigstore trusted root (--sigstore-trusted-root)", where, trustedRootKey)
	}
	return nil, fmt.Errorf("%s holds neither a public key (a key ending in .pub) nor %s", where, trustedRootKey)
}
