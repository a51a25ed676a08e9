package oci

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

// maxDockerConfig bounds a docker config.json document.
const maxDockerConfig = 1 << 20

// ErrInvalidDockerConfig is returned by NewClient for a docker config.json
// that does not parse. The error never quotes the document.
var ErrInvalidDockerConfig = errors.New("invalid docker config json")

type dockerAuth struct {
	Auth          string `json:"auth"`
	Username      string `json:"username"`
	Password      string `json:"password"`
	IdentityToken string `json:"identitytoken"`
	RegistryToken string `json:"registrytoken"`
}

// dockerConfigKeychain resolves credentials by registry host.
type dockerConfigKeychain map[string]authn.AuthConfig

// parseDockerConfig parses a docker config.json document (or the legacy
// .dockercfg form, a bare map of hosts) into a keychain and the
// credentials it holds, for masking.
func parseDockerConfig(b []byte) (dockerConfigKeychain, []authn.AuthConfig, error) {
	if len(b) > maxDockerConfig {
		return nil, nil, fmt.Errorf("%w: larger than %d bytes", ErrInvalidDockerConfig, maxDockerConfig)
	}
	var doc struct {
		Auths map[string]dockerAuth `json:"auths"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		// json errors may quote a fragment of the input: say only where.
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, nil, fmt.Errorf("%w: syntax error at offset %d", ErrInvalidDockerConfig, se.Offset)
		}
		return nil, nil, fmt.Errorf("%w: unexpected structure", ErrInvalidDockerConfig)
	}
	if doc.Auths == nil {
		// Legacy .dockercfg: the hosts at the top level.
		if err := json.Unmarshal(b, &doc.Auths); err != nil {
			return nil, nil, fmt.Errorf("%w: no \"auths\" object", ErrInvalidDockerConfig)
		}
	}
	k := dockerConfigKeychain{}
	var secrets []authn.AuthConfig
	for host, a := range doc.Auths {
		cfg := authn.AuthConfig{
			Username:      a.Username,
			Password:      a.Password,
			IdentityToken: a.IdentityToken,
			RegistryToken: a.RegistryToken,
		}
		if a.Auth != "" {
			raw, err := base64.StdEncoding.DecodeString(a.Auth)
			if err != nil {
				return nil, nil, fmt.Errorf("%w: \"auth\" of %q is not base64", ErrInvalidDockerConfig, normalizeHost(host))
			}
			user, pass, ok := strings.Cut(string(raw), ":")
			if !ok {
				return nil, nil, fmt.Errorf("%w: \"auth\" of %q is not user:password", ErrInvalidDockerConfig, normalizeHost(host))
			}
			cfg.Username, cfg.Password = user, pass
		}
		secrets = append(secrets, cfg)
		k[normalizeHost(host)] = cfg
	}
	return k, secrets, nil
}

// normalizeHost reduces a config key ("https://host:5000/v1/") to the host
// as go-containerregistry names registries.
func normalizeHost(h string) string {
	h = strings.ToLower(strings.TrimSpace(h))
	if i := strings.Index(h, "://"); i >= 0 {
		h = h[i+3:]
	}
	h, _, _ = strings.Cut(h, "/")
	switch h {
	case "docker.io", "registry-1.docker.io", "index.docker.io":
		return name.DefaultRegistry
	}
	return h
}

// Resolve implements authn.Keychain.
func (k dockerConfigKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	if cfg, ok := k[normalizeHost(r.RegistryStr())]; ok {
		return authn.FromConfig(cfg), nil
	}
	return authn.Anonymous, nil
}
