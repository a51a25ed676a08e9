package oci

import (
	"errors"
	"fmt"
	"strings"
)

// Errors callers can branch on with errors.Is.
var (
	// ErrNotFound is returned when the repository, tag, manifest or blob
	// does not exist.
	ErrNotFound = errors.New("not found")
	// ErrUnauthorized is returned when the registry refuses the credentials
	// (or their absence) with 401 or 403.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrInsecure is returned when a request would go over plain HTTP and the
	// client was not created WithInsecure(true).
	ErrInsecure = errors.New("plain http refused: use WithInsecure to allow it")
	// ErrInvalidReference is returned for a reference that does not parse, or
	// that embeds credentials.
	ErrInvalidReference = errors.New("invalid reference")
	// ErrNoMatchingTag is returned when no tag satisfies a semver range or
	// regular expression.
	ErrNoMatchingTag = errors.New("no matching tag")
	// ErrNoLayer is returned when the manifest has no layer of the requested
	// media type.
	ErrNoLayer = errors.New("no layer of the requested media type")
	// ErrNotArtifact is returned for manifests that are not single image
	// manifests (indexes, schema 1) or that are malformed.
	ErrNotArtifact = errors.New("not an oci artifact manifest")
	// ErrTooLarge is returned when a manifest, a layer or a signature is
	// larger than its limit.
	ErrTooLarge = errors.New("size limit exceeded")
	// ErrDigestMismatch is returned when content does not match the digest
	// that names it.
	ErrDigestMismatch = errors.New("digest mismatch")
	// ErrNoSignature is returned by verification when the artifact carries no
	// signature of a kind the options can check.
	ErrNoSignature = errors.New("no signature found")
	// ErrUntrusted is returned (wrapped in a *VerificationError) when
	// signatures exist but none is trusted.
	ErrUntrusted = errors.New("no trusted signature")
)

// VerificationError reports why each signature found was not trusted.
// It matches ErrUntrusted with errors.Is.
type VerificationError struct {
	// Digest is the manifest digest that was verified.
	Digest string
	// Reasons holds one line per signature that was checked.
	Reasons []string
}

func (e *VerificationError) Error() string {
	return fmt.Sprintf("%s for %s: %s", ErrUntrusted, e.Digest, strings.Join(e.Reasons, "; "))
}

// Unwrap makes errors.Is(err, ErrUntrusted) true.
func (e *VerificationError) Unwrap() error { return ErrUntrusted }
