// Package secrets reads credentials from Kubernetes Secrets: TLS material,
// HTTP basic auth and bearer tokens, SSH identities with known_hosts, proxy
// URLs and docker config files.
//
// Each function takes a *corev1.Secret as read from the API server (only
// Data is read: the API server folds stringData into data) and validates
// what it returns, so a malformed Secret fails here, at reconcile time, with
// an error a user can act on, rather than later in a TLS handshake or an SSH
// dial.
//
// Errors never contain Secret data. Each names the Secret and the key that is
// missing or invalid and wraps a sentinel a caller can branch on:
//
//	var kerr *secrets.KeyError
//	if errors.As(err, &kerr) && errors.Is(err, secrets.ErrMissingKey) { ... }
//
// Errors of the parsers underneath (encoding/json, net/url, encoding/pem,
// crypto/x509, x/crypto/ssh) may quote their input and are replaced by
// messages of this package. The types holding credentials print masked
// values with %v and %#v.
//
// Recognised keys follow the Kubernetes and Flux conventions:
//
//	TLS           ca.crt, tls.crt, tls.key
//	HTTP auth     username + password, or bearerToken
//	SSH           identity, password (passphrase, optional), known_hosts
//	proxy         address, username and password (optional)
//	docker config .dockerconfigjson (kubernetes.io/dockerconfigjson) or
//	              .dockercfg (kubernetes.io/dockercfg)
package secrets
