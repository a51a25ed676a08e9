// Package verify checks OpenPGP and SSH signatures of git commits and tags.
//
// Build a KeyRing from armored OpenPGP public keys and SSH authorized_keys
// lines, then call Verify with the git.Commit a checkout returned and a
// Mode: ModeHead (the commit), ModeTag (the annotated tag the checkout went
// through) or ModeTagAndHead (both). The Result names the fingerprint of the
// key that verified each object; failures are ErrUnsigned, ErrBadSignature or
// ErrUnknownKey.
//
// SSH signatures are read in git's sshsig format with namespace "git"
// (sha256 or sha512; RSA only with SHA-2). NewOpenPGPSigner and NewSSHSigner
// produce signatures Verify accepts, for signed commits and tags.
package verify
