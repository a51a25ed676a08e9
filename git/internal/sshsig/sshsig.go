// Package sshsig reads, verifies and writes SSH signatures in OpenSSH's
// sshsig format (PROTOCOL.sshsig), as git produces with gpg.format=ssh.
package sshsig

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/ssh"
)

const (
	magic       = "SSHSIG"
	version     = 1
	armorBegin  = "-----BEGIN SSH SIGNATURE-----"
	armorEnd    = "-----END SSH SIGNATURE-----"
	maxArmored  = 64 << 10
	lineWrap    = 76
	defaultHash = "sha512"
)

// ErrMalformed reports a signature that does not parse.
var ErrMalformed = errors.New("malformed ssh signature")

// Signature is a parsed sshsig blob.
type Signature struct {
	PublicKey     ssh.PublicKey
	Namespace     string
	HashAlgorithm string
	Signature     *ssh.Signature
}

// IsArmored reports whether s looks like an armored SSH signature.
func IsArmored(s string) bool { return strings.HasPrefix(strings.TrimSpace(s), armorBegin) }

// ParseArmored decodes an armored signature.
func ParseArmored(armored []byte) (*Signature, error) {
	if len(armored) > maxArmored {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrMalformed, maxArmored)
	}
	s := strings.TrimSpace(string(armored))
	body, ok := strings.CutPrefix(s, armorBegin)
	if !ok {
		return nil, fmt.Errorf("%w: missing armor header", ErrMalformed)
	}
	body, ok = strings.CutSuffix(body, armorEnd)
	if !ok {
		return nil, fmt.Errorf("%w: missing armor footer", ErrMalformed)
	}
	blob, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(body), ""))
	if err != nil {
		return nil, fmt.Errorf("%w: bad base64", ErrMalformed)
	}
	return Parse(blob)
}

// Parse decodes a binary sshsig blob.
func Parse(blob []byte) (*Signature, error) {
	if !bytes.HasPrefix(blob, []byte(magic)) {
		return nil, fmt.Errorf("%w: bad magic", ErrMalformed)
	}
	r := blob[len(magic):]
	if len(r) < 4 {
		return nil, fmt.Errorf("%w: truncated", ErrMalformed)
	}
	if v := binary.BigEndian.Uint32(r); v != version {
		return nil, fmt.Errorf("%w: unsupported version %d", ErrMalformed, v)
	}
	r = r[4:]
	var fields [5][]byte
	for i := range fields {
		var ok bool
		if fields[i], r, ok = readString(r); !ok {
			return nil, fmt.Errorf("%w: truncated", ErrMalformed)
		}
	}
	if len(r) != 0 {
		return nil, fmt.Errorf("%w: trailing data", ErrMalformed)
	}
	pub, err := ssh.ParsePublicKey(fields[0])
	if err != nil {
		return nil, fmt.Errorf("%w: public key: %v", ErrMalformed, err)
	}
	sig := new(ssh.Signature)
	if err := ssh.Unmarshal(fields[4], sig); err != nil {
		return nil, fmt.Errorf("%w: signature: %v", ErrMalformed, err)
	}
	h := string(fields[3])
	if h != "sha256" && h != "sha512" {
		return nil, fmt.Errorf("%w: unsupported hash %q", ErrMalformed, h)
	}
	return &Signature{PublicKey: pub, Namespace: string(fields[1]), HashAlgorithm: h, Signature: sig}, nil
}

func readString(b []byte) (s, rest []byte, ok bool) {
	if len(b) < 4 {
		return nil, nil, false
	}
	n := binary.BigEndian.Uint32(b)
	if uint64(n) > uint64(len(b)-4) {
		return nil, nil, false
	}
	return b[4 : 4+n], b[4+n:], true
}

func appendString(b, s []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

// signedData is the blob the SSH signature covers.
func signedData(namespace, hashAlg string, message []byte) ([]byte, error) {
	var h crypto.Hash
	switch hashAlg {
	case "sha256":
		h = crypto.SHA256
	case "sha512":
		h = crypto.SHA512
	default:
		return nil, fmt.Errorf("%w: unsupported hash %q", ErrMalformed, hashAlg)
	}
	var digest []byte
	if h == crypto.SHA256 {
		d := sha256.Sum256(message)
		digest = d[:]
	} else {
		d := sha512.Sum512(message)
		digest = d[:]
	}
	b := []byte(magic)
	b = appendString(b, []byte(namespace))
	b = appendString(b, nil)
	b = appendString(b, []byte(hashAlg))
	return appendString(b, digest), nil
}

// Verify checks that sig signs message in namespace. RSA signatures must use
// SHA-2 (rsa-sha2-256/512), as OpenSSH requires.
func (s *Signature) Verify(message []byte, namespace string) error {
	if s.Namespace != namespace {
		return fmt.Errorf("namespace %q, want %q", s.Namespace, namespace)
	}
	if s.Signature.Format == ssh.KeyAlgoRSA {
		return errors.New("rsa signature with sha1 is not accepted")
	}
	data, err := signedData(s.Namespace, s.HashAlgorithm, message)
	if err != nil {
		return err
	}
	return s.PublicKey.Verify(data, s.Signature)
}

// Sign signs message in namespace and returns the armored signature.
func Sign(signer ssh.Signer, message []byte, namespace string) ([]byte, error) {
	data, err := signedData(namespace, defaultHash, message)
	if err != nil {
		return nil, err
	}
	var sig *ssh.Signature
	if as, ok := signer.(ssh.AlgorithmSigner); ok && signer.PublicKey().Type() == ssh.KeyAlgoRSA {
		sig, err = as.SignWithAlgorithm(rand.Reader, data, ssh.KeyAlgoRSASHA512)
	} else {
		sig, err = signer.Sign(rand.Reader, data)
	}
	if err != nil {
		return nil, err
	}
	blob := []byte(magic)
	blob = binary.BigEndian.AppendUint32(blob, version)
	blob = appendString(blob, signer.PublicKey().Marshal())
	blob = appendString(blob, []byte(namespace))
	blob = appendString(blob, nil)
	blob = appendString(blob, []byte(defaultHash))
	blob = appendString(blob, ssh.Marshal(sig))
	enc := base64.StdEncoding.EncodeToString(blob)
	var out bytes.Buffer
	out.WriteString(armorBegin + "\n")
	for len(enc) > lineWrap {
		out.WriteString(enc[:lineWrap] + "\n")
		enc = enc[lineWrap:]
	}
	out.WriteString(enc + "\n" + armorEnd + "\n")
	return out.Bytes(), nil
}
