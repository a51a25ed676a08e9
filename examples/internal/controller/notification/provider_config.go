package notification

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/gitopskit/kit/events/providers"

	notificationv1 "github.com/gitopskit/kit/examples/api/notification/v1"
)

// Ready=False reasons of the Provider controller, besides
// runtime/conditions'.
const (
	// SecretNotFoundReason: a Secret the Provider references does not
	// exist (retried: it may be created later).
	SecretNotFoundReason = "SecretNotFound"
	// InvalidConfigReason: the spec and Secrets do not make a provider (a
	// missing address, a headers value that is not a map, a CA that is
	// not PEM).
	InvalidConfigReason = "InvalidConfig"
)

// errSecretNotFound is wrapped by resolve's errors for a missing Secret.
var errSecretNotFound = errors.New("secret not found")

// errInvalidConfig is wrapped by resolve's errors for a configuration that
// cannot make a provider.
var errInvalidConfig = errors.New("invalid provider configuration")

// resolved is what a Provider object and its Secrets make: the
// configuration, the values to mask, and the resourceVersions of the
// Secrets it was read from (which say whether it must be rebuilt).
type resolved struct {
	config   providers.Config
	secrets  []string
	versions string
}

// readSecrets reads the Provider's Secrets (uncached: the client's
// Secrets are not cached, controllers.UncachedObjects) and returns them by
// role, with their resourceVersions joined.
func readSecrets(ctx context.Context, c client.Reader, p *notificationv1.Provider) (map[string]*corev1.Secret, string, error) {
	type ref struct{ role, name string }
	var refs []ref
	if p.Spec.SecretRef != nil {
		refs = append(refs, ref{"secretRef", p.Spec.SecretRef.Name})
	}
	if p.Spec.CertSecretRef != nil {
		refs = append(refs, ref{"certSecretRef", p.Spec.CertSecretRef.Name})
	}
	if p.Spec.ProxySecretRef != nil {
		refs = append(refs, ref{"proxySecretRef", p.Spec.ProxySecretRef.Name})
	}
	out := make(map[string]*corev1.Secret, len(refs))
	var versions []string
	for _, r := range refs {
		s := &corev1.Secret{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: p.Namespace, Name: r.name}, s); err != nil {
			if apierrors.IsNotFound(err) {
				return nil, "", fmt.Errorf("%w: %s %q", errSecretNotFound, r.role, r.name)
			}
			return nil, "", fmt.Errorf("reading the %s Secret %q: %w", r.role, r.name, err)
		}
		out[r.role] = s
		versions = append(versions, r.role+"="+string(s.UID)+"/"+s.ResourceVersion)
	}
	return out, strings.Join(versions, ","), nil
}

// configFrom builds the provider configuration from the spec and the
// Secrets readSecrets returned: the secretRef's keys win over the spec's
// address and username, as in Flux.
func configFrom(p *notificationv1.Provider, secrets map[string]*corev1.Secret) (providers.Config, []string, error) {
	cfg := providers.Config{
		Address:  p.Spec.Address,
		Channel:  p.Spec.Channel,
		Username: p.Spec.Username,
		Timeout:  p.GetTimeout(),
	}
	var mask []string
	if s := secrets["secretRef"]; s != nil {
		d := s.Data
		if v := strings.TrimSpace(string(d[notificationv1.SecretAddressKey])); v != "" {
			cfg.Address = v
			mask = append(mask, v)
		}
		if v := strings.TrimSpace(string(d[notificationv1.SecretUsernameKey])); v != "" {
			cfg.Username = v
		}
		cfg.Token = strings.TrimSpace(string(d[notificationv1.SecretTokenKey]))
		cfg.Password = string(d[notificationv1.SecretPasswordKey])
		mask = append(mask, cfg.Token, cfg.Password)
		if h, ok := d[notificationv1.SecretHeadersKey]; ok {
			headers := map[string]string{}
			if err := yaml.Unmarshal(h, &headers); err != nil {
				return cfg, mask, fmt.Errorf("%w: the secretRef's %q key is not a map of strings", errInvalidConfig, notificationv1.SecretHeadersKey)
			}
			cfg.Headers = headers
			for _, v := range headers {
				mask = append(mask, v)
			}
		}
		if v := strings.TrimSpace(string(d[notificationv1.SecretProxyKey])); v != "" {
			u, err := proxyURL(v, "", "")
			if err != nil {
				return cfg, mask, err
			}
			cfg.Proxy = u
			mask = append(mask, v)
		}
	}
	if s := secrets["certSecretRef"]; s != nil {
		t, err := tlsConfig(s)
		if err != nil {
			return cfg, mask, err
		}
		cfg.TLS = t
	}
	if s := secrets["proxySecretRef"]; s != nil {
		addr := strings.TrimSpace(string(s.Data["address"]))
		if addr == "" {
			return cfg, mask, fmt.Errorf("%w: the proxySecretRef Secret has no %q key", errInvalidConfig, "address")
		}
		user, pass := string(s.Data["username"]), string(s.Data["password"])
		mask = append(mask, addr, pass)
		u, err := proxyURL(addr, user, pass)
		if err != nil {
			return cfg, mask, err
		}
		cfg.Proxy = u
	}
	return cfg, nonEmpty(mask), nil
}

// proxyURL parses a proxy address, never quoting it (it may hold a
// password).
func proxyURL(addr, user, pass string) (*url.URL, error) {
	u, err := url.Parse(addr)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: the proxy address must be an http or https URL", errInvalidConfig)
	}
	if user != "" {
		u.User = url.UserPassword(user, pass)
	}
	return u, nil
}

// tlsConfig reads ca.crt (and tls.crt with tls.key) of the certSecretRef
// Secret.
func tlsConfig(s *corev1.Secret) (*tls.Config, error) {
	t := &tls.Config{MinVersion: tls.VersionTLS12}
	ca := s.Data[notificationv1.CACertKey]
	crt, key := s.Data[notificationv1.TLSCertKey], s.Data[notificationv1.TLSKeyKey]
	if len(ca) == 0 && len(crt) == 0 {
		return nil, fmt.Errorf("%w: the certSecretRef Secret has neither %q nor %q", errInvalidConfig, notificationv1.CACertKey, notificationv1.TLSCertKey)
	}
	if len(ca) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(ca) {
			return nil, fmt.Errorf("%w: the certSecretRef's %q holds no PEM certificate", errInvalidConfig, notificationv1.CACertKey)
		}
		t.RootCAs = pool
	}
	if len(crt) > 0 || len(key) > 0 {
		pair, err := tls.X509KeyPair(crt, key)
		if err != nil {
			return nil, fmt.Errorf("%w: the certSecretRef's %q and %q are not a certificate and its key", errInvalidConfig, notificationv1.TLSCertKey, notificationv1.TLSKeyKey)
		}
		t.Certificates = []tls.Certificate{pair}
	}
	return t, nil
}

func nonEmpty(values []string) []string {
	out := values[:0]
	for _, v := range values {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}
