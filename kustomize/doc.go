// Package kustomize turns a folder of a source tree into the objects a
// server-side apply engine applies, safely.
//
// [Build] runs kustomize (sigs.k8s.io/kustomize/api, krusty) on a read-only
// filesystem rooted at the source: absolute paths, ".." and symlinks leading
// outside are refused with a *[PathEscapeError]; remote bases are refused
// (*[RemoteBaseError]) unless [Options.AllowRemoteBases]; exec, Go and
// container plugins and KRM functions are disabled; a kustomize panic comes
// back as an error wrapping [ErrPanic]; reads are bounded ([ErrLimit]).
//
// A folder without a kustomization is built from the Kubernetes manifests in
// it and below (honouring .sourceignore files and [Options.Ignore]). Caller
// settings ([Overlay]: namespace, name prefix and suffix, labels,
// annotations, patches, images, components) are layered on in memory; the
// source is never written to.
//
// With [Options.Decrypt], SOPS-encrypted files (YAML, JSON, dotenv, INI) are
// decrypted in process with the caller's age and OpenPGP keys as kustomize
// reads them. With [Options.Substitute], ${var} references in the built
// objects are expanded from the caller's variables. Objects opt out of
// either step with [DecryptAnnotation] or [SubstituteAnnotation].
//
// Errors never carry variable values or key material.
package kustomize
