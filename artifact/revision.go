package artifact

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalidRevision is wrapped by every revision parsing error.
var ErrInvalidRevision = errors.New("invalid revision")

// maxRevisionLength bounds the revisions this package parses. Git ref names
// and OCI tags are far shorter; the bound keeps hostile input cheap.
const maxRevisionLength = 4096

// Revision identifies the content of an artifact: an optional named pointer
// (a branch, tag, chart version, OCI tag…) and the digest it resolved to.
type Revision struct {
	// Name is the named pointer, empty for a bare digest. It may contain
	// '/' and '@'.
	Name string
	// Digest is what Name resolved to: a Git commit ("sha1:…") or a
	// content digest ("sha256:…").
	Digest Digest
}

// NewRevision returns the revision string "<name>@<digest>", or the bare
// digest when name is empty.
func NewRevision(name string, d Digest) string {
	return Revision{Name: name, Digest: d}.String()
}

// String formats the revision as "<name>@<digest>", or the bare digest when
// Name is empty.
func (r Revision) String() string {
	if r.Name == "" {
		return string(r.Digest)
	}
	return r.Name + "@" + string(r.Digest)
}

// ParseRevision parses "<named-pointer>@<algorithm>:<hex>" or a bare
// "<algorithm>:<hex>". The named pointer may contain '/' and '@': the digest
// is what follows the last '@'. Algorithm "sha1" (a Git commit) is accepted
// here, besides the digest algorithms.
//
// The legacy forms "<named-pointer>/<hex>" and a bare "<hex>" are read too,
// with 40 hex characters meaning sha1 and 64 meaning sha256.
func ParseRevision(s string) (Revision, error) {
	if s == "" {
		return Revision{}, fmt.Errorf("%w: empty", ErrInvalidRevision)
	}
	if len(s) > maxRevisionLength {
		return Revision{}, fmt.Errorf("%w: longer than %d bytes", ErrInvalidRevision, maxRevisionLength)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return Revision{}, fmt.Errorf("%w %q: control character", ErrInvalidRevision, truncate(s))
		}
	}
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		if d := s[i+1:]; validateDigest(d, true) == nil {
			if i == 0 {
				return Revision{}, fmt.Errorf("%w %q: empty named pointer", ErrInvalidRevision, truncate(s))
			}
			return Revision{Name: s[:i], Digest: Digest(d)}, nil
		}
	}
	if validateDigest(s, true) == nil {
		return Revision{Digest: Digest(s)}, nil
	}
	// Legacy forms: "<name>/<hex>" and "<hex>".
	name, h := "", s
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		name, h = s[:i], s[i+1:]
		if name == "" {
			return Revision{}, fmt.Errorf("%w %q: empty named pointer", ErrInvalidRevision, truncate(s))
		}
	}
	if isLowerHex(h) {
		switch len(h) {
		case 40:
			return Revision{Name: name, Digest: Digest("sha1:" + h)}, nil
		case 64:
			return Revision{Name: name, Digest: Digest("sha256:" + h)}, nil
		}
	}
	return Revision{}, fmt.Errorf("%w %q: want <name>@<algorithm>:<hex> or <algorithm>:<hex>", ErrInvalidRevision, truncate(s))
}

// RevisionsEqual reports whether a and b name the same revision once parsed,
// so that a legacy "main/<sha1>" equals "main@sha1:<sha1>". Strings that do
// not parse are compared as they are.
func RevisionsEqual(a, b string) bool {
	if a == b {
		return true
	}
	ra, errA := ParseRevision(a)
	rb, errB := ParseRevision(b)
	if errA != nil || errB != nil {
		return false
	}
	return ra == rb
}
