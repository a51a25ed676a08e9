package oci

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/gitopskit/kit/oci/internal/cosign"
)

func FuzzParseDockerConfig(f *testing.F) {
	f.Add([]byte(`{"auths":{"https://index.docker.io/v1/":{"auth":"dXNlcjpwYXNz"}}}`))
	f.Add([]byte(`{"auths":{"ghcr.io":{"username":"u","password":"p","identitytoken":"t"}}}`))
	f.Add([]byte(`{"registry.example.com":{"auth":"dTpw"}}`))
	f.Add([]byte(`{"auths":{"h":{"auth":"!!"}}}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		k, secrets, err := parseDockerConfig(b)
		if err != nil {
			if !errors.Is(err, ErrInvalidDockerConfig) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		_ = secrets
		for host := range k {
			if strings.Contains(host, "://") {
				t.Fatalf("host not normalized: %q", host)
			}
		}
		reg := authn.Resource(fakeResource("ghcr.io"))
		if _, err := k.Resolve(reg); err != nil {
			t.Fatal(err)
		}
	})
}

type fakeResource string

func (r fakeResource) String() string      { return string(r) }
func (r fakeResource) RegistryStr() string { return string(r) }

func FuzzReadTree(f *testing.F) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	_ = tw.WriteHeader(&tar.Header{Name: "a.yaml", Mode: 0o644, Size: 2, Typeflag: tar.TypeReg})
	_, _ = tw.Write([]byte("a\n"))
	_ = tw.WriteHeader(&tar.Header{Name: "l", Typeflag: tar.TypeSymlink, Linkname: "a.yaml"})
	_ = tw.Close()
	_ = zw.Close()
	f.Add(buf.Bytes())
	f.Add([]byte{0x1f, 0x8b})
	f.Add(make([]byte, 1024))
	f.Fuzz(func(t *testing.T, b []byte) {
		lim := treeLimits{bytes: 1 << 20, entries: 100, path: 256}
		_, _ = readTree(bytes.NewReader(b), lim)
	})
}

func FuzzMaskURLs(f *testing.F) {
	f.Add("GET https://user:pass@host/v2/x?X-Amz-Signature=abc: 403")
	f.Add("oci://u:p@h/r and http://h/p?q=1#frag")
	f.Fuzz(func(t *testing.T, s string) {
		out := maskURLs(s)
		for _, m := range urlPattern.FindAllString(out, -1) {
			u, err := url.Parse(m)
			if err != nil {
				continue
			}
			if u.User != nil || (u.RawQuery != "" && u.RawQuery != "redacted") {
				t.Fatalf("user info or query survived in %q", out)
			}
		}
	})
}

func TestMaskURLs(t *testing.T) {
	got := maskURLs(`Get "https://user:hunter2@registry.example.com/v2/app/blobs/sha256:1?X-Amz-Signature=deadbeef&X-Amz-Credential=AKIA": EOF`)
	if strings.Contains(got, "hunter2") || strings.Contains(got, "deadbeef") || strings.Contains(got, "AKIA") {
		t.Fatalf("secrets survived: %s", got)
	}
	if !strings.Contains(got, "registry.example.com/v2/app/blobs/sha256:1") {
		t.Fatalf("url mangled: %s", got)
	}
}

func TestSupportTags(t *testing.T) {
	for tag, want := range map[string]bool{
		"v1.0.0": false, "latest": false, "sha256-" + strings.Repeat("a", 64): true,
		"sha256-" + strings.Repeat("a", 64) + ".sig": true, "x.att": true, "x.sbom": true, "sha256-short": false,
	} {
		if got := isSupportTag(tag); got != want {
			t.Errorf("isSupportTag(%q) = %v", tag, got)
		}
	}
}

// FuzzClassicBundle feeds hostile annotations of a classic keyless
// signature to the conversion into a sigstore bundle: it must return a
// bundle or an error, never panic.
func FuzzClassicBundle(f *testing.F) {
	f.Add("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", `{"SignedEntryTimestamp":"c2V0","Payload":{"body":"e30=","integratedTime":1,"logIndex":0,"logID":""}}`, []byte("sig"), []byte("{}"))
	f.Add("", "", []byte{}, []byte{})
	f.Add("x", "{", []byte("s"), []byte("p"))
	f.Fuzz(func(t *testing.T, cert, rekor string, sig, payload []byte) {
		ann := map[string]string{cosign.CertificateAnnotation: cert, cosign.RekorBundleAnnotation: rekor}
		b, err := classicBundle(ann, sig, payload)
		if err == nil && b == nil {
			t.Fatal("no bundle and no error")
		}
		if err != nil && !errors.Is(err, errClassic) {
			t.Fatalf("untyped error %v", err)
		}
	})
}
