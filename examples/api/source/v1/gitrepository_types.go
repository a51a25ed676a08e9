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

	// ObservedIgnore is the spec.ignore the artifact was built with.
	// +optional
	ObservedIgnore *string `json:"observedIgnore,omitempty"`

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
