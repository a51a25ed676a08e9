package git

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Signature is the author, committer or tagger of an object.
type Signature struct {
	Name  string
	Email string
	When  time.Time
}

// Commit is a checked-out commit.
type Commit struct {
	// Hash is the commit's SHA-1 in lower-case hex.
	Hash string
	// Reference is the reference that was resolved to this commit, such as
	// "refs/heads/main", "refs/tags/v1.2.0" or "refs/pull/1/head"; empty when
	// a bare commit SHA was requested.
	Reference string
	Author    Signature
	Committer Signature
	Message   string
	// Signature is the commit's signature as found in its gpgsig header
	// (an armored OpenPGP or SSH signature); empty when unsigned.
	Signature string
	// Encoded is the signed payload: the commit object without its gpgsig
	// header, as the signature covers it.
	Encoded []byte
	// ReferencingTag is the annotated tag that pointed to the commit, when the
	// checkout went through one.
	ReferencingTag *Tag
}

// Tag is an annotated tag.
type Tag struct {
	Hash      string
	Name      string
	Tagger    Signature
	Message   string
	Signature string
	Encoded   []byte
}

// ShortName returns the human name of a full reference name: "main" for
// refs/heads/main, "v1.0.0" for refs/tags/v1.0.0, and the full name for
// anything else (refs/pull/1/head).
func ShortName(ref string) string {
	for _, p := range []string{"refs/heads/", "refs/tags/"} {
		if s, ok := strings.CutPrefix(ref, p); ok {
			return s
		}
	}
	return ref
}

// Revision returns the Flux revision string of the commit:
// "main@sha1:<hex>", "v1.2.0@sha1:<hex>", "refs/pull/1/head@sha1:<hex>", or
// "sha1:<hex>" when no reference was involved.
func (c *Commit) Revision() string {
	return Revision(c.Reference, c.Hash)
}

// Revision formats a reference name and a commit hash as a revision string.
func Revision(ref, hash string) string {
	if ref == "" {
		return "sha1:" + hash
	}
	return ShortName(ref) + "@sha1:" + hash
}

// ParseRevision splits a revision string into its name (possibly empty) and
// hash. It accepts the legacy "main/<hex>" form too.
func ParseRevision(rev string) (name, hash string, err error) {
	if i := strings.LastIndex(rev, "@sha1:"); i >= 0 {
		name, hash = rev[:i], rev[i+len("@sha1:"):]
	} else if h, ok := strings.CutPrefix(rev, "sha1:"); ok {
		hash = h
	} else if i := strings.LastIndex(rev, "/"); i >= 0 {
		name, hash = rev[:i], rev[i+1:]
	} else {
		hash = rev
	}
	if !hexSHA1.MatchString(hash) {
		return "", "", fmt.Errorf("%w: malformed revision %q", ErrInvalidOptions, rev)
	}
	return name, hash, nil
}

// Signer signs the payload of a commit or tag and returns the armored
// signature. It matches go-git's Signer interface.
type Signer interface {
	Sign(message io.Reader) ([]byte, error)
}
