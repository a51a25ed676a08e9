package source

import (
	"bytes"
	"context"
	"fmt"
	"net/url"

	"sigs.k8s.io/controller-runtime/pkg/client"

	sourcev1 "github.com/gitopskit/kit/examples/api/source/v1"
	controllers "github.com/gitopskit/kit/examples/internal/controller"
	"github.com/gitopskit/kit/git"
	"github.com/gitopskit/kit/git/verify"
	"github.com/gitopskit/kit/runtime/secrets"
)

// auth reads spec.secretRef — an SSH identity and known_hosts for ssh://
// remotes; basic auth or a bearer token, and TLS material, for http(s) —
// and spec.proxySecretRef. Every secret value read is masked in rep.
func (r *GitRepositoryReconciler) auth(ctx context.Context, obj *sourcev1.GitRepository, rep *controllers.Reporter) (git.AuthOptions, error) {
	a, err := r.credentials(ctx, obj)
	rep.Mask(a.Password, a.BearerToken, basicCredentials(a.Username, a.Password))
	if err != nil {
		return a, err
	}
	if ref := obj.Spec.ProxySecretRef; ref != nil {
		u, err := proxyURL(ctx, r.Client, obj.Namespace, ref.Name, rep)
		if err != nil {
			return a, err
		}
		a.ProxyURL = u.String()
	}
	return a, nil
}

// credentials reads spec.secretRef.
func (r *GitRepositoryReconciler) credentials(ctx context.Context, obj *sourcev1.GitRepository) (git.AuthOptions, error) {
	var a git.AuthOptions
	if obj.Spec.SecretRef == nil {
		return a, nil
	}
	s, err := getSecret(ctx, r.Client, obj.Namespace, obj.Spec.SecretRef.Name)
	if err != nil {
		return a, err
	}
	if scheme, _ := git.Scheme(obj.Spec.URL); scheme == "ssh" {
		c, err := secrets.SSHFromSecret(s)
		if err != nil {
			return a, err
		}
		a.Identity, a.Password, a.KnownHosts = c.Identity, string(c.Passphrase), c.KnownHosts
		return a, nil
	}
	has := func(keys ...string) bool {
		for _, k := range keys {
			if len(s.Data[k]) > 0 {
				return true
			}
		}
		return false
	}
	httpAuth := has(secrets.UsernameKey, secrets.PasswordKey, secrets.BearerTokenKey)
	tlsAuth := has(secrets.CAKey, secrets.CertKey, secrets.KeyKey)
	if !httpAuth && !tlsAuth {
		return a, fmt.Errorf("secret '%s/%s' has none of the keys %s, %s, %s, %s, %s, %s",
			s.Namespace, s.Name, secrets.UsernameKey, secrets.PasswordKey, secrets.BearerTokenKey,
			secrets.CAKey, secrets.CertKey, secrets.KeyKey)
	}
	if httpAuth {
		h, err := secrets.HTTPAuthFromSecret(s)
		if err != nil {
			return a, err
		}
		a.Username, a.Password, a.BearerToken = h.Username, h.Password, h.BearerToken
	}
	if tlsAuth {
		t, err := secrets.TLSFromSecret(s)
		if err != nil {
			return a, err
		}
		a.CA, a.Cert, a.Key = t.CA, t.Cert, t.Key
	}
	return a, nil
}

// keyRing reads the trusted keys of spec.verify.secretRef: every value is
// either armored OpenPGP public keys or SSH authorized_keys lines.
func (r *GitRepositoryReconciler) keyRing(ctx context.Context, namespace, name string) (*verify.KeyRing, error) {
	s, err := getSecret(ctx, r.Client, namespace, name)
	if err != nil {
		return nil, err
	}
	var pgp, ssh [][]byte
	for _, v := range s.Data {
		switch {
		case len(bytes.TrimSpace(v)) == 0:
		case bytes.Contains(v, []byte("-----BEGIN PGP PUBLIC KEY BLOCK-----")):
			pgp = append(pgp, v)
		default:
			ssh = append(ssh, v)
		}
	}
	if len(pgp) == 0 && len(ssh) == 0 {
		return nil, fmt.Errorf("secret '%s/%s' holds no public key", namespace, name)
	}
	kr, err := verify.NewKeyRing(pgp, ssh)
	if err != nil {
		return nil, fmt.Errorf("secret '%s/%s': invalid public keys: %w", namespace, name, err)
	}
	return kr, nil
}

// proxyURL reads the proxy Secret name (runtime/secrets ProxyURLFromSecret:
// address, and optionally username and password), masking its
// credentials in rep.
func proxyURL(ctx context.Context, c client.Client, namespace, name string, rep *controllers.Reporter) (*url.URL, error) {
	s, err := getSecret(ctx, c, namespace, name)
	if err != nil {
		return nil, err
	}
	u, err := secrets.ProxyURLFromSecret(s)
	if err != nil {
		return nil, err
	}
	if u.User != nil {
		pw, _ := u.User.Password()
		rep.Mask(pw, basicCredentials(u.User.Username(), pw))
	}
	return u, nil
}
