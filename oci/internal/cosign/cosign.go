// Package cosign holds the wire format of cosign's classic signatures and of
// sigstore bundles attached as OCI referrers, shared by the verifier and by
// ocitest's signer.
package cosign

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

const (
	// SimpleSigningMediaType is the media type of a classic cosign signature
	// layer: its blob is the signed payload.
	SimpleSigningMediaType = "application/vnd.dev.cosign.simplesigning.v1+json"
	// SignatureAnnotation holds the base64 signature over the payload.
	SignatureAnnotation = "dev.cosignproject.cosign/signature"
	// SignatureType is the payload's critical.type.
	SignatureType = "cosign container image signature"
	// BundleMediaType is the artifact type and layer media type of a sigstore
	// bundle (v0.3) attached to an image as an OCI referrer.
	BundleMediaType = "application/vnd.dev.sigstore.bundle.v0.3+json"
	// BundleMediaTypePrefix matches every sigstore bundle version.
	BundleMediaTypePrefix = "application/vnd.dev.sigstore.bundle"
)

// Payload is the simple-signing document cosign signs.
type Payload struct {
	Critical Critical       `json:"critical"`
	Optional map[string]any `json:"optional"`
}

// Critical is the part of the payload a verifier must check.
type Critical struct {
	Identity struct {
		DockerReference string `json:"docker-reference"`
	} `json:"identity"`
	Image struct {
		DockerManifestDigest string `json:"docker-manifest-digest"`
	} `json:"image"`
	Type string `json:"type"`
}

// SignatureTag returns the tag of the classic signature of a manifest
// digest "sha256:<hex>": "sha256-<hex>.sig".
func SignatureTag(digest string) string {
	return strings.Replace(digest, ":", "-", 1) + ".sig"
}

// NewPayload returns the payload signing digest of repository repo.
func NewPayload(repo, digest string) ([]byte, error) {
	var p Payload
	p.Critical.Identity.DockerReference = repo
	p.Critical.Image.DockerManifestDigest = digest
	p.Critical.Type = SignatureType
	return json.Marshal(p)
}

// ErrInvalidPayload is returned by ParsePayload.
var ErrInvalidPayload = errors.New("invalid simple-signing payload")

// ParsePayload parses a payload and checks its type.
func ParsePayload(b []byte) (*Payload, error) {
	var p Payload
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidPayload, err)
	}
	if p.Critical.Type != SignatureType {
		return nil, fmt.Errorf("%w: type %q", ErrInvalidPayload, p.Critical.Type)
	}
	if p.Critical.Image.DockerManifestDigest == "" {
		return nil, fmt.Errorf("%w: no docker-manifest-digest", ErrInvalidPayload)
	}
	return &p, nil
}
