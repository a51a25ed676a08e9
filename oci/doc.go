// Package oci moves configuration in and out of OCI registries in the
// format Flux uses, so an artifact pushed by either tool is pulled by the
// other, and refuses artifacts that are not signed by whom the caller trusts.
//
// An artifact is an OCI image manifest whose config blob has the media type
// ConfigMediaType and whose single layer is a tar.gz of media type
// ContentMediaType, built reproducibly by artifact/archive, with the
// annotations org.opencontainers.image.source, .revision and .created.
// Pull extracts the layer with the bounded, atomic extraction of
// artifact/untar, verifying the layer's size and digest while it streams,
// and returns Flux's revision "<tag>@sha256:<manifest hex>".
//
// A Client carries the credentials and transport: anonymous, basic, bearer
// token, a docker config.json (the content of a kubernetes.io/dockerconfigjson
// Secret) or any authn.Keychain; custom CAs and client certificates; plain
// HTTP only WithInsecure; an explicit proxy (WithProxy); retries with backoff on 408, 429, 5xx and broken
// connections; a per-call timeout; the User-Agent gitopskit-oci/<version>.
// Errors never contain credentials: URLs lose their user info and query
// strings, and configured secrets are masked.
//
// Verification accepts cosign's classic signatures (the sha256-<hex>.sig
// tag), made with a key (checked with public keys) or keyless (a Fulcio
// certificate and a Rekor bundle in the layer's annotations), and sigstore
// bundles attached as OCI referrers (cosign's new bundle format). Keyless
// signatures of both formats are checked offline with sigstore-go against
// a trusted root the caller provides and an expected issuer and subject. ErrNoSignature and *VerificationError (ErrUntrusted)
// tell unsigned from untrusted.
//
// The ocitest package runs a registry in process for tests.
package oci
