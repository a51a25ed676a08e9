package secrets_test

import (
	"testing"

	"github.com/gitopskit/kit/runtime/secrets"
)

// The fuzz targets feed arbitrary bytes to each parser, seeded with inputs
// that carry the marker in secret positions, and require that no error
// repeats the marker: errors may say which key is wrong, never what it holds.

func FuzzProxyURL(f *testing.F) {
	for _, s := range []string{
		"http://u:" + marker + "@proxy:3128",
		"http://u:" + marker + "@proxy:port%zz",
		"socks5://" + marker + "@[::1",
		"ftp://" + marker,
		marker,
	} {
		f.Add(s, "user", marker)
	}
	f.Fuzz(func(t *testing.T, addr, user, pass string) {
		_, err := secrets.ProxyURLFromSecret(secret(map[string]string{"address": addr, "username": user, "password": pass}))
		mustNotLeak(t, err)
	})
}

func FuzzDockerConfig(f *testing.F) {
	for _, s := range []string{
		`{"auths":{"ghcr.io":{"username":"u","password":"` + marker + `"}}}`,
		`{"auths":{"r.io":{"auth":"` + b64("u:"+marker) + `"}}}`,
		`{"auths":{"r.io":{"auth":"` + marker + `"}}}`,
		`{"auths":{"r.io":{"password":` + marker + `}}}`,
		`{"auths":{"` + marker + `":{"auth":"x"}}}`,
		`{"r.io":{"auth":"` + b64(marker) + `"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, key := range []string{".dockerconfigjson", ".dockercfg"} {
			_, err := secrets.DockerConfigFromSecret(secret(map[string]string{key: string(data)}))
			mustNotLeak(t, err)
		}
	})
}

func FuzzTLS(f *testing.F) {
	p := testPKI()
	f.Add(p.caPEM, p.certPEM, p.keyPEM)
	f.Add(marker, p.certPEM, p.otherKeyPEM)
	f.Add(pemString("CERTIFICATE", []byte(marker)), pemString("CERTIFICATE", []byte(marker)), pemString("PRIVATE KEY", []byte(marker)))
	f.Add("", p.certPEM, "-----BEGIN PRIVATE KEY-----\n"+marker+"\n-----END PRIVATE KEY-----\n")
	f.Fuzz(func(t *testing.T, ca, cert, key string) {
		_, err := secrets.TLSFromSecret(secret(map[string]string{"ca.crt": ca, "tls.crt": cert, "tls.key": key}))
		mustNotLeak(t, err)
	})
}

func FuzzSSHIdentity(f *testing.F) {
	k := testSSH()
	f.Add(k.plain, "", k.knownHosts)
	f.Add(k.encrypted, marker, k.knownHosts)
	f.Add(k.encrypted, "wrong"+marker, k.knownHosts)
	f.Add(pemString("OPENSSH PRIVATE KEY", []byte(marker)), marker, marker+" ssh-ed25519 AAAA")
	f.Add(marker, "", "")
	f.Fuzz(func(t *testing.T, id, pass, knownHosts string) {
		_, err := secrets.SSHFromSecret(secret(map[string]string{"identity": id, "password": pass, "known_hosts": knownHosts}))
		mustNotLeak(t, err)
	})
}
