package secrets_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gitopskit/kit/runtime/secrets"
)

func containsMarker(s string) bool { return strings.Contains(s, marker) }

// wantKeyErr checks err is a *KeyError about key wrapping sentinel, naming
// the Secret, and free of the marker.
func wantKeyErr(t *testing.T, err error, key string, sentinel error) {
	t.Helper()
	mustNotLeak(t, err)
	var kerr *secrets.KeyError
	if !errors.As(err, &kerr) {
		t.Fatalf("error = %v, want *KeyError", err)
	}
	if kerr.Key != key || !errors.Is(err, sentinel) {
		t.Fatalf("error = %v, want key %q and %v", err, key, sentinel)
	}
	if want := (types.NamespacedName{Namespace: "ns", Name: "creds"}); kerr.Secret != want {
		t.Fatalf("secret = %v, want %v", kerr.Secret, want)
	}
	if !strings.HasPrefix(err.Error(), "secret 'ns/creds': key '"+key+"': ") {
		t.Fatalf("message %q does not name the secret and key", err)
	}
}

func TestTLSFromSecret(t *testing.T) {
	t.Parallel()
	p := testPKI()
	tests := []struct {
		name     string
		data     map[string]string
		wantKey  string
		wantErr  error
		wantCA   bool
		wantCert bool
	}{
		{name: "ca only", data: map[string]string{"ca.crt": p.caPEM}, wantCA: true},
		{name: "cert and key only", data: map[string]string{"tls.crt": p.certPEM, "tls.key": p.keyPEM}, wantCert: true},
		{name: "all three", data: map[string]string{"ca.crt": p.caPEM, "tls.crt": p.certPEM, "tls.key": p.keyPEM}, wantCA: true, wantCert: true},
		{name: "ca bundle with comments", data: map[string]string{"ca.crt": "# bundle\n" + p.caPEM + "\n" + p.certPEM}, wantCA: true},
		{name: "nothing", data: map[string]string{"other": "x"}, wantKey: "ca.crt", wantErr: secrets.ErrMissingKey},
		{name: "empty values count as missing", data: map[string]string{"ca.crt": ""}, wantKey: "ca.crt", wantErr: secrets.ErrMissingKey},
		{name: "cert without key", data: map[string]string{"tls.crt": p.certPEM}, wantKey: "tls.key", wantErr: secrets.ErrMissingKey},
		{name: "key without cert", data: map[string]string{"tls.key": p.keyPEM}, wantKey: "tls.crt", wantErr: secrets.ErrMissingKey},
		{name: "ca not PEM", data: map[string]string{"ca.crt": marker}, wantKey: "ca.crt", wantErr: secrets.ErrInvalidValue},
		{name: "ca holds a key", data: map[string]string{"ca.crt": p.keyPEM}, wantKey: "ca.crt", wantErr: secrets.ErrInvalidValue},
		{name: "ca corrupt", data: map[string]string{"ca.crt": pemString("CERTIFICATE", []byte(marker))}, wantKey: "ca.crt", wantErr: secrets.ErrInvalidValue},
		{name: "cert not PEM", data: map[string]string{"tls.crt": marker, "tls.key": p.keyPEM}, wantKey: "tls.crt", wantErr: secrets.ErrInvalidValue},
		{name: "key not PEM", data: map[string]string{"tls.crt": p.certPEM, "tls.key": marker}, wantKey: "tls.key", wantErr: secrets.ErrInvalidValue},
		{name: "key corrupt", data: map[string]string{"tls.crt": p.certPEM, "tls.key": pemString("PRIVATE KEY", []byte(marker))}, wantKey: "tls.key", wantErr: secrets.ErrInvalidValue},
		{name: "key is a certificate", data: map[string]string{"tls.crt": p.certPEM, "tls.key": p.caPEM}, wantKey: "tls.key", wantErr: secrets.ErrInvalidValue},
		{name: "key does not match", data: map[string]string{"tls.crt": p.certPEM, "tls.key": p.otherKeyPEM}, wantKey: "tls.key", wantErr: secrets.ErrInvalidValue},
		{
			name:    "encrypted key",
			data:    map[string]string{"tls.crt": p.certPEM, "tls.key": "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nAAAA\n-----END RSA PRIVATE KEY-----\n"},
			wantKey: "tls.key", wantErr: secrets.ErrInvalidValue,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := secrets.TLSFromSecret(secret(tt.data))
			if tt.wantErr != nil {
				wantKeyErr(t, err, tt.wantKey, tt.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			cfg := got.Config()
			if (cfg.RootCAs != nil) != tt.wantCA || (len(cfg.Certificates) == 1) != tt.wantCert {
				t.Errorf("config RootCAs=%v Certificates=%d, want CA %v cert %v", cfg.RootCAs != nil, len(cfg.Certificates), tt.wantCA, tt.wantCert)
			}
			if cfg.MinVersion != tls.VersionTLS12 {
				t.Errorf("MinVersion = %x", cfg.MinVersion)
			}
			if s := fmt.Sprintf("%v %+v %#v", got, got, got); strings.Contains(s, "PRIVATE") {
				t.Errorf("printing leaks the key: %s", s)
			}
		})
	}
}

// TestTLSConfigHandshake uses the parsed material in a real mutual-TLS
// handshake: the server presents a certificate from the CA, the client
// verifies it with the Secret's CA and authenticates with the Secret's
// client certificate.
func TestTLSConfigHandshake(t *testing.T) {
	t.Parallel()
	p := testPKI()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, r.TLS.PeerCertificates[0].Subject.CommonName)
	}))
	clientCAs := x509.NewCertPool()
	clientCAs.AddCert(p.caCert)
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: clientCAs}
	srv.StartTLS()
	defer srv.Close()

	got, err := secrets.TLSFromSecret(secret(map[string]string{"tls.crt": p.certPEM, "tls.key": p.keyPEM}))
	if err != nil {
		t.Fatal(err)
	}
	cfg := got.Config()
	// httptest's server certificate is not from our CA: trust it explicitly,
	// the point here is the client certificate.
	cfg.RootCAs = x509.NewCertPool()
	cfg.RootCAs.AddCert(srv.Certificate())
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
	resp, err := c.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || string(body) != "client" {
		t.Fatalf("status %s, body %q; want 200 and the client certificate's name", resp.Status, body)
	}
}

func TestHTTPAuthFromSecret(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		data    map[string]string
		want    *secrets.HTTPAuth
		wantKey string
		wantErr error
	}{
		{name: "basic", data: map[string]string{"username": "u", "password": marker}, want: &secrets.HTTPAuth{Username: "u", Password: marker}},
		{name: "bearer", data: map[string]string{"bearerToken": marker}, want: &secrets.HTTPAuth{BearerToken: marker}},
		{name: "trailing newline dropped", data: map[string]string{"username": "u\n", "password": "p\r\n"}, want: &secrets.HTTPAuth{Username: "u", Password: "p"}},
		{name: "both kinds", data: map[string]string{"username": "u", "password": marker, "bearerToken": marker}, wantKey: "bearerToken", wantErr: secrets.ErrConflict},
		{name: "token and password", data: map[string]string{"password": marker, "bearerToken": marker}, wantKey: "bearerToken", wantErr: secrets.ErrConflict},
		{name: "neither", data: nil, wantKey: "username", wantErr: secrets.ErrMissingKey},
		{name: "no password", data: map[string]string{"username": "u"}, wantKey: "password", wantErr: secrets.ErrMissingKey},
		{name: "no username", data: map[string]string{"password": marker}, wantKey: "username", wantErr: secrets.ErrMissingKey},
		{name: "colon in username", data: map[string]string{"username": "a:" + marker, "password": "p"}, wantKey: "username", wantErr: secrets.ErrInvalidValue},
		{name: "control character", data: map[string]string{"bearerToken": marker + "\nX-Injected: 1"}, wantKey: "bearerToken", wantErr: secrets.ErrInvalidValue},
		{name: "only a newline", data: map[string]string{"bearerToken": "\n"}, wantKey: "bearerToken", wantErr: secrets.ErrMissingKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := secrets.HTTPAuthFromSecret(secret(tt.data))
			if tt.wantErr != nil {
				wantKeyErr(t, err, tt.wantKey, tt.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if s := fmt.Sprintf("%v %#v", got, got); containsMarker(s) {
				t.Errorf("printing leaks a secret: %s", s)
			}
		})
	}
}

func TestHTTPAuthSetAuth(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		auth secrets.HTTPAuth
		want string
	}{
		{secrets.HTTPAuth{Username: "u", Password: "p"}, "Basic " + base64.StdEncoding.EncodeToString([]byte("u:p"))},
		{secrets.HTTPAuth{BearerToken: "t"}, "Bearer t"},
	} {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		tt.auth.SetAuth(req)
		if got := req.Header.Get("Authorization"); got != tt.want {
			t.Errorf("Authorization = %q, want %q", got, tt.want)
		}
	}
}

func TestSSHFromSecret(t *testing.T) {
	t.Parallel()
	k := testSSH()
	tests := []struct {
		name    string
		data    map[string]string
		wantKey string
		wantErr error
	}{
		{name: "plain identity", data: map[string]string{"identity": k.plain, "known_hosts": k.knownHosts}},
		{name: "encrypted identity", data: map[string]string{"identity": k.encrypted, "password": marker, "known_hosts": k.knownHosts}},
		{name: "passphrase on a plain key is unused", data: map[string]string{"identity": k.plain, "password": marker, "known_hosts": k.knownHosts}},
		{name: "no identity", data: map[string]string{"known_hosts": k.knownHosts}, wantKey: "identity", wantErr: secrets.ErrMissingKey},
		{name: "no known_hosts", data: map[string]string{"identity": k.plain}, wantKey: "known_hosts", wantErr: secrets.ErrMissingKey},
		{name: "encrypted without passphrase", data: map[string]string{"identity": k.encrypted, "known_hosts": k.knownHosts}, wantKey: "identity", wantErr: secrets.ErrInvalidValue},
		{name: "wrong passphrase", data: map[string]string{"identity": k.encrypted, "password": "nope" + marker, "known_hosts": k.knownHosts}, wantKey: "password", wantErr: secrets.ErrInvalidValue},
		{name: "identity garbage", data: map[string]string{"identity": marker, "known_hosts": k.knownHosts}, wantKey: "identity", wantErr: secrets.ErrInvalidValue},
		{name: "identity corrupt PEM", data: map[string]string{"identity": pemString("OPENSSH PRIVATE KEY", []byte(marker)), "known_hosts": k.knownHosts}, wantKey: "identity", wantErr: secrets.ErrInvalidValue},
		{name: "known_hosts garbage", data: map[string]string{"identity": k.plain, "known_hosts": k.knownHosts + marker + " ssh-ed25519 AAAA\n"}, wantKey: "known_hosts", wantErr: secrets.ErrInvalidValue},
		{name: "known_hosts comments only", data: map[string]string{"identity": k.plain, "known_hosts": "# nothing\n\n"}, wantKey: "known_hosts", wantErr: secrets.ErrInvalidValue},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := secrets.SSHFromSecret(secret(tt.data))
			if tt.wantErr != nil {
				wantKeyErr(t, err, tt.wantKey, tt.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(k.pub.Marshal(), got.Signer.PublicKey().Marshal()); diff != "" {
				t.Errorf("public key (-want +got):\n%s", diff)
			}
			if s := fmt.Sprintf("%v %#v", got, got); containsMarker(s) || strings.Contains(s, "PRIVATE KEY") {
				t.Errorf("printing leaks a secret: %s", s)
			}
		})
	}
}

func TestProxyURLFromSecret(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		data    map[string]string
		want    string
		wantKey string
		wantErr error
	}{
		{name: "address", data: map[string]string{"address": "http://proxy:3128"}, want: "http://proxy:3128"},
		{name: "credentials", data: map[string]string{"address": "https://proxy", "username": "u", "password": "p w"}, want: "https://u:p%20w@proxy"},
		{name: "keys replace user info", data: map[string]string{"address": "socks5://old:" + marker + "@proxy:1080", "username": "u", "password": "p"}, want: "socks5://u:p@proxy:1080"},
		{name: "username alone", data: map[string]string{"address": "http://proxy", "username": "u"}, want: "http://u@proxy"},
		{name: "no address", data: map[string]string{"username": "u"}, wantKey: "address", wantErr: secrets.ErrMissingKey},
		{name: "password alone", data: map[string]string{"address": "http://proxy", "password": marker}, wantKey: "username", wantErr: secrets.ErrMissingKey},
		{name: "unparsable, with a password inside", data: map[string]string{"address": "http://u:" + marker + "@proxy:port%zz"}, wantKey: "address", wantErr: secrets.ErrInvalidValue},
		{name: "bad port, with a password inside", data: map[string]string{"address": "http://u:" + marker + "@proxy:notaport"}, wantKey: "address", wantErr: secrets.ErrInvalidValue},
		{name: "no scheme", data: map[string]string{"address": "proxy.internal:3128"}, wantKey: "address", wantErr: secrets.ErrInvalidValue},
		{name: "other scheme", data: map[string]string{"address": "ftp://" + marker + "@proxy"}, wantKey: "address", wantErr: secrets.ErrInvalidValue},
		{name: "no host", data: map[string]string{"address": "http://u:" + marker + "@"}, wantKey: "address", wantErr: secrets.ErrInvalidValue},
		{name: "control character", data: map[string]string{"address": "http://proxy\x00" + marker}, wantKey: "address", wantErr: secrets.ErrInvalidValue},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := secrets.ProxyURLFromSecret(secret(tt.data))
			if tt.wantErr != nil {
				wantKeyErr(t, err, tt.wantKey, tt.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.String() != tt.want {
				t.Errorf("URL = %q, want %q", got, tt.want)
			}
		})
	}
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestDockerConfigFromSecret(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		data    map[string]string
		want    map[string]secrets.RegistryAuth
		wantKey string
		wantErr error
	}{
		{
			name: "auths with username and password",
			data: map[string]string{".dockerconfigjson": `{"auths":{"ghcr.io":{"username":"u","password":"` + marker + `"}}}`},
			want: map[string]secrets.RegistryAuth{"ghcr.io": {Username: "u", Password: marker}},
		},
		{
			name: "auth field decoded and wins",
			data: map[string]string{".dockerconfigjson": `{"auths":{"https://index.docker.io/v1/":{"username":"x","auth":"` + b64("u:p:"+marker) + `","email":"e@x"}}}`},
			want: map[string]secrets.RegistryAuth{"https://index.docker.io/v1/": {Username: "u", Password: "p:" + marker}},
		},
		{
			name: "tokens",
			data: map[string]string{".dockerconfigjson": `{"auths":{"r.example:5000":{"identitytoken":"it","registrytoken":"rt"}},"credsStore":"x"}`},
			want: map[string]secrets.RegistryAuth{"r.example:5000": {IdentityToken: "it", RegistryToken: "rt"}},
		},
		{
			name: "legacy dockercfg",
			data: map[string]string{".dockercfg": `{"quay.io":{"auth":"` + b64("u:p") + `"}}`},
			want: map[string]secrets.RegistryAuth{"quay.io": {Username: "u", Password: "p"}},
		},
		{name: "no key", data: map[string]string{"config.json": "{}"}, wantKey: ".dockerconfigjson", wantErr: secrets.ErrMissingKey},
		{name: "not JSON", data: map[string]string{".dockerconfigjson": `{"auths":{"r":{"password":"` + marker + `"` + marker}, wantKey: ".dockerconfigjson", wantErr: secrets.ErrInvalidValue},
		{name: "syntax error right at the marker", data: map[string]string{".dockerconfigjson": marker}, wantKey: ".dockerconfigjson", wantErr: secrets.ErrInvalidValue},
		{name: "wrong types", data: map[string]string{".dockerconfigjson": `{"auths":{"r":{"password":12345}}}`}, wantKey: ".dockerconfigjson", wantErr: secrets.ErrInvalidValue},
		{name: "no entries", data: map[string]string{".dockerconfigjson": `{"auths":{}}`}, wantKey: ".dockerconfigjson", wantErr: secrets.ErrInvalidValue},
		{name: "trailing data", data: map[string]string{".dockerconfigjson": `{"auths":{"r":{}}} {"` + marker + `":1}`}, wantKey: ".dockerconfigjson", wantErr: secrets.ErrInvalidValue},
		{name: "auth not base64", data: map[string]string{".dockerconfigjson": `{"auths":{"r.io":{"auth":"` + marker + `"}}}`}, wantKey: ".dockerconfigjson", wantErr: secrets.ErrInvalidValue},
		{name: "auth without colon", data: map[string]string{".dockerconfigjson": `{"auths":{"r.io":{"auth":"` + b64(marker) + `"}}}`}, wantKey: ".dockerconfigjson", wantErr: secrets.ErrInvalidValue},
		{name: "secret in registry position", data: map[string]string{".dockerconfigjson": `{"auths":{"` + marker + `":{"auth":"!!"}}}`}, wantKey: ".dockerconfigjson", wantErr: secrets.ErrInvalidValue},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := secrets.DockerConfigFromSecret(secret(tt.data))
			if tt.wantErr != nil {
				wantKeyErr(t, err, tt.wantKey, tt.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got.Auths); diff != "" {
				t.Errorf("auths (-want +got):\n%s", diff)
			}
			if s := fmt.Sprintf("%v %#v", got, got); containsMarker(s) {
				t.Errorf("printing leaks a secret: %s", s)
			}
		})
	}
}

func TestDockerConfigErrorNamesRegistry(t *testing.T) {
	t.Parallel()
	_, err := secrets.DockerConfigFromSecret(secret(map[string]string{".dockerconfigjson": `{"auths":{"https://r.example:5000/v2/":{"auth":"%%%"}}}`}))
	if err == nil || !strings.Contains(err.Error(), "registry 'https://r.example:5000/v2/'") {
		t.Fatalf("error %v does not name the registry", err)
	}
}

func TestDockerConfigLookup(t *testing.T) {
	t.Parallel()
	cfg := &secrets.DockerConfig{Auths: map[string]secrets.RegistryAuth{
		"https://index.docker.io/v1/": {Username: "hub"},
		"ghcr.io":                     {Username: "gh"},
		"http://r.example:5000/path":  {Username: "r"},
	}}
	for host, want := range map[string]string{
		"docker.io":            "hub",
		"registry-1.docker.io": "hub",
		"ghcr.io":              "gh",
		"GHCR.IO":              "gh",
		"r.example:5000":       "r",
		"r.example":            "",
		"quay.io":              "",
	} {
		got, ok := cfg.Lookup(host)
		if ok != (want != "") || got.Username != want {
			t.Errorf("Lookup(%q) = %q, %v; want %q", host, got.Username, ok, want)
		}
	}
}

func TestNilSecret(t *testing.T) {
	t.Parallel()
	for name, f := range map[string]func() error{
		"TLS":    func() error { _, err := secrets.TLSFromSecret(nil); return err },
		"HTTP":   func() error { _, err := secrets.HTTPAuthFromSecret(nil); return err },
		"SSH":    func() error { _, err := secrets.SSHFromSecret(nil); return err },
		"proxy":  func() error { _, err := secrets.ProxyURLFromSecret(nil); return err },
		"docker": func() error { _, err := secrets.DockerConfigFromSecret(nil); return err },
	} {
		if err := f(); !errors.Is(err, secrets.ErrNilSecret) {
			t.Errorf("%s: error = %v, want ErrNilSecret", name, err)
		}
	}
}
