package kustomize

// Defaults for the read limits of Options.
const (
	// DefaultMaxFiles is the number of files a build may read when
	// Options.MaxFiles is zero.
	DefaultMaxFiles = 10_000
	// DefaultMaxBytes is the number of bytes a build may read when
	// Options.MaxBytes is zero.
	DefaultMaxBytes = 256 << 20
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
	// kustomize itself, which runs the git program: enable this only where
	// that is acceptable. When false, such references are refused before
	// kustomize runs, so no network access happens.
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
	// MaxBytes caps the number of bytes read from the source
	// (DefaultMaxBytes when zero, unlimited when negative).
	MaxBytes int64
}

// Overlay is the set of settings a caller adds to a build, the way Flux's
// Kustomization spec does. All fields are optional.
type Overlay struct {
	// Namespace sets the namespace of every namespaced object.
	Namespace string
	// NamePrefix and NameSuffix are added to object names (and references
	// to them).
	NamePrefix, NameSuffix string
	// Labels are added to every object's metadata (not to selectors or
	// pod templates, so immutable selectors are never changed).
	Labels map[string]string
	// Annotations are added to every object's metadata.
	Annotations map[string]string
	// Patches are strategic merge or JSON 6902 patches, told apart by
	// their content, as kustomize does.
	Patches []Patch
	// Images rewrites container image references.
	Images []Image
	// Components are kustomize components, as paths relative to the
	// build path, inside the source.
	Components []string
}

// IsZero reports whether the overlay changes nothing.
func (o Overlay) IsZero() bool {
	return o.Namespace == "" && o.NamePrefix == "" && o.NameSuffix == "" &&
		len(o.Labels) == 0 && len(o.Annotations) == 0 && len(o.Patches) == 0 &&
		len(o.Images) == 0 && len(o.Components) == 0
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

// Substitution configures variable expansion.
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

func (o Options) maxFiles() int64 {
	if o.MaxFiles == 0 {
		return DefaultMaxFiles
	}
	return o.MaxFiles
}

func (o Options) maxBytes() int64 {
	if o.MaxBytes == 0 {
		return DefaultMaxBytes
	}
	return o.MaxBytes
}
