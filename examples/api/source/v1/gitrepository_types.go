package v1

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitopskit/kit/artifact"
	"github.com/gitopskit/kit/examples/api/meta"
)

// GitRepositorySpec says which repository to fetch, at which reference, how
// to authenticate and verify it, and how often to look for changes.
type GitRepositorySpec struct {
	// URL of the repository: http(s):// or ssh://.
	// +required
	// +kubebuilder:validation:Pattern="^(http|https|ssh)://.*$"
	URL string `json:"url"`

	// SecretRef names a Secret holding the credentials: username and
	// password, bearerToken, or identity and known_hosts for SSH; plus
	// ca.crt, tls.crt and tls.key for HTTPS.
	// +optional
	SecretRef *meta.LocalObjectReference `json:"secretRef,omitempty"`

	// Provider says where the credentials come from: generic, the only
	// one supported, reads them from spec.secretRef. Flux's azure
	// (workload identity) and github (GitHub App) providers are not
	// supported.
	// +optional
	// +kubebuilder:validation:Enum=generic
	// +kubebuilder:default=generic
	Provider string `json:"provider,omitempty"`

	// ProxySecretRef names a Secret with the address of the proxy to reach
	// the remote through (http, https, socks5 or socks5h URL), and
	// optionally its username and password. Submodules are fetched through
	// it too.
	// +optional
	ProxySecretRef *meta.LocalObjectReference `json:"proxySecretRef,omitempty"`

	// Reference is the branch, tag, semver range, reference name or commit
	// to check out. The default branch when empty.
	// +optional
	Reference *GitRepositoryRef `json:"ref,omitempty"`

	// Verification verifies the OpenPGP or SSH signature of the commit or
	// tag against the keys in a Secret.
	// +optional
	Verification *GitRepositoryVerification `json:"verify,omitempty"`

	// Ignore holds .gitignore-syntax patterns of files left out of the
	// artifact, on top of the default VCS and CI patterns and the
	// repository's .sourceignore files.
	// +optional
	Ignore *string `json:"ignore,omitempty"`

	// RecurseSubmodules checks out the repository's submodules too,
	// recursively (at most 8 levels). A submodule's URL must be http(s) or
	// ssh; the credentials of spec.secretRef are sent only to the same
	// scheme and host.
	// +optional
	RecurseSubmodules bool `json:"recurseSubmodules,omitempty"`

	// Include copies the artifacts of other GitRepositories into this
	// one's: a change in an included repository gives a new artifact.
	// +optional
	// +kubebuilder:validation:MaxItems=32
	// +listType=atomic
	Include []GitRepositoryInclude `json:"include,omitempty"`

	// SparseCheckout checks out only these directories (relative to the
	// repository's root, slash-separated).
	// +optional
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=1024
	// +kubebuilder:validation:items:XValidation:rule="!self.startsWith('/') && self != '..' && !self.startsWith('../') && !self.endsWith('/..') && !self.contains('/../')",message="must be a relative path that does not climb with '..'"
	// +listType=atomic
	SparseCheckout []string `json:"sparseCheckout,omitempty"`

	// Interval is how often the repository is checked for a new revision.
	// +required
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
	Interval metav1.Duration `json:"interval"`

	// Timeout bounds one fetch (60s when not set).
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
	Timeout *metav1.Duration `json:"timeout,omitempty"`

	// Suspend stops the controller from reconciling the object.
	// +optional
	Suspend bool `json:"suspend,omitempty"`
}

// GitRepositoryRef selects what to check out. When several fields are set,
// the most specific wins: commit, then name, then semver, then tag, then
// branch.
type GitRepositoryRef struct {
	// Branch to check out.
	// +optional
	Branch string `json:"branch,omitempty"`

	// Tag to check out.
	// +optional
	Tag string `json:"tag,omitempty"`

	// SemVer is a semantic version range: the highest matching tag is
	// checked out.
	// +optional
	SemVer string `json:"semver,omitempty"`

	// Name is a full reference name, such as refs/heads/main,
	// refs/tags/v1.0.0 or refs/pull/42/head.
	// +optional
	// +kubebuilder:validation:Pattern="^refs/.+$"
	Name string `json:"name,omitempty"`

	// Commit is a full commit SHA to check out. With Branch set, the commit
	// must be reachable from it.
	// +optional
	// +kubebuilder:validation:Pattern="^[0-9a-f]{40}([0-9a-f]{24})?$"
	Commit string `json:"commit,omitempty"`
}

// GitRepositoryInclude copies (part of) another GitRepository's artifact
// into a folder of this one's.
type GitRepositoryInclude struct {
	// Repository is the included GitRepository. A repository in another
	// namespace is allowed by gitopsd's cross-namespace policy
	// (--no-cross-namespace-refs, --cross-namespace-selector), as a
	// Kustomization's sourceRef is.
	// +required
	Repository IncludedRepositoryReference `json:"repository"`

	// FromPath is the folder of the included artifact to copy; all of it
	// when empty.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:XValidation:rule="!self.startsWith('/') && self != '..' && !self.startsWith('../') && !self.endsWith('/..') && !self.contains('/../')",message="must be a relative path that does not climb with '..'"
	FromPath string `json:"fromPath,omitempty"`

	// ToPath is the folder of this artifact the files are copied into,
	// replacing what the repository holds there; the included
	// repository's name when empty.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:XValidation:rule="!self.startsWith('/') && self != '..' && !self.startsWith('../') && !self.endsWith('/..') && !self.contains('/../')",message="must be a relative path that does not climb with '..'"
	// +kubebuilder:validation:XValidation:rule="self != '.' && self != './'",message="must name a folder below the repository's root"
	ToPath string `json:"toPath,omitempty"`
}

// IncludedRepositoryReference names the GitRepository an include copies.
type IncludedRepositoryReference struct {
	// Name of the GitRepository.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// Namespace of the GitRepository; the including one's when empty.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	Namespace string `json:"namespace,omitempty"`
}

// GetToPath returns spec.include[].toPath, defaulted to the repository's
// name.
func (in *GitRepositoryInclude) GetToPath() string {
	if in.ToPath == "" {
		return in.Repository.Name
	}
	return in.ToPath
}

// GitVerificationMode says what is verified.
// +kubebuilder:validation:Enum=HEAD;Tag;TagAndHEAD
type GitVerificationMode string

const (
	// VerifyHEAD verifies the signature of the checked out commit.
	VerifyHEAD GitVerificationMode = "HEAD"
	// VerifyTag verifies the signature of the annotated tag.
	VerifyTag GitVerificationMode = "Tag"
	// VerifyTagAndHEAD verifies both.
	VerifyTagAndHEAD GitVerificationMode = "TagAndHEAD"
)

// GitRepositoryVerification configures signature verification.
type GitRepositoryVerification struct {
	// Mode says what is verified (HEAD when empty).
	// +optional
	// +kubebuilder:default=HEAD
	Mode GitVerificationMode `json:"mode,omitempty"`

	// SecretRef names a Secret whose values are armored OpenPGP public
	// keys or SSH public keys (authorized_keys lines) trusted to sign.
	// +required
	SecretRef meta.LocalObjectReference `json:"secretRef"`
}

// GitRepositoryStatus is what the controller observed.
type GitRepositoryStatus struct {
	// ObservedGeneration is the last generation the controller acted on.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions: Ready, Reconciling, Stalled, ArtifactInStorage,
	// SourceVerified.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// Artifact is the packaged tree of the last fetched revision.
	// +optional
	Artifact *artifact.Artifact `json:"artifact,omitempty"`

	// IncludedArtifacts are the artifacts of spec.include, in order, as
	// they were copied into the artifact.
	// +optional
	// +kubebuilder:validation:MaxItems=32
	IncludedArtifacts []artifact.Artifact `json:"includedArtifacts,omitempty"`

	// ObservedIgnore is the spec.ignore the artifact was built with.
	// +optional
	ObservedIgnore *string `json:"observedIgnore,omitempty"`

	// ObservedRecurseSubmodules is the spec.recurseSubmodules the artifact
	// was built with.
	// +optional
	ObservedRecurseSubmodules bool `json:"observedRecurseSubmodules,omitempty"`

	// ObservedInclude is the spec.include the artifact was built with.
	// +optional
	// +kubebuilder:validation:MaxItems=32
	ObservedInclude []GitRepositoryInclude `json:"observedInclude,omitempty"`

	// ObservedSparseCheckout is the spec.sparseCheckout the artifact was
	// built with.
	// +optional
	// +kubebuilder:validation:MaxItems=256
	ObservedSparseCheckout []string `json:"observedSparseCheckout,omitempty"`

	// SourceVerificationMode is the spec.verify.mode the artifact's
	// revision was verified with; empty when it was not verified.
	// +optional
	SourceVerificationMode *GitVerificationMode `json:"sourceVerificationMode,omitempty"`

	meta.ReconcileRequestStatus `json:",inline"`
}

// GitRepository keeps an artifact of a Git repository's reference up to
// date.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=gitrepo
// +kubebuilder:printcolumn:name="URL",type=string,JSONPath=`.spec.url`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].message`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type GitRepository struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   GitRepositorySpec   `json:"spec,omitempty"`
	Status GitRepositoryStatus `json:"status,omitempty"`
}

// GitRepositoryList is a list of GitRepositories.
// +kubebuilder:object:root=true
type GitRepositoryList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []GitRepository `json:"items"`
}

// GetConditions returns the status conditions.
func (in *GitRepository) GetConditions() []metav1.Condition { return in.Status.Conditions }

// SetConditions replaces the status conditions.
func (in *GitRepository) SetConditions(c []metav1.Condition) { in.Status.Conditions = c }

// GetArtifact returns the latest artifact, or nil.
func (in *GitRepository) GetArtifact() *artifact.Artifact { return in.Status.Artifact }

// IsSuspended reports spec.suspend.
func (in *GitRepository) IsSuspended() bool { return in.Spec.Suspend }

// GetLastHandledReconcileAt returns the last handled reconcile request.
func (in *GitRepository) GetLastHandledReconcileAt() string {
	return in.Status.LastHandledReconcileAt
}

// SetLastHandledReconcileAt records a handled reconcile request.
func (in *GitRepository) SetLastHandledReconcileAt(v string) {
	in.Status.LastHandledReconcileAt = v
}

// GetInterval returns spec.interval.
func (in *GitRepository) GetInterval() time.Duration { return in.Spec.Interval.Duration }

// GetTimeout returns spec.timeout, or DefaultTimeout.
func (in *GitRepository) GetTimeout() time.Duration { return timeoutOr(in.Spec.Timeout) }

// GitProviderGeneric is the only spec.provider of a GitRepository:
// credentials from spec.secretRef.
const GitProviderGeneric = "generic"
