package secrets

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// DockerConfig is the registry credentials of a docker config file, by
// registry as written in the file ("ghcr.io", "https://index.docker.io/v1/").
type DockerConfig struct {
	Auths map[string]RegistryAuth
}

// RegistryAuth is the credentials for one registry. Username and Password
// are filled from the base64 "auth" field when it is set.
type RegistryAuth struct {
	Username      string
	Password      string
	IdentityToken string
	RegistryToken string
}

// String masks the password and tokens.
func (a RegistryAuth) String() string {
	return fmt.Sprintf("RegistryAuth{Username: %q, Password: %s, IdentityToken: %s, RegistryToken: %s}",
		a.Username, mask([]byte(a.Password)), mask([]byte(a.IdentityToken)), mask([]byte(a.RegistryToken)))
}

// GoString masks the password and tokens.
func (a RegistryAuth) GoString() string { return "secrets." + a.String() }

// DockerConfigFromSecret reads .dockerconfigjson (Secrets of type
// kubernetes.io/dockerconfigjson) or, failing that, the legacy .dockercfg
// (kubernetes.io/dockercfg). A config with no registry entry, an entry whose
// "auth" is not base64 "user:password", or invalid JSON is an
// ErrInvalidValue whose detail names the registry but no credential.
func DockerConfigFromSecret(s *corev1.Secret) (*DockerConfig, error) {
	if s == nil {
		return nil, ErrNilSecret
	}
	key := corev1.DockerConfigJsonKey
	data, ok := value(s, key)
	if !ok {
		if legacy, ok := value(s, corev1.DockerConfigKey); ok {
			key, data = corev1.DockerConfigKey, legacy
		} else {
			return nil, keyErr(s, key, ErrMissingKey, "")
		}
	}
	cfg, err := ParseDockerConfig(data, key == corev1.DockerConfigKey)
	if err != nil {
		return nil, keyErr(s, key, ErrInvalidValue, err.Error())
	}
	return cfg, nil
}

type dockerAuthEntry struct {
	Username      string `json:"username"`
	Password      string `json:"password"`
	Auth          string `json:"auth"`
	IdentityToken string `json:"identitytoken"`
	RegistryToken string `json:"registrytoken"`
}

// ParseDockerConfig parses docker config JSON: {"auths": {...}}, or with
// legacy set the bare map of the old .dockercfg format. Its errors hold no
// input except registry names that look like host[:port][/path].
func ParseDockerConfig(data []byte, legacy bool) (*DockerConfig, error) {
	var entries map[string]dockerAuthEntry
	var err error
	if legacy {
		err = decodeStrict(data, &entries)
	} else {
		var file struct {
			Auths map[string]dockerAuthEntry `json:"auths"`
		}
		err = decodeStrict(data, &file)
		entries = file.Auths
	}
	if err != nil {
		return nil, err
	}
	if len(entries) == 0 {
		return nil, errors.New("no registry entries")
	}
	cfg := &DockerConfig{Auths: make(map[string]RegistryAuth, len(entries))}
	for reg, e := range entries {
		if strings.TrimSpace(reg) == "" {
			return nil, errors.New("an entry has an empty registry name")
		}
		a := RegistryAuth{Username: e.Username, Password: e.Password, IdentityToken: e.IdentityToken, RegistryToken: e.RegistryToken}
		if e.Auth != "" {
			user, pass, err := decodeAuth(e.Auth)
			if err != nil {
				return nil, fmt.Errorf("registry %s: %w", safeRegistry(reg), err)
			}
			// The auth field wins over username/password, as in the docker CLI.
			a.Username, a.Password = user, pass
		}
		cfg.Auths[reg] = a
	}
	return cfg, nil
}

// decodeStrict unmarshals JSON, replacing encoding/json's errors (which may
// quote input) by the byte offset where decoding failed.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syn):
			return fmt.Errorf("not valid JSON (at byte %d)", syn.Offset)
		case errors.As(err, &typ):
			return fmt.Errorf("not a docker config: unexpected %s at byte %d", kind(typ.Value), typ.Offset)
		default:
			return errors.New("not valid JSON")
		}
	}
	if dec.More() {
		return errors.New("not valid JSON: data after the top-level value")
	}
	return nil
}

func decodeAuth(auth string) (string, string, error) {
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(auth))
	if err != nil {
		return "", "", errors.New(`"auth" is not valid base64`)
	}
	user, pass, ok := strings.Cut(string(raw), ":")
	if !ok || user == "" {
		return "", "", errors.New(`"auth" is not base64 of "username:password"`)
	}
	return user, pass, nil
}

var registryName = regexp.MustCompile(`^(https?://)?[A-Za-z0-9.-]+(:[0-9]+)?(/[A-Za-z0-9._/-]*)?$`)

// safeRegistry returns the registry name for an error message when it has
// the shape of a registry address; anything else might be misplaced data.
func safeRegistry(reg string) string {
	if len(reg) <= 253 && registryName.MatchString(reg) {
		return "'" + reg + "'"
	}
	return "(name withheld: not a registry address)"
}

// Lookup returns the credentials for a registry host, such as "ghcr.io" or
// "registry.example.com:5000". Entries match by host[:port], ignoring a
// scheme and path in the file's key; docker.io, index.docker.io and
// registry-1.docker.io are the same registry. Wildcards are not supported.
func (c *DockerConfig) Lookup(host string) (RegistryAuth, bool) {
	want := normaliseRegistry(host)
	if a, ok := c.Auths[host]; ok {
		return a, true
	}
	for _, reg := range slices.Sorted(maps.Keys(c.Auths)) {
		if normaliseRegistry(reg) == want {
			return c.Auths[reg], true
		}
	}
	return RegistryAuth{}, false
}

func normaliseRegistry(reg string) string {
	reg = strings.ToLower(strings.TrimSpace(reg))
	if i := strings.Index(reg, "://"); i >= 0 {
		reg = reg[i+3:]
	}
	if i := strings.IndexByte(reg, '/'); i >= 0 {
		reg = reg[:i]
	}
	switch reg {
	case "index.docker.io", "registry-1.docker.io":
		return "docker.io"
	}
	return reg
}

// kind keeps the kind of a JSON value from an UnmarshalTypeError's Value,
// which for numbers also holds the number.
func kind(v string) string {
	k, _, _ := strings.Cut(v, " ")
	return k
}
