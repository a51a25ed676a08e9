package v1

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitopskit/kit/examples/api/meta"
)

// ImageUpdateAutomationSpec says which git repository to write the chosen
// images to, where, with which commit and how to push it.
type ImageUpdateAutomationSpec struct {
	// SourceRef names the GitRepository to check out and push to, in the
	// automation's namespace (its URL and credentials are used).
	// +required
	SourceRef CrossNamespaceSourceReference `json:"sourceRef"`

	// GitSpec says what to check out, how to commit and where to push.
	// +required
	GitSpec *GitSpec `json:"git"`

	// Update says what to update; the Setters strategy over the whole
	// repository when not set.
	// +optional
	Update *UpdateStrategy `json:"update,omitempty"`

	// PolicySelector selects the ImagePolicies of the automation's
	// namespace whose images are written; every one when not set.
	// +optional
	PolicySelector *metav1.LabelSelector `json:"policySelector,omitempty"`

	// Interval is how often the automation runs.
	// +required
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
	Interval metav1.Duration `json:"interval"`

	// Suspend stops the automation.
	// +optional
	Suspend bool `json:"suspend,omitempty"`
}

// CrossNamespaceSourceReference names the GitRepository of an automation.
type CrossNamespaceSourceReference struct {
	// APIVersion of the source.
	// +optional
	APIVersion string `json:"apiVersion,omitempty"`
	// Kind of the source: GitRepository.
	// +kubebuilder:validation:Enum=GitRepository
	// +kubebuilder:default=GitRepository
	// +optional
	Kind string `json:"kind,omitempty"`
	// Name of the source.
	// +required
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// Namespace of the source; only the automation's own is accepted.
	// +optional
	Namespace string `json:"namespace,omitempty"`
}

// GitSpec is the git part of an automation. A checkout of anything but a
// branch (a tag, a semver range, a commit, a reference name outside
// refs/heads/) needs spec.git.push.branch: the commit goes on a branch.
// +kubebuilder:validation:XValidation:rule="!has(self.checkout) || (has(self.push) && has(self.push.branch)) || (!has(self.checkout.ref.commit) && (has(self.checkout.ref.name) ? self.checkout.ref.name.startsWith('refs/heads/') : (!has(self.checkout.ref.semver) && !has(self.checkout.ref.tag))))",message="a checkout of a tag, semver range, commit or non-branch reference name needs spec.git.push.branch"
type GitSpec struct {
	// Checkout is what to check out; the GitRepository's spec.ref when not
	// set.
	// +optional
	Checkout *GitCheckoutSpec `json:"checkout,omitempty"`

	// Commit says how the commit is made.
	// +required
	Commit CommitSpec `json:"commit"`

	// Push says where the commit goes; the checked out branch when not
	// set.
	// +optional
	Push *PushSpec `json:"push,omitempty"`
}

// GitCheckoutSpec names what to check out.
type GitCheckoutSpec struct {
	// Reference to check out.
	// +required
	Reference GitCheckoutReference `json:"ref"`
}

// GitCheckoutReference selects the commit a run starts from, with the
// fields and precedence of a GitRepository's spec.ref (and Flux's):
// commit > name > semver > tag > branch.
// +kubebuilder:validation:XValidation:rule="has(self.branch) || has(self.tag) || has(self.semver) || has(self.name) || has(self.commit)",message="one of branch, tag, semver, name or commit is required"
type GitCheckoutReference struct {
	// Branch to check out.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	Branch string `json:"branch,omitempty"`
	// Tag to check out.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	Tag string `json:"tag,omitempty"`
	// SemVer is a semantic version range: the highest matching tag is
	// checked out.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	SemVer string `json:"semver,omitempty"`
	// Name is a full reference name, such as refs/heads/main or
	// refs/pull/42/head.
	// +optional
	// +kubebuilder:validation:Pattern="^refs/.+$"
	// +kubebuilder:validation:MaxLength=255
	Name string `json:"name,omitempty"`
	// Commit is a full commit SHA-1 to check out.
	// +optional
	// +kubebuilder:validation:Pattern="^[0-9a-f]{40}$"
	Commit string `json:"commit,omitempty"`
}

// CommitSpec says how the commit is made.
type CommitSpec struct {
	// Author of the commit.
	// +required
	Author CommitUser `json:"author"`

	// SigningKey names a Secret holding git.asc (an armored OpenPGP
	// private key, with passphrase when encrypted) or identity (an SSH
	// private key) the commit is signed with.
	// +optional
	SigningKey *SigningKey `json:"signingKey,omitempty"`

	// MessageTemplate is a Go text/template of the commit message, given
	// .AutomationObject, .Changed (.FileChanges, .Objects, .Images) and
	// .Values; a default message when empty.
	// +optional
	// +kubebuilder:validation:MaxLength=16384
	MessageTemplate string `json:"messageTemplate,omitempty"`
}

// CommitUser is a commit's author.
type CommitUser struct {
	// Name of the author.
	// +optional
	// +kubebuilder:default=GitopsKit
	// +kubebuilder:validation:MaxLength=256
	Name string `json:"name,omitempty"`
	// Email of the author.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	Email string `json:"email"`
}

// SigningKey names the Secret with a commit signing key.
type SigningKey struct {
	// SecretRef names the Secret.
	// +required
	SecretRef meta.LocalObjectReference `json:"secretRef"`
}

// PushSpec says where the commit is pushed.
type PushSpec struct {
	// Branch to push to (created from the checked out commit when new).
	// +optional
	// +kubebuilder:validation:MaxLength=255
	Branch string `json:"branch,omitempty"`
	// Refspec to push, e.g. "refs/heads/main:refs/heads/auto"; a forcing
	// "+" is refused.
	// +optional
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:XValidation:rule="!self.startsWith('+')",message="a forced refspec is not allowed"
	Refspec string `json:"refspec,omitempty"`
	// Options are push options (git push -o key=value).
	// +optional
	// +kubebuilder:validation:MaxProperties=32
	Options map[string]string `json:"options,omitempty"`
}

// UpdateStrategyName is an update strategy.
// +kubebuilder:validation:Enum=Setters
type UpdateStrategyName string

// UpdateStrategySetters rewrites the fields marked {"$imagepolicy": ...}.
const UpdateStrategySetters UpdateStrategyName = "Setters"

// UpdateStrategy says what is updated.
type UpdateStrategy struct {
	// Strategy is Setters.
	// +optional
	// +kubebuilder:default=Setters
	Strategy UpdateStrategyName `json:"strategy,omitempty"`
	// Path is the folder updated, relative to the repository's root; the
	// root when empty.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Path string `json:"path,omitempty"`
}

// ObservedPolicies are the images of the policies an automation applied,
// by policy name.
type ObservedPolicies map[string]ImageRef

// ImageUpdateAutomationStatus is what the controller observed.
type ImageUpdateAutomationStatus struct {
	// ObservedGeneration is the last generation the controller acted on.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions: Ready, Reconciling, Stalled.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// LastAutomationRunTime is when the automation last ran.
	// +optional
	LastAutomationRunTime *metav1.Time `json:"lastAutomationRunTime,omitempty"`

	// LastPushCommit is the hash of the last commit pushed.
	// +optional
	LastPushCommit string `json:"lastPushCommit,omitempty"`

	// LastPushTime is when it was pushed.
	// +optional
	LastPushTime *metav1.Time `json:"lastPushTime,omitempty"`

	// ObservedPolicies are the images of the selected policies at the
	// last run.
	// +optional
	ObservedPolicies ObservedPolicies `json:"observedPolicies,omitempty"`

	// ObservedSourceRevision is the revision the last run checked out
	// (branch@sha1:<hex>), after its push when it pushed.
	// +optional
	ObservedSourceRevision string `json:"observedSourceRevision,omitempty"`

	meta.ReconcileRequestStatus `json:",inline"`
}

// ImageUpdateAutomation writes the images its ImagePolicies chose to a git
// repository, one commit per run, and pushes it.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=iua
// +kubebuilder:printcolumn:name="Last push",type=string,JSONPath=`.status.lastPushCommit`
// +kubebuilder:printcolumn:name="Pushed",type=date,JSONPath=`.status.lastPushTime`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].message`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ImageUpdateAutomation struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   ImageUpdateAutomationSpec   `json:"spec,omitempty"`
	Status ImageUpdateAutomationStatus `json:"status,omitempty"`
}

// ImageUpdateAutomationList is a list of ImageUpdateAutomations.
// +kubebuilder:object:root=true
type ImageUpdateAutomationList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ImageUpdateAutomation `json:"items"`
}

// GetConditions returns the status conditions.
func (in *ImageUpdateAutomation) GetConditions() []metav1.Condition { return in.Status.Conditions }

// SetConditions replaces the status conditions.
func (in *ImageUpdateAutomation) SetConditions(c []metav1.Condition) { in.Status.Conditions = c }

// IsSuspended reports spec.suspend.
func (in *ImageUpdateAutomation) IsSuspended() bool { return in.Spec.Suspend }

// GetLastHandledReconcileAt returns the last handled reconcile request.
func (in *ImageUpdateAutomation) GetLastHandledReconcileAt() string {
	return in.Status.LastHandledReconcileAt
}

// SetLastHandledReconcileAt records a handled reconcile request.
func (in *ImageUpdateAutomation) SetLastHandledReconcileAt(v string) {
	in.Status.LastHandledReconcileAt = v
}

// GetInterval returns spec.interval.
func (in *ImageUpdateAutomation) GetInterval() time.Duration { return in.Spec.Interval.Duration }
