package oci

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/go-logr/logr"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/signature"

	"github.com/gitopskit/kit/oci/internal/cosign"
)

// VerifyOptions says whom to trust. At least one of PublicKeys and Keyless
// must be set; a signature passing either is enough.
type VerifyOptions struct {
	// PublicKeys verify classic cosign signatures (the sha256-<hex>.sig tag
	// with simple-signing layers), as made by "cosign sign --key".
	// ParsePublicKeys reads them from PEM.
	PublicKeys []crypto.PublicKey
	// Keyless verifies Fulcio-certified signatures offline, in both formats
	// cosign writes: sigstore bundles attached to the artifact as OCI
	// referrers (cosign's new bundle format), and classic keyless
	// signatures (the sha256-<hex>.sig tag whose simple-signing layer
	// carries the Fulcio certificate and the Rekor entry with its signed
	// entry timestamp in annotations).
	Keyless *KeylessOptions
}

// KeylessOptions verifies Fulcio-certified signatures offline against a
// trusted root the caller provides.
type KeylessOptions struct {
	// TrustedMaterial holds the certificate authorities, transparency logs
	// and timestamp authorities trusted, e.g. a root.TrustedRoot read with
	// root.NewTrustedRootFromJSON from a trusted_root.json the caller keeps.
	TrustedMaterial root.TrustedMaterial
	// Identities lists who may have signed; the certificate must match one.
	// At least one is required.
	Identities []Identity
	// SkipSCT stops requiring a signed certificate timestamp in the signing
	// certificate. Keep it false for the public Sigstore instance.
	SkipSCT bool
}

// Identity is an expected signer: the OIDC issuer and the certificate's
// subject alternative name (an e-mail, a workflow URI...), each given exactly
// or as a regular expression (anchor it with ^ and $).
type Identity struct {
	Issuer        string
	IssuerRegexp  string
	Subject       string
	SubjectRegexp string
}

// VerifyResult describes the signature that was trusted.
type VerifyResult struct {
	// Digest is the manifest digest verified.
	Digest string
	// Method is "cosign-key", "cosign-keyless" (a classic keyless
	// signature) or "sigstore-bundle".
	Method string
	// Subject and Issuer are the certificate identity of a keyless signature.
	Subject, Issuer string
}

// ParsePublicKeys reads every PEM "PUBLIC KEY" block of b (a cosign.pub).
func ParsePublicKeys(b []byte) ([]crypto.PublicKey, error) {
	var out []crypto.PublicKey
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "PUBLIC KEY" {
			continue
		}
		k, err := x509.ParsePKIXPublicKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse public keys: %w", err)
		}
		out = append(out, k)
	}
	if len(out) == 0 {
		return nil, errors.New("parse public keys: no PEM public key")
	}
	return out, nil
}

// Verify checks that the artifact ref points to is signed as o says. It
// returns ErrNoSignature when there is no signature of a kind o can check,
// and a *VerificationError (errors.Is ErrUntrusted) when none is trusted.
func (c *Client) Verify(ctx context.Context, ref string, o VerifyOptions) (*VerifyResult, error) {
	ctx, cancel := c.call(ctx)
	defer cancel()
	r, err := c.parseRef(ref)
	if err != nil {
		return nil, err
	}
	d, ok := r.(name.Digest)
	if !ok {
		_, md, _, err := c.fetchManifest(ctx, ref, "", "")
		if err != nil {
			return nil, err
		}
		d = r.Context().Digest(md.Digest)
	}
	return c.verify(ctx, d, o)
}

func (c *Client) verify(ctx context.Context, d name.Digest, o VerifyOptions) (*VerifyResult, error) {
	if len(o.PublicKeys) == 0 && o.Keyless == nil {
		return nil, errors.New("verify: no public key nor keyless options")
	}
	if o.Keyless != nil && (o.Keyless.TrustedMaterial == nil || len(o.Keyless.Identities) == 0) {
		return nil, errors.New("verify: keyless needs trusted material and at least one identity")
	}
	log := logr.FromContextOrDiscard(ctx).WithValues("digest", d.String())
	var reasons []string
	found := 0
	// Classic signatures (a key, or a keyless certificate with its Rekor
	// entry) sit under the sha256-<hex>.sig tag; bundles are referrers.
	res, n, why, err := c.verifySignatureTag(ctx, d, o)
	if err != nil {
		return nil, err
	}
	if res != nil {
		log.V(1).Info("signature verified", "method", res.Method, "subject", res.Subject)
		return res, nil
	}
	found += n
	reasons = append(reasons, why...)
	if o.Keyless != nil {
		res, n, why, err := c.verifyBundles(ctx, d, o.Keyless)
		if err != nil {
			return nil, err
		}
		if res != nil {
			log.V(1).Info("signature verified", "method", res.Method, "subject", res.Subject)
			return res, nil
		}
		found += n
		reasons = append(reasons, why...)
	}
	if found == 0 {
		return nil, fmt.Errorf("%s: %w", d, ErrNoSignature)
	}
	return nil, &VerificationError{Digest: d.DigestStr(), Reasons: reasons}
}

// verifySignatureTag checks the classic signatures of d, the layers of
// the image tagged sha256-<hex>.sig: with the public keys, and, when the
// layer carries a certificate, keyless (see verifyClassicKeyless). It
// returns the result when one is trusted, else the number of signatures
// seen and why each failed. err is for failures to talk to the registry.
func (c *Client) verifySignatureTag(ctx context.Context, d name.Digest, o VerifyOptions) (*VerifyResult, int, []string, error) {
	verifiers := make([]signature.Verifier, 0, len(o.PublicKeys))
	for _, k := range o.PublicKeys {
		v, err := signature.LoadVerifier(k, crypto.SHA256)
		if err != nil {
			return nil, 0, nil, fmt.Errorf("verify: load public key: %w", err)
		}
		verifiers = append(verifiers, v)
	}
	var keyless *keylessVerifier
	if o.Keyless != nil {
		var err error
		if keyless, err = newKeylessVerifier(o.Keyless); err != nil {
			return nil, 0, nil, err
		}
	}
	tag := d.Context().Tag(cosign.SignatureTag(d.DigestStr()))
	desc, err := c.puller.Get(ctx, tag)
	if err != nil {
		if errors.Is(c.wrap("", err), ErrNotFound) {
			return nil, 0, nil, nil
		}
		return nil, 0, nil, c.wrap("get signature "+tag.String(), err)
	}
	if int64(len(desc.Manifest)) > c.maxManifest {
		return nil, 0, nil, fmt.Errorf("signature %s: %w", tag, ErrTooLarge)
	}
	var m v1.Manifest
	if err := json.Unmarshal(desc.Manifest, &m); err != nil {
		return nil, 1, []string{"signature manifest does not parse"}, nil
	}
	var reasons []string
	n := 0
	for _, l := range m.Layers {
		if string(l.MediaType) != cosign.SimpleSigningMediaType {
			continue
		}
		if n >= maxReferrers {
			break
		}
		n++
		sig, err := base64.StdEncoding.DecodeString(l.Annotations[cosign.SignatureAnnotation])
		if err != nil || len(sig) == 0 {
			reasons = append(reasons, fmt.Sprintf("layer %s: no base64 signature annotation", l.Digest))
			continue
		}
		_, hasCert := l.Annotations[cosign.CertificateAnnotation]
		if len(verifiers) == 0 && (keyless == nil || !hasCert) {
			reasons = append(reasons, fmt.Sprintf("layer %s: %s", l.Digest, noVerifierFor(hasCert)))
			continue
		}
		payload, err := c.readBlob(ctx, d.Context(), l)
		if err != nil {
			return nil, 0, nil, err
		}
		var out *VerifyResult
		switch {
		case verifiesWithKey(verifiers, sig, payload):
			out = &VerifyResult{Digest: d.DigestStr(), Method: "cosign-key"}
		case keyless != nil && hasCert:
			id, err := keyless.verifyClassic(l.Annotations, sig, payload)
			if err != nil {
				reasons = append(reasons, fmt.Sprintf("layer %s: keyless: %v", l.Digest, err))
				continue
			}
			out = &VerifyResult{Digest: d.DigestStr(), Method: "cosign-keyless", Subject: id.Subject, Issuer: id.Issuer}
		default:
			reasons = append(reasons, fmt.Sprintf("layer %s: signature does not verify with the public keys", l.Digest))
			continue
		}
		// The signature holds: it must be about this manifest.
		p, err := cosign.ParsePayload(payload)
		if err != nil {
			reasons = append(reasons, fmt.Sprintf("layer %s: %v", l.Digest, err))
			continue
		}
		if p.Critical.Image.DockerManifestDigest != d.DigestStr() {
			reasons = append(reasons, fmt.Sprintf("layer %s: signs %s, not this manifest", l.Digest, p.Critical.Image.DockerManifestDigest))
			continue
		}
		return out, n, nil, nil
	}
	return nil, n, reasons, nil
}

// verifiesWithKey reports whether sig over payload verifies with one of
// the verifiers.
func verifiesWithKey(verifiers []signature.Verifier, sig, payload []byte) bool {
	for _, v := range verifiers {
		if v.VerifySignature(bytes.NewReader(sig), bytes.NewReader(payload)) == nil {
			return true
		}
	}
	return false
}

// noVerifierFor says why a classic signature cannot be checked with the
// options given.
func noVerifierFor(hasCert bool) string {
	if hasCert {
		return "a keyless signature (it carries a certificate), and no keyless options were given"
	}
	return "a signature made with a key, and no public keys were given"
}

// verifyBundles checks the sigstore bundles attached to d as referrers.
func (c *Client) verifyBundles(ctx context.Context, d name.Digest, o *KeylessOptions) (*VerifyResult, int, []string, error) {
	kv, err := newKeylessVerifier(o)
	if err != nil {
		return nil, 0, nil, err
	}
	digestBytes, err := hex.DecodeString(d.DigestStr()[len("sha256:"):])
	if err != nil {
		return nil, 0, nil, fmt.Errorf("verify: %w", err)
	}
	policy := verify.NewPolicy(verify.WithArtifactDigest("sha256", digestBytes), kv.identities...)

	idx, err := remote.Referrers(d, append(c.remoteOpts, remote.WithContext(ctx), remote.Reuse(c.puller))...)
	if err != nil {
		if errors.Is(c.wrap("", err), ErrNotFound) {
			return nil, 0, nil, nil
		}
		return nil, 0, nil, c.wrap("get referrers of "+d.String(), err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, 0, nil, c.wrap("get referrers of "+d.String(), err)
	}
	var reasons []string
	n := 0
	for _, ref := range im.Manifests {
		// Some registries report the config media type (the OCI empty
		// descriptor) instead of the manifest's artifactType: look inside.
		if !strings.HasPrefix(ref.ArtifactType, cosign.BundleMediaTypePrefix) &&
			ref.ArtifactType != emptyConfigMediaType && ref.ArtifactType != "" {
			continue
		}
		if n >= maxReferrers {
			break
		}
		n++
		raw, err := c.readManifest(ctx, d.Context().Digest(ref.Digest.String()))
		if err != nil {
			return nil, 0, nil, err
		}
		var m v1.Manifest
		if err := json.Unmarshal(raw, &m); err != nil {
			reasons = append(reasons, fmt.Sprintf("referrer %s: manifest does not parse", ref.Digest))
			continue
		}
		for _, l := range m.Layers {
			if !strings.HasPrefix(string(l.MediaType), cosign.BundleMediaTypePrefix) {
				continue
			}
			b, err := c.readBlob(ctx, d.Context(), l)
			if err != nil {
				return nil, 0, nil, err
			}
			var bun bundle.Bundle
			if err := bun.UnmarshalJSON(b); err != nil {
				reasons = append(reasons, fmt.Sprintf("referrer %s: bundle: %v", ref.Digest, err))
				continue
			}
			res, err := kv.verifier.Verify(&bun, policy)
			if err != nil {
				reasons = append(reasons, fmt.Sprintf("referrer %s: %v", ref.Digest, err))
				continue
			}
			id := signerOf(res)
			return &VerifyResult{Digest: d.DigestStr(), Method: "sigstore-bundle", Subject: id.Subject, Issuer: id.Issuer}, n, nil, nil
		}
	}
	return nil, n, reasons, nil
}

const (
	emptyConfigMediaType = "application/vnd.oci.empty.v1+json"
	// maxReferrers bounds the signatures checked per artifact.
	maxReferrers = 64
)

// readManifest fetches the manifest d, bounded and digest-checked.
func (c *Client) readManifest(ctx context.Context, d name.Digest) ([]byte, error) {
	desc, err := c.puller.Get(ctx, d)
	if err != nil {
		return nil, c.wrap("get manifest "+d.String(), err)
	}
	if int64(len(desc.Manifest)) > c.maxManifest {
		return nil, fmt.Errorf("manifest %s: %w", d, ErrTooLarge)
	}
	if sum := sha256.Sum256(desc.Manifest); "sha256:"+hex.EncodeToString(sum[:]) != d.DigestStr() {
		return nil, fmt.Errorf("manifest %s: %w", d, ErrDigestMismatch)
	}
	return desc.Manifest, nil
}

// readBlob reads a small blob (a payload, a bundle) whole, bounded by the
// manifest size limit and digest-checked.
func (c *Client) readBlob(ctx context.Context, repo name.Repository, d v1.Descriptor) ([]byte, error) {
	rc, err := c.openBlobLimit(ctx, repo, d, c.maxManifest)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, c.wrap("read blob "+d.Digest.String(), err)
	}
	return b, nil
}
