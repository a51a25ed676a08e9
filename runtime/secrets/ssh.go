package secrets

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"

	"golang.org/x/crypto/ssh"
	corev1 "k8s.io/api/core/v1"
)

// The keys SSHFromSecret reads (PasswordKey is the identity's passphrase).
const (
	IdentityKey   = "identity"
	KnownHostsKey = "known_hosts"
)

// SSH is a validated SSH identity and the known_hosts to check servers
// against.
type SSH struct {
	// Identity is the private key as stored (PEM or OpenSSH format).
	Identity []byte
	// Passphrase decrypts Identity, if it is encrypted.
	Passphrase []byte
	// KnownHosts is the known_hosts data, at least one valid entry.
	KnownHosts []byte
	// Signer is the parsed identity.
	Signer ssh.Signer
}

// SSHFromSecret reads identity (a private key), password (its passphrase,
// only needed when it is encrypted) and known_hosts, which is required: a
// client without known_hosts cannot verify the server.
func SSHFromSecret(s *corev1.Secret) (*SSH, error) {
	if s == nil {
		return nil, ErrNilSecret
	}
	id, err := required(s, IdentityKey)
	if err != nil {
		return nil, err
	}
	kh, err := required(s, KnownHostsKey)
	if err != nil {
		return nil, err
	}
	pass, _ := value(s, PasswordKey)
	signer, err := parseIdentity(id, pass)
	if err != nil {
		key := IdentityKey
		if errors.Is(err, errWrongPassphrase) {
			key = PasswordKey
		}
		return nil, keyErr(s, key, ErrInvalidValue, err.Error())
	}
	if err := checkKnownHosts(kh); err != nil {
		return nil, keyErr(s, KnownHostsKey, ErrInvalidValue, err.Error())
	}
	return &SSH{Identity: id, Passphrase: pass, KnownHosts: kh, Signer: signer}, nil
}

// String masks the identity and passphrase.
func (c *SSH) String() string {
	typ := ""
	if c.Signer != nil {
		typ = c.Signer.PublicKey().Type()
	}
	return fmt.Sprintf("SSH{Identity: %s (%s), Passphrase: %s, KnownHosts: %d bytes}",
		mask(c.Identity), typ, mask(c.Passphrase), len(c.KnownHosts))
}

// GoString masks the identity and passphrase.
func (c *SSH) GoString() string { return "&secrets." + c.String() }

var errWrongPassphrase = pemErr("the passphrase does not decrypt the identity")

// parseIdentity parses an SSH private key. The errors of x/crypto/ssh are
// replaced: they are not known to be free of key material.
func parseIdentity(id, pass []byte) (ssh.Signer, error) {
	signer, err := ssh.ParsePrivateKey(id)
	var missing *ssh.PassphraseMissingError
	switch {
	case err == nil:
		return signer, nil
	case errors.As(err, &missing) && len(pass) == 0:
		return nil, pemErr(fmt.Sprintf("the identity is encrypted and no '%s' key holds its passphrase", PasswordKey))
	case errors.As(err, &missing):
		signer, err = ssh.ParsePrivateKeyWithPassphrase(id, pass)
		switch {
		case err == nil:
			return signer, nil
		case errors.Is(err, x509.IncorrectPasswordError):
			return nil, errWrongPassphrase
		}
	}
	return nil, pemErr("not a valid SSH private key (PEM or OpenSSH format)")
}

// checkKnownHosts requires at least one entry and every other line to be
// blank or a comment.
func checkKnownHosts(data []byte) error {
	n, entries := 0, 0
	for line := range bytes.Lines(data) {
		n++
		t := bytes.TrimSpace(line)
		if len(t) == 0 || t[0] == '#' {
			continue
		}
		if _, _, _, _, _, err := ssh.ParseKnownHosts(t); err != nil {
			return pemErr(fmt.Sprintf("line %d is not a valid known_hosts entry", n))
		}
		entries++
	}
	if entries == 0 {
		return pemErr("no known_hosts entry found")
	}
	return nil
}
