// Package sopsfile decrypts SOPS-encrypted files in process with age and
// OpenPGP keys handed over by the caller.
//
// It never consults the environment (SOPS_AGE_KEY*, GNUPGHOME, ~/.gnupg),
// never runs gpg or any other program, and never talks to a KMS: the data key
// is recovered by a key service client that only knows the caller's age
// identities and OpenPGP entities. sops' own Shamir and MAC handling is kept.
package sopsfile
