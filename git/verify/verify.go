package verify

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
	"golang.org/x/crypto/ssh"

	"github.com/gitopskit/kit/git"
	"github.com/gitopskit/kit/git/internal/sshsig"
)

// Typed errors of verification; branch with errors.Is.
var (
	// ErrUnsigned reports an object without a signature (or a missing tag in
	// the tag modes).
	ErrUnsigned = errors.New("not signed")
	// ErrBadSignature reports a signature that does not verify: tampered
	// payload, malformed signature, wrong namespace.
	ErrBadSignature = errors.New("bad signature")
	// ErrUnknownKey reports a well-formed signature by a key not in the
	// KeyRing.
	ErrUnknownKey = errors.New("signed by an unknown key")
)

// Mode selects what must be signed.
type Mode string

const (
	// ModeHead verifies the commit's signature.
	ModeHead Mode = "head"
	// ModeTag verifies the signature of the annotated tag the checkout went
	// through.
	ModeTag Mode = "tag"
	// ModeTagAndHead verifies both.
	ModeTagAndHead Mode = "tag-and-head"
)

// maxKeyRing bounds the key material parsed into a KeyRing.
const maxKeyRing = 4 << 20

// KeyRing holds trusted OpenPGP and SSH public keys.
type KeyRing struct {
	pgp openpgp.EntityList
	ssh []ssh.PublicKey
}

// NewKeyRing parses armored OpenPGP public keys and SSH keys in
// authorized_keys format (one per line; options and comments allowed). Each
// element may hold several keys.
func NewKeyRing(openPGP [][]byte, sshKeys [][]byte) (*KeyRing, error) {
	kr := &KeyRing{}
	total := 0
	for _, k := range append(append([][]byte{}, openPGP...), sshKeys...) {
		total += len(k)
	}
	if total > maxKeyRing {
		return nil, fmt.Errorf("key ring larger than %d bytes", maxKeyRing)
	}
	for i, armored := range openPGP {
		el, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(armored))
		if err != nil {
			return nil, fmt.Errorf("openpgp key %d: %w", i, err)
		}
		kr.pgp = append(kr.pgp, el...)
	}
	for i, data := range sshKeys {
		rest := data
		for len(bytes.TrimSpace(rest)) > 0 {
			pub, _, _, next, err := ssh.ParseAuthorizedKey(rest)
			if err != nil {
				return nil, fmt.Errorf("ssh keys %d: %w", i, err)
			}
			kr.ssh = append(kr.ssh, pub)
			rest = next
		}
	}
	if len(kr.pgp) == 0 && len(kr.ssh) == 0 {
		return nil, errors.New("key ring is empty")
	}
	return kr, nil
}

// Result names what was verified.
type Result struct {
	// Commit is the fingerprint of the key that signed the commit (set in
	// the head modes): the hex primary-key fingerprint for OpenPGP, the
	// "SHA256:…" fingerprint for SSH.
	Commit string
	// Tag is the fingerprint of the key that signed the tag (tag modes).
	Tag string
}

// Verify checks c's signatures according to mode.
func Verify(c *git.Commit, kr *KeyRing, mode Mode) (*Result, error) {
	res := &Result{}
	switch mode {
	case ModeHead, ModeTag, ModeTagAndHead:
	default:
		return nil, fmt.Errorf("%w: unknown verification mode %q", git.ErrInvalidOptions, mode)
	}
	if mode == ModeTag || mode == ModeTagAndHead {
		if c.ReferencingTag == nil {
			return nil, fmt.Errorf("commit %s was not checked out through an annotated tag: %w", c.Hash, ErrUnsigned)
		}
		fp, err := kr.VerifySignature(c.ReferencingTag.Encoded, c.ReferencingTag.Signature)
		if err != nil {
			return nil, fmt.Errorf("tag %s: %w", c.ReferencingTag.Name, err)
		}
		res.Tag = fp
	}
	if mode == ModeHead || mode == ModeTagAndHead {
		fp, err := kr.VerifySignature(c.Encoded, c.Signature)
		if err != nil {
			return nil, fmt.Errorf("commit %s: %w", c.Hash, err)
		}
		res.Commit = fp
	}
	return res, nil
}

// VerifySignature checks an armored signature (OpenPGP or SSH) over payload
// and returns the fingerprint of the key that made it.
func (kr *KeyRing) VerifySignature(payload []byte, signature string) (string, error) {
	if strings.TrimSpace(signature) == "" {
		return "", ErrUnsigned
	}
	if sshsig.IsArmored(signature) {
		return kr.verifySSH(payload, signature)
	}
	signer, err := openpgp.CheckArmoredDetachedSignature(kr.pgp, bytes.NewReader(payload), strings.NewReader(signature), nil)
	if err != nil {
		if errors.Is(err, pgperrors.ErrUnknownIssuer) {
			return "", ErrUnknownKey
		}
		return "", fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	return fmt.Sprintf("%X", signer.PrimaryKey.Fingerprint), nil
}

func (kr *KeyRing) verifySSH(payload []byte, signature string) (string, error) {
	sig, err := sshsig.ParseArmored([]byte(signature))
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	if err := sig.Verify(payload, "git"); err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	want := sig.PublicKey.Marshal()
	for _, k := range kr.ssh {
		if bytes.Equal(k.Marshal(), want) {
			return ssh.FingerprintSHA256(k), nil
		}
	}
	return "", fmt.Errorf("%w: %s", ErrUnknownKey, ssh.FingerprintSHA256(sig.PublicKey))
}

// NewOpenPGPSigner returns a git.Signer making armored detached OpenPGP
// signatures with entity's private key (decrypted).
func NewOpenPGPSigner(entity *openpgp.Entity) git.Signer { return pgpSigner{entity} }

type pgpSigner struct{ e *openpgp.Entity }

func (s pgpSigner) Sign(message io.Reader) ([]byte, error) {
	var b bytes.Buffer
	if err := openpgp.ArmoredDetachSign(&b, s.e, message, nil); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// NewSSHSigner returns a git.Signer making SSH signatures in the sshsig
// format, namespace "git", as `git commit -S` with gpg.format=ssh does.
func NewSSHSigner(signer ssh.Signer) git.Signer { return sshSigner{signer} }

type sshSigner struct{ s ssh.Signer }

func (s sshSigner) Sign(message io.Reader) ([]byte, error) {
	msg, err := io.ReadAll(io.LimitReader(message, 64<<20))
	if err != nil {
		return nil, err
	}
	return sshsig.Sign(s.s, msg, "git")
}
