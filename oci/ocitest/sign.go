package ocitest

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/gitopskit/kit/oci/internal/cosign"
)

// Signer holds a generated ECDSA P-256 key, the kind "cosign generate-key-pair" makes.
type Signer struct {
	key *ecdsa.PrivateKey
}

// NewSigner generates a key.
func NewSigner(t testing.TB) *Signer {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &Signer{key: k}
}

// PublicKey returns the verification key.
func (s *Signer) PublicKey() crypto.PublicKey { return s.key.Public() }

// PublicKeyPEM returns the verification key as a PEM "PUBLIC KEY" block,
// the format of cosign.pub.
func (s *Signer) PublicKeyPEM() []byte {
	der, err := x509.MarshalPKIXPublicKey(s.key.Public())
	if err != nil {
		panic(err) // a P-256 key always marshals
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// Sign signs the manifest ref points to in cosign's classic format: a
// simple-signing payload naming the manifest digest, signed with the key
// (ECDSA over its SHA-256), pushed as the layer of the image tagged
// sha256-<hex>.sig, with the base64 signature in the layer's
// dev.cosignproject.cosign/signature annotation. It returns the digest signed.
func (r *Registry) Sign(t testing.TB, s *Signer, ref string) string {
	t.Helper()
	d, err := r.resolve(ref)
	if err != nil {
		t.Fatalf("sign %s: %v", ref, err)
	}
	payload, err := cosign.NewPayload(d.Context().String(), d.DigestStr())
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(payload)
	sig, err := ecdsa.SignASN1(rand.Reader, s.key, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	r.PushSignature(t, d.String(), payload, map[string]string{cosign.SignatureAnnotation: base64.StdEncoding.EncodeToString(sig)})
	return d.DigestStr()
}

// PushSignature pushes a classic cosign signature of the manifest ref points
// to, as it is given: the image tagged sha256-<hex>.sig whose one layer is
// payload (media type application/vnd.dev.cosign.simplesigning.v1+json)
// with annotations on the layer. It replaces any signature image of that
// manifest. Sign and SignKeylessClassic use it; a test uses it to push a
// tampered signature (KeylessSigner.ClassicSignature gives the parts).
func (r *Registry) PushSignature(t testing.TB, ref string, payload []byte, annotations map[string]string) {
	t.Helper()
	d, err := r.resolve(ref)
	if err != nil {
		t.Fatalf("push signature of %s: %v", ref, err)
	}
	img, err := mutate.Append(empty.Image, mutate.Addendum{
		Layer:       static.NewLayer(payload, cosign.SimpleSigningMediaType),
		Annotations: annotations,
	})
	if err != nil {
		t.Fatal(err)
	}
	img = mutate.ConfigMediaType(mutate.MediaType(img, types.OCIManifestSchema1), types.OCIConfigJSON)
	tag := d.Context().Tag(cosign.SignatureTag(d.DigestStr()))
	if err := remote.Write(tag, img, r.remoteOptions()...); err != nil {
		t.Fatalf("push signature of %s: %v", ref, err)
	}
}

// AttachBundle attaches a sigstore bundle (JSON) to the manifest ref points
// to, as cosign's new bundle format does: an OCI 1.1 referrer manifest with
// artifactType application/vnd.dev.sigstore.bundle.v0.3+json whose single
// layer is the bundle, and subject the signed manifest. It returns the
// digest of the referrer manifest.
func (r *Registry) AttachBundle(t testing.TB, ref string, bundleJSON []byte) string {
	t.Helper()
	ctx := context.Background()
	d, err := r.resolve(ref)
	if err != nil {
		t.Fatalf("attach %s: %v", ref, err)
	}
	subject, err := remote.Head(d, append(r.remoteOptions(), remote.WithContext(ctx))...)
	if err != nil {
		t.Fatalf("attach %s: %v", ref, err)
	}
	layer := static.NewLayer(bundleJSON, cosign.BundleMediaType)
	cfg := static.NewLayer([]byte("{}"), "application/vnd.oci.empty.v1+json")
	for _, l := range []v1.Layer{layer, cfg} {
		if err := remote.WriteLayer(d.Context(), l, r.remoteOptions()...); err != nil {
			t.Fatalf("attach %s: %v", ref, err)
		}
	}
	desc := func(l v1.Layer) v1.Descriptor {
		dg, _ := l.Digest()
		sz, _ := l.Size()
		mt, _ := l.MediaType()
		return v1.Descriptor{MediaType: mt, Digest: dg, Size: sz}
	}
	m := struct {
		SchemaVersion int64             `json:"schemaVersion"`
		MediaType     types.MediaType   `json:"mediaType"`
		ArtifactType  string            `json:"artifactType"`
		Config        v1.Descriptor     `json:"config"`
		Layers        []v1.Descriptor   `json:"layers"`
		Subject       *v1.Descriptor    `json:"subject"`
		Annotations   map[string]string `json:"annotations,omitempty"`
	}{2, types.OCIManifestSchema1, cosign.BundleMediaType, desc(cfg), []v1.Descriptor{desc(layer)},
		&v1.Descriptor{MediaType: subject.MediaType, Digest: subject.Digest, Size: subject.Size}, nil}
	raw, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	h, _, _ := v1.SHA256(bytesReader(raw))
	if err := remote.Put(d.Context().Digest(h.String()), rawManifest(raw), r.remoteOptions()...); err != nil {
		t.Fatalf("attach %s: push referrer: %v", ref, err)
	}
	return h.String()
}

func (r *Registry) resolve(ref string) (name.Digest, error) {
	pr, err := name.ParseReference(ref, r.nameOptions()...)
	if err != nil {
		return name.Digest{}, err
	}
	if d, ok := pr.(name.Digest); ok {
		return d, nil
	}
	desc, err := remote.Head(pr, r.remoteOptions()...)
	if err != nil {
		return name.Digest{}, err
	}
	return pr.Context().Digest(desc.Digest.String()), nil
}

type rawManifest []byte

func (m rawManifest) RawManifest() ([]byte, error)        { return m, nil }
func (m rawManifest) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
