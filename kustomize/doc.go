// Package kustomize turns a folder of a source tree, or manifests held in
// memory, into the objects a server-side apply engine applies, safely.
//
// [Build] runs kustomize (sigs.k8s.io/kustomize/api, krusty) on a read-only
// filesystem rooted at the source: absolute paths, ".." and symlinks leading
// outside are refused with a *[PathEscapeError]. Remote loading is
// impossible rather than merely scanned for: every kustomization and builtin
// plugin configuration kustomize reads, at any depth and by any route, is
// inspected as the filesystem serves it, and one that names a remote base or
// file is never served (*[RemoteBaseError]) unless [Options.AllowRemoteBases];
// so no connection is made and no git program runs. Exec, Go and container
// plugins and KRM functions are disabled ([ErrPluginDisabled]); a kustomize
// panic comes back as an error wrapping [ErrPanic]; reads are bounded
// ([ErrLimit]), and so is what YAML aliases expand to, in every file
// (*[AliasError]). When the context ends, every file access fails and Build
// returns once kustomize has stopped.
//
// A folder without a kustomization is built from the Kubernetes manifests in
// it and below (honouring .sourceignore files and [Options.Ignore]). Caller
// settings ([Overlay]) are merged into the folder's kustomization in memory
// with the semantics of Flux's Kustomization: namespace, name prefix and
// suffix replace the folder's own, patches and components join its own,
// images merge by name, labels and annotations are set on every object
// after the build. The source is never written to.
//
// [BuildManifests] does the same for a YAML stream in memory: a Helm
// post-renderer, or, with only a [Substitution], Flux's envsubst.
//
// [SetImages] is image automation's write-back: it rewrites the values
// marked with Flux's {"$imagepolicy": "namespace:name"} comments in the
// YAML files of a folder, byte for byte around them, inside an os.Root,
// and reports what changed, what it would not guess at and which markers
// name a policy it was not given.
//
// With [Options.Decrypt], SOPS-encrypted files (YAML, JSON, dotenv, INI) are
// decrypted in process with the caller's age and OpenPGP keys as kustomize
// reads them. With [Options.Substitute], ${var} references in the built
// objects are expanded from the caller's variables, in all the forms Flux
// supports (defaults, substrings, replacements, ...); a malformed one is an
// error, never kept as written. Objects opt out of either step with
// [DecryptAnnotation] or [SubstituteAnnotation].
//
// Errors never carry variable values or key material: they name objects as
// written before substitution, variables, fields and lines.
//
// # The one global this package touches
//
// kustomize keeps its OpenAPI schema in package variables of
// sigs.k8s.io/kustomize/kyaml/openapi and sets it from a kustomization's
// `openapi:` field without restoring it. This package confines it: builds
// that keep the default schema share it; a build that sets one (detected at
// any depth as its kustomizations are read) runs again on its own, starting
// from openapi.ResetOpenAPI and the built-in schema and ending with
// openapi.ResetOpenAPI, so no other build sees it. Waiting for that turn
// ends with the build's context. Code outside this package that sets kyaml's
// schema itself would see it reset by such a build.
package kustomize
