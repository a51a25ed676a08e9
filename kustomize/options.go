package kustomize

// Defaults for the read limits of Options.
const (
	// DefaultMaxFiles is the number of files a build may read when
	// Options.MaxFiles is zero.
	DefaultMaxFiles = 10_000
	// DefaultMaxBytes is the number of bytes a build may read when
	// Options.MaxBytes is zero. Substitution may produce as many bytes
	// again.
	DefaultMaxBytes = 256 << 20
	// DefaultMaxAliasNodes is the number of nodes YAML aliases may add to
	// a document when Options.MaxAliasNodes is zero, or the document's own
	// node count if that is larger: aliases may at most double a large
	// document.
	DefaultMaxAliasNodes = 10_000
)

// Annotations that opt a single object out of a build step. Set the value
// to "disabled".
const (
	// SubstituteAnnotation turns variable substitution off for the object
	// carrying it.
	SubstituteAnnotation = "kustomize.gitopskit.dev/substitute"
	// DecryptAnnotation turns SOPS decryption off for the file whose first
	// object carries it (in plain text): the encrypted object passes
	// through unchanged.
	DecryptAnnotation = "kustomize.gitopskit.dev/decrypt"
	// Disabled is the value that disables a step.
	Disabled = "disabled"
)

// Options are the per-build knobs. The zero value builds the folder as it
// is: no overlay, no substitution, no decryption, remote bases refused,
// default read limits.
type Options struct {
	// Overlay holds settings applied on top of the folder's own
	// kustomization (or the generated one), without writing to the source.
	Overlay Overlay

	// AllowRemoteBases lets kustomizations reference remote bases and
	// files (git URLs, http(s) URLs). Remote git bases are cloned by
	// kustomize itself, which runs the git program, and files fetched over
	// HTTP escape the read limits: enable this only where that is
	// acceptable. When false, no file naming a remote reference is ever
	// handed to kustomize (*RemoteBaseError), so kustomize never connects
	// anywhere nor runs git.
	AllowRemoteBases bool

	// Ignore holds extra .gitignore-syntax patterns, relative to the build
	// path, for files the generator must not pick up. A .sourceignore file
	// in the source root or any folder below it is honoured as well.
	Ignore []string

	// Substitute, when not nil, expands ${var} references in the built
	// objects.
	Substitute *Substitution

	// Decrypt, when not nil, decrypts SOPS-encrypted files as kustomize
	// reads them.
	Decrypt *Decryption

	// MaxFiles caps the number of files read from the source
	// (DefaultMaxFiles when zero, unlimited when negative).
	MaxFiles int64
	// MaxBytes caps the number of bytes read from the source, and the
	// number of bytes substitution may produce (DefaultMaxBytes when zero,
	// unlimited when negative).
	MaxBytes int64
	// MaxAliasNodes caps the nodes YAML aliases may add to one document of
	// any file the build reads, beyond the document's own node count
	// (DefaultMaxAliasNodes when zero, unlimited when negative). A larger
	// expansion, or an alias inside its own anchor, is an *AliasError.
	MaxAliasNodes int64
}

// Overlay is the set of settings a caller adds to a build, with the
// semantics of Flux's Kustomization spec: the fields that kustomize handles
// (namespace, name prefix and suffix, patches, images, components) are
// merged into the folder's own kustomization in memory, as Flux's
// kustomize-controller does in the file it generates, so they act at the
// same level as the folder's own settings rather than on top of them.
// Labels and Annotations are set on every built object afterwards, as
// Flux's commonMetadata. All fields are optional.
type Overlay struct {
	// Namespace replaces the kustomization's namespace: every namespaced
	// object gets it (Flux's targetNamespace).
	Namespace string
	// NamePrefix and NameSuffix replace the kustomization's own namePrefix
	// and nameSuffix (they are not added to them), and so name references
	// follow. A folder with namePrefix "kustomize-" built with NamePrefix
	// "flux-" gives "flux-guestbook-ui", as in Flux.
	NamePrefix, NameSuffix string
	// Labels are set on every object's metadata after the build and
	// substitution (not on selectors or pod templates, so immutable
	// selectors are never changed), overriding labels of the same key, as
	// Flux's commonMetadata.labels.
	Labels map[string]string
	// Annotations are set on every object's metadata the same way, as
	// Flux's commonMetadata.annotations.
	Annotations map[string]string
	// Patches are strategic merge or JSON 6902 patches, told apart by
	// their content, as kustomize does. They are appended to the
	// kustomization's own patches, so they see objects as that
	// kustomization does: before its namePrefix and namespace apply.
	Patches []Patch
	// Images are merged with the kustomization's own images by Name, as
	// Flux does: an entry for an image the kustomization already rewrites
	// overrides its NewName when set, and its NewTag and Digest together
	// when either is set; other entries are appended.
	Images []Image
	// Components are kustomize components, as paths relative to the
	// build path, inside the source. They are appended to the
	// kustomization's own components.
	Components []string
	// IgnoreMissingComponents skips components that do not exist in the
	// source instead of failing the build (Flux's ignoreMissingComponents).
	// A component path leaving the source is refused all the same.
	IgnoreMissingComponents bool
}

// IsZero reports whether the overlay changes nothing.
func (o Overlay) IsZero() bool {
	return !o.changesKustomization() && len(o.Labels) == 0 && len(o.Annotations) == 0
}

// changesKustomization reports whether the overlay sets a field that is
// merged into the kustomization.
func (o Overlay) changesKustomization() bool {
	return o.Namespace != "" || o.NamePrefix != "" || o.NameSuffix != "" ||
		len(o.Patches) > 0 || len(o.Images) > 0 || len(o.Components) > 0
}

// Patch is an inline patch. A JSON 6902 patch (a list of operations, in
// YAML or JSON) needs a Target; a strategic merge patch names its target
// itself unless Target says otherwise.
type Patch struct {
	Patch  string
	Target *Selector
}

// Selector picks the objects a patch applies to. Empty fields match
// anything; Name and Namespace are regular expressions.
type Selector struct {
	Group, Version, Kind, Name, Namespace string
	LabelSelector, AnnotationSelector     string
}

// Image rewrites the image named Name: NewName replaces the repository,
// NewTag the tag, Digest pins a digest (and wins over NewTag).
type Image struct {
	Name, NewName, NewTag, Digest string
}

// Substitution configures variable expansion (the forms are listed in the
// README: ${var}, defaults, substrings, replacements, ...).
type Substitution struct {
	// Vars are the variables. The reference operator fills them from
	// ConfigMaps and Secrets; values are never logged nor put in errors.
	Vars map[string]string
	// Strict makes a reference to an undefined variable without a default
	// an error (naming the variable, not any value).
	Strict bool
}

// Decryption holds the keys for SOPS decryption.
type Decryption struct {
	// AgeIdentities are age private keys (AGE-SECRET-KEY-1...), one or
	// more per string.
	AgeIdentities []string
	// PGPKeys are armored OpenPGP private keys without passphrase.
	PGPKeys [][]byte
}

func (o Options) maxFiles() int64 { return orDefault(o.MaxFiles, DefaultMaxFiles) }

func (o Options) maxBytes() int64 { return orDefault(o.MaxBytes, DefaultMaxBytes) }

func (o Options) aliasFloor() int64 { return orDefault(o.MaxAliasNodes, DefaultMaxAliasNodes) }

func orDefault(v, def int64) int64 {
	if v == 0 {
		return def
	}
	return v
}
