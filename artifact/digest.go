package artifact

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"strings"

	"github.com/zeebo/blake3"
)

// Algorithm names a digest algorithm, spelled as in OCI and Flux digests.
type Algorithm string

// Digest algorithms. SHA1 is only accepted inside revisions, where it names a
// Git commit; it is never used to compute a digest.
const (
	SHA256 Algorithm = "sha256"
	SHA384 Algorithm = "sha384"
	SHA512 Algorithm = "sha512"
	BLAKE3 Algorithm = "blake3"
	SHA1   Algorithm = "sha1"
)

// Canonical is the algorithm used when none is chosen.
const Canonical = SHA256

// ErrInvalidDigest is wrapped by every digest parsing error.
var ErrInvalidDigest = errors.New("invalid digest")

// ErrUnsupportedAlgorithm is returned for an algorithm this package cannot compute.
var ErrUnsupportedAlgorithm = errors.New("unsupported digest algorithm")

// Available reports whether the algorithm can be computed by [Algorithm.New].
func (a Algorithm) Available() bool {
	switch a {
	case SHA256, SHA384, SHA512, BLAKE3:
		return true
	}
	return false
}

// size is the length in bytes of the algorithm's output, 0 if unknown.
func (a Algorithm) size() int {
	switch a {
	case SHA256, BLAKE3:
		return 32
	case SHA384:
		return 48
	case SHA512:
		return 64
	case SHA1:
		return 20
	}
	return 0
}

// New returns a new hash for the algorithm. It returns nil if the algorithm
// is not [Algorithm.Available].
func (a Algorithm) New() hash.Hash {
	switch a {
	case SHA256:
		return sha256.New()
	case SHA384:
		return sha512.New384()
	case SHA512:
		return sha512.New()
	case BLAKE3:
		return blake3.New()
	}
	return nil
}

// Digest is a content digest "<algorithm>:<hex>", e.g. "sha256:9f86d0…".
// The zero value is the empty digest, which never verifies.
type Digest string

// NewDigest formats the sum of h, computed with algorithm a.
func NewDigest(a Algorithm, h hash.Hash) Digest {
	return Digest(string(a) + ":" + hex.EncodeToString(h.Sum(nil)))
}

// ParseDigest parses and validates s as a digest of an [Algorithm.Available]
// algorithm with a lower-case hex encoding of the right length.
func ParseDigest(s string) (Digest, error) {
	d := Digest(s)
	if err := d.Validate(); err != nil {
		return "", err
	}
	return d, nil
}

// Algorithm returns the part before the colon, or "" if there is none.
func (d Digest) Algorithm() Algorithm {
	a, _, ok := strings.Cut(string(d), ":")
	if !ok {
		return ""
	}
	return Algorithm(a)
}

// Hex returns the part after the colon, or "" if there is none.
func (d Digest) Hex() string {
	_, h, ok := strings.Cut(string(d), ":")
	if !ok {
		return ""
	}
	return h
}

// String returns the digest string.
func (d Digest) String() string { return string(d) }

// Validate checks that the digest names an available algorithm and carries a
// lower-case hex value of the algorithm's length.
func (d Digest) Validate() error {
	return validateDigest(string(d), false)
}

func validateDigest(s string, allowSHA1 bool) error {
	a, h, ok := strings.Cut(s, ":")
	if !ok {
		return fmt.Errorf("%w %q: missing algorithm prefix", ErrInvalidDigest, truncate(s))
	}
	alg := Algorithm(a)
	if !alg.Available() && !(allowSHA1 && alg == SHA1) {
		return fmt.Errorf("%w %q: %w %q", ErrInvalidDigest, truncate(s), ErrUnsupportedAlgorithm, truncate(a))
	}
	if len(h) != 2*alg.size() || !isLowerHex(h) {
		return fmt.Errorf("%w %q: want %d lower-case hex characters for %s", ErrInvalidDigest, truncate(s), 2*alg.size(), alg)
	}
	return nil
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return s != ""
}

// truncate keeps error messages bounded when they quote untrusted input.
func truncate(s string) string {
	const max = 128
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}

// Digester is an io.Writer that computes digests of several algorithms in one
// pass over the data. It is not safe for concurrent use.
type Digester struct {
	algs   []Algorithm
	hashes []hash.Hash
	w      io.Writer
}

// NewDigester returns a Digester for the given algorithms, or for [Canonical]
// if none is given. Duplicates are computed once.
func NewDigester(algs ...Algorithm) (*Digester, error) {
	if len(algs) == 0 {
		algs = []Algorithm{Canonical}
	}
	d := &Digester{}
	writers := make([]io.Writer, 0, len(algs))
	for _, a := range algs {
		if !a.Available() {
			return nil, fmt.Errorf("%w %q", ErrUnsupportedAlgorithm, truncate(string(a)))
		}
		if d.has(a) {
			continue
		}
		h := a.New()
		d.algs = append(d.algs, a)
		d.hashes = append(d.hashes, h)
		writers = append(writers, h)
	}
	if len(writers) == 1 {
		d.w = writers[0]
	} else {
		d.w = io.MultiWriter(writers...)
	}
	return d, nil
}

func (d *Digester) has(a Algorithm) bool {
	for _, x := range d.algs {
		if x == a {
			return true
		}
	}
	return false
}

// Write adds p to every running hash. It never returns an error.
func (d *Digester) Write(p []byte) (int, error) { return d.w.Write(p) }

// Digest returns the digest of everything written so far for algorithm a, or
// "" if the Digester does not compute a.
func (d *Digester) Digest(a Algorithm) Digest {
	for i, x := range d.algs {
		if x == a {
			return NewDigest(a, d.hashes[i])
		}
	}
	return ""
}

// Digests returns the digests of everything written so far, in the order the
// algorithms were given.
func (d *Digester) Digests() []Digest {
	out := make([]Digest, len(d.algs))
	for i, a := range d.algs {
		out[i] = NewDigest(a, d.hashes[i])
	}
	return out
}

// DigestMismatchError reports content whose digest is not the expected one.
type DigestMismatchError struct {
	Expected Digest
	Actual   Digest
}

func (e *DigestMismatchError) Error() string {
	return fmt.Sprintf("digest mismatch: expected %s, got %s", e.Expected, e.Actual)
}

// FromReader reads r to the end and returns its digest with algorithm a
// ([Canonical] if a is empty).
func FromReader(r io.Reader, a Algorithm) (Digest, error) {
	if a == "" {
		a = Canonical
	}
	if !a.Available() {
		return "", fmt.Errorf("%w %q", ErrUnsupportedAlgorithm, truncate(string(a)))
	}
	h := a.New()
	if _, err := io.Copy(h, r); err != nil {
		return "", err
	}
	return NewDigest(a, h), nil
}

// FromFile returns the digest of the file at path with algorithm a
// ([Canonical] if a is empty).
func FromFile(path string, a Algorithm) (Digest, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	return FromReader(f, a)
}

// Verify reads r to the end and checks its digest against want, which must be
// a valid digest. A mismatch is a *[DigestMismatchError].
func Verify(r io.Reader, want Digest) error {
	if err := want.Validate(); err != nil {
		return err
	}
	got, err := FromReader(r, want.Algorithm())
	if err != nil {
		return err
	}
	if got != want {
		return &DigestMismatchError{Expected: want, Actual: got}
	}
	return nil
}

// VerifyFile checks the file at path against want. A mismatch is a
// *[DigestMismatchError].
func VerifyFile(path string, want Digest) error {
	if err := want.Validate(); err != nil {
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := Verify(f, want); err != nil {
		return fmt.Errorf("verify %s: %w", path, err)
	}
	return nil
}
