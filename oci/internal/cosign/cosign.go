// Package cosign holds the wire format of cosign's classic signatures and of
// sigstore bundles attached as OCI referrers, shared by the verifier and by
// ocitest's signer.
package cosign

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
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

	// CertificateAnnotation holds the PEM signing certificate of a classic
	// keyless signature (cosign sign without --key, before bundles).
	CertificateAnnotation = "dev.sigstore.cosign/certificate"
	// ChainAnnotation holds the PEM chain of the signing certificate. A
	// verifier ignores it: trust comes from its own trusted root.
	ChainAnnotation = "dev.sigstore.cosign/chain"
	// RekorBundleAnnotation holds the Rekor entry of a classic keyless
	// signature with its signed entry timestamp (RekorBundle, as JSON).
	RekorBundleAnnotation = "dev.sigstore.cosign/bundle"
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

// RekorBundle is the content of RekorBundleAnnotation: a Rekor v1 entry
// and the log's signed entry timestamp (SET) over it.
type RekorBundle struct {
	// SignedEntryTimestamp is the log's signature over the canonical JSON
	// of Payload.
	SignedEntryTimestamp []byte `json:"SignedEntryTimestamp"`
	// Payload is what the log signed.
	Payload RekorPayload `json:"Payload"`
}

// RekorPayload is the entry a Rekor log signed.
type RekorPayload struct {
	// Body is the canonical entry (hashedrekord for a signature), base64.
	Body string `json:"body"`
	// IntegratedTime is when the log recorded the entry, in Unix seconds.
	IntegratedTime int64 `json:"integratedTime"`
	// LogIndex is the entry's index in the log.
	LogIndex int64 `json:"logIndex"`
	// LogID is the hex SHA-256 of the log's public key.
	LogID string `json:"logID"`
}

// RekorEntry is a parsed RekorBundle.
type RekorEntry struct {
	// Body is the canonical entry, decoded.
	Body []byte
	// Kind and APIVersion are the entry's ("hashedrekord", "0.0.1").
	Kind, APIVersion string
	// LogID is the SHA-256 of the log's public key.
	LogID []byte
	// IntegratedTime and LogIndex are as the log signed them.
	IntegratedTime, LogIndex int64
	// SignedEntryTimestamp is the log's signature.
	SignedEntryTimestamp []byte
}

// ErrInvalidRekorBundle is returned by ParseRekorBundle.
var ErrInvalidRekorBundle = errors.New("invalid rekor bundle")

// ParseRekorBundle parses the JSON of a RekorBundleAnnotation. It checks the
// form only; the signed entry timestamp is the verifier's to check.
func ParseRekorBundle(b []byte) (*RekorEntry, error) {
	var rb RekorBundle
	if err := json.Unmarshal(b, &rb); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidRekorBundle, err)
	}
	if len(rb.SignedEntryTimestamp) == 0 {
		return nil, fmt.Errorf("%w: no SignedEntryTimestamp", ErrInvalidRekorBundle)
	}
	p := rb.Payload
	if p.LogIndex < 0 || p.IntegratedTime <= 0 {
		return nil, fmt.Errorf("%w: invalid logIndex or integratedTime", ErrInvalidRekorBundle)
	}
	e := &RekorEntry{IntegratedTime: p.IntegratedTime, LogIndex: p.LogIndex, SignedEntryTimestamp: rb.SignedEntryTimestamp}
	var err error
	if e.LogID, err = hex.DecodeString(p.LogID); err != nil || len(e.LogID) != sha256.Size {
		return nil, fmt.Errorf("%w: logID is not a hex SHA-256", ErrInvalidRekorBundle)
	}
	if e.Body, err = base64.StdEncoding.DecodeString(p.Body); err != nil || len(e.Body) == 0 {
		return nil, fmt.Errorf("%w: body is not base64", ErrInvalidRekorBundle)
	}
	var head struct {
		Kind       string `json:"kind"`
		APIVersion string `json:"apiVersion"`
	}
	if err := json.Unmarshal(e.Body, &head); err != nil || head.Kind == "" || head.APIVersion == "" {
		return nil, fmt.Errorf("%w: body has no kind and apiVersion", ErrInvalidRekorBundle)
	}
	e.Kind, e.APIVersion = head.Kind, head.APIVersion
	return e, nil
}

// HashedRekordBody returns the canonical Rekor hashedrekord v0.0.1 entry
// of a signature over a payload whose SHA-256 is payloadSum, made with the
// key of the PEM certificate certPEM: what a log records and signs for a
// classic keyless signature. Keys are sorted and the JSON compact, as
// Rekor canonicalizes it.
func HashedRekordBody(payloadSum, sig, certPEM []byte) ([]byte, error) {
	return json.Marshal(map[string]any{
		"apiVersion": "0.0.1",
		"kind":       "hashedrekord",
		"spec": map[string]any{
			"data": map[string]any{"hash": map[string]string{
				"algorithm": "sha256", "value": hex.EncodeToString(payloadSum),
			}},
			"signature": map[string]any{
				"content":   base64.StdEncoding.EncodeToString(sig),
				"publicKey": map[string]string{"content": base64.StdEncoding.EncodeToString(certPEM)},
			},
		},
	})
}
