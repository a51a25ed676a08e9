package source

import (
	"context"
	"crypto/x509"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sourcev1 "github.com/gitopskit/kit/examples/api/source/v1"
	controllers "github.com/gitopskit/kit/examples/internal/controller"
	"github.com/gitopskit/kit/helmutil/repo"
	"github.com/gitopskit/kit/oci"
	"github.com/gitopskit/kit/runtime/secrets"
)

// helmLimits bounds what is read from a chart repository.
type helmLimits struct {
	maxIndexBytes int64 // the index download; 0: repo's default
	maxChartBytes int64 // a chart package; 0: repo's default
}

// helmHTTPRepository returns the client of a HelmRepository of type
// default, with the credentials of spec.secretRef (username and password,
// or bearerToken) and the TLS material of spec.certSecretRef, read
// uncached; every secret value is masked in rep.
func helmHTTPRepository(ctx context.Context, c client.Client, obj *sourcev1.HelmRepository, rep *controllers.Reporter, l helmLimits) (*repo.Repository, error) {
	opts := []repo.Option{repo.WithTimeout(obj.GetTimeout()), repo.WithPassCredentials(obj.Spec.PassCredentials)}
	if l.maxIndexBytes > 0 {
		opts = append(opts, repo.WithMaxIndexSize(l.maxIndexBytes))
	}
	if l.maxChartBytes > 0 {
		opts = append(opts, repo.WithMaxChartSize(l.maxChartBytes))
	}
	if ref := obj.Spec.SecretRef; ref != nil {
		s, err := getSecret(ctx, c, obj.Namespace, ref.Name)
		if err != nil {
			return nil, err
		}
		maskSecret(rep, s)
		auth, err := secrets.HTTPAuthFromSecret(s)
		if err != nil {
			return nil, err
		}
		rep.Mask(auth.Password, auth.BearerToken, basicCredentials(auth.Username, auth.Password))
		if auth.BearerToken != "" {
			opts = append(opts, repo.WithBearerToken(auth.BearerToken))
		} else {
			opts = append(opts, repo.WithBasicAuth(auth.Username, auth.Password))
		}
	}
	if ref := obj.Spec.CertSecretRef; ref != nil {
		s, err := getSecret(ctx, c, obj.Namespace, ref.Name)
		if err != nil {
			return nil, err
		}
		t, err := secrets.TLSFromSecret(s)
		if err != nil {
			return nil, err
		}
		opts = append(opts, repo.WithTLSConfig(t.Config()))
	}
	return repo.New(obj.Spec.URL, opts...)
}

// helmOCIRepository returns the client of a HelmRepository of type oci:
// credentials from spec.secretRef (a kubernetes.io/dockerconfigjson
// Secret, or username and password), TLS from spec.certSecretRef, plain
// HTTP with spec.insecure. Every secret value is masked in rep.
func helmOCIRepository(ctx context.Context, c client.Client, obj *sourcev1.HelmRepository, rep *controllers.Reporter, l helmLimits) (*repo.OCIRepository, error) {
	_, host, err := ociRepository(obj.Spec.URL)
	if err != nil {
		return nil, err
	}
	opts := []oci.Option{oci.WithTimeout(obj.GetTimeout()), oci.WithInsecure(obj.Spec.Insecure)}
	if l.maxChartBytes > 0 {
		opts = append(opts, oci.WithMaxLayerSize(l.maxChartBytes))
	}
	if ref := obj.Spec.SecretRef; ref != nil {
		s, err := getSecret(ctx, c, obj.Namespace, ref.Name)
		if err != nil {
			return nil, err
		}
		maskSecret(rep, s)
		if s.Type == corev1.SecretTypeDockerConfigJson {
			cfg, err := secrets.DockerConfigFromSecret(s)
			if err != nil {
				return nil, err
			}
			auth, ok := cfg.Lookup(host)
			if !ok {
				return nil, fmt.Errorf("secret '%s/%s' holds no credentials for registry '%s'", s.Namespace, s.Name, host)
			}
			rep.Mask(auth.Password, auth.IdentityToken, auth.RegistryToken, basicCredentials(auth.Username, auth.Password))
			switch {
			case auth.RegistryToken != "":
				opts = append(opts, oci.WithBearerToken(auth.RegistryToken))
			default:
				opts = append(opts, oci.WithBasicAuth(auth.Username, auth.Password))
			}
		} else {
			auth, err := secrets.HTTPAuthFromSecret(s)
			if err != nil {
				return nil, err
			}
			rep.Mask(auth.Password, auth.BearerToken, basicCredentials(auth.Username, auth.Password))
			if auth.BearerToken != "" {
				opts = append(opts, oci.WithBearerToken(auth.BearerToken))
			} else {
				opts = append(opts, oci.WithBasicAuth(auth.Username, auth.Password))
			}
		}
	}
	if ref := obj.Spec.CertSecretRef; ref != nil {
		s, err := getSecret(ctx, c, obj.Namespace, ref.Name)
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
		for _, cert := range t.Config().Certificates {
			opts = append(opts, oci.WithClientCertificate(cert))
		}
	}
	oc, err := oci.NewClient(opts...)
	if err != nil {
		return nil, err
	}
	return repo.NewOCIRepository(strings.TrimSuffix(obj.Spec.URL, "/"), oc)
}
