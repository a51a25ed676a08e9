package image

import (
	"bytes"
	"context"
	"fmt"

	"github.com/ProtonMail/go-crypto/openpgp"
	"golang.org/x/crypto/ssh"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	controllers "github.com/gitopskit/kit/examples/internal/controller"
	"github.com/gitopskit/kit/git"
	"github.com/gitopskit/kit/git/verify"
)

// Keys of a signing key Secret.
const (
	// signingKeyOpenPGP holds an armored OpenPGP private key.
	signingKeyOpenPGP = "git.asc"
	// signingKeySSH holds an SSH private key (OpenSSH or PEM).
	signingKeySSH = "identity"
	// signingKeyPassphrase decrypts either, when encrypted.
	signingKeyPassphrase = "passphrase"
)

// signer reads the commit signing key from the Secret name: git.asc (an
// OpenPGP key) or identity (an SSH key), with an optional passphrase.
// The passphrase is masked in rep.
func signer(ctx context.Context, c client.Client, namespace, name string, rep *controllers.Reporter) (git.Signer, error) {
	var s corev1.Secret
	key := client.ObjectKey{Namespace: namespace, Name: name}
	if err := c.Get(ctx, key, &s); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("signing key secret '%s' not found", key)
		}
		return nil, fmt.Errorf("reading signing key secret '%s': %w", key, err)
	}
	pass := s.Data[signingKeyPassphrase]
	rep.Mask(string(pass))
	if armored := s.Data[signingKeyOpenPGP]; len(armored) > 0 {
		ents, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(armored))
		if err != nil || len(ents) == 0 || ents[0].PrivateKey == nil {
			return nil, fmt.Errorf("secret '%s': %s holds no armored OpenPGP private key", key, signingKeyOpenPGP)
		}
		e := ents[0]
		if e.PrivateKey.Encrypted {
			if len(pass) == 0 {
				return nil, fmt.Errorf("secret '%s': the OpenPGP key is encrypted and %s is empty", key, signingKeyPassphrase)
			}
			if err := e.DecryptPrivateKeys(pass); err != nil {
				return nil, fmt.Errorf("secret '%s': the passphrase does not decrypt the OpenPGP key", key)
			}
		}
		return verify.NewOpenPGPSigner(e), nil
	}
	if id := s.Data[signingKeySSH]; len(id) > 0 {
		var (
			sg  ssh.Signer
			err error
		)
		if len(pass) > 0 {
			sg, err = ssh.ParsePrivateKeyWithPassphrase(id, pass)
		} else {
			sg, err = ssh.ParsePrivateKey(id)
		}
		if err != nil {
			// Never quote the parser: it may echo key material.
			return nil, fmt.Errorf("secret '%s': %s holds no usable SSH private key", key, signingKeySSH)
		}
		return verify.NewSSHSigner(sg), nil
	}
	return nil, fmt.Errorf("secret '%s' has neither %s nor %s", key, signingKeyOpenPGP, signingKeySSH)
}
