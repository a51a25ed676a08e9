package v1

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitopskit/kit/examples/api/meta"
)

// ImagePolicySpec says which ImageRepository's tags to choose from and how.
// +kubebuilder:validation:XValidation:rule="self.digestReflectionPolicy != 'Always' || has(self.interval)",message="spec.interval is required when spec.digestReflectionPolicy is Always"
type ImagePolicySpec struct {
	// ImageRepositoryRef names the ImageRepository whose tags are chosen
	// from, in the policy's namespace.
	// +required
	ImageRepositoryRef meta.LocalObjectReference `json:"imageRepositoryRef"`

	// Policy says how the latest tag is chosen.
	// +required
	Policy ImagePolicyChoice `json:"policy"`

	// FilterTags keeps, and optionally rewrites, the tags the policy
	// compares.
	// +optional
	FilterTags *TagFilter `json:"filterTags,omitempty"`

	// DigestReflectionPolicy says when the chosen tag's digest is looked
	// up into status.latestRef.digest: Always (every interval, so a moved
	// tag is seen), IfNotPresent (once per tag) or Never (the default).
	// +optional
	// +kubebuilder:default=Never
	DigestReflectionPolicy ReflectionPolicy `json:"digestReflectionPolicy,omitempty"`

	// Interval is how often the digest is looked up again with
	// digestReflectionPolicy Always; otherwise the policy is evaluated
	// when its ImageRepository's scan result changes.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
	Interval *metav1.Duration `json:"interval,omitempty"`

	// Suspend stops the controller from evaluating the policy.
	// +optional
	Suspend bool `json:"suspend,omitempty"`
}

// ReflectionPolicy says when a tag's digest is looked up.
// +kubebuilder:validation:Enum=Always;IfNotPresent;Never
type ReflectionPolicy string

const (
	// ReflectAlways looks the digest up every interval.
	ReflectAlways ReflectionPolicy = "Always"
	// ReflectIfNotPresent looks the digest up when the tag changes.
	ReflectIfNotPresent ReflectionPolicy = "IfNotPresent"
	// ReflectNever never looks the digest up.
	ReflectNever ReflectionPolicy = "Never"
)

// ImagePolicyChoice is exactly one of SemVer, Alphabetical and Numerical.
// +kubebuilder:validation:XValidation:rule="(has(self.semver) ? 1 : 0) + (has(self.alphabetical) ? 1 : 0) + (has(self.numerical) ? 1 : 0) == 1",message="exactly one of semver, alphabetical and numerical must be set"
type ImagePolicyChoice struct {
	// SemVer chooses the highest version in a range.
	// +optional
	SemVer *SemVerPolicy `json:"semver,omitempty"`
	// Alphabetical chooses the last tag in byte order (or the first).
	// +optional
	Alphabetical *AlphabeticalPolicy `json:"alphabetical,omitempty"`
	// Numerical chooses the greatest number (or the smallest).
	// +optional
	Numerical *NumericalPolicy `json:"numerical,omitempty"`
}

// SemVerPolicy chooses by semantic version.
type SemVerPolicy struct {
	// Range is a Masterminds/semver range, e.g. ">=1.0.0 <2.0.0" or "*".
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	Range string `json:"range"`
}

// AlphabeticalPolicy chooses by byte order.
type AlphabeticalPolicy struct {
	// Order is asc (the last tag is the latest, the default) or desc.
	// +optional
	// +kubebuilder:validation:Enum=asc;desc
	// +kubebuilder:default=asc
	Order string `json:"order,omitempty"`
}

// NumericalPolicy chooses by number.
type NumericalPolicy struct {
	// Order is asc (the greatest number is the latest, the default) or
	// desc.
	// +optional
	// +kubebuilder:validation:Enum=asc;desc
	// +kubebuilder:default=asc
	Order string `json:"order,omitempty"`
}

// TagFilter keeps the tags a pattern matches and compares a value
// extracted from them.
type TagFilter struct {
	// Pattern is a regular expression (RE2) tags must match.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Pattern string `json:"pattern,omitempty"`
	// Extract is the value compared, built from the match ("$ts",
	// "${version}"); the whole tag when empty.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	Extract string `json:"extract,omitempty"`
}

// ImageRef is a chosen image.
type ImageRef struct {
	// Name is the image's name (status.canonicalImageName of the
	// ImageRepository).
	Name string `json:"name"`
	// Tag is the chosen tag.
	Tag string `json:"tag"`
	// Digest is the tag's manifest digest, when reflected.
	// +optional
	Digest string `json:"digest,omitempty"`
}

// String returns name:tag, with @digest when there is one.
func (r ImageRef) String() string {
	s := r.Name + ":" + r.Tag
	if r.Digest != "" {
		s += "@" + r.Digest
	}
	return s
}

// ImagePolicyStatus is what the controller observed.
type ImagePolicyStatus struct {
	// ObservedGeneration is the last generation the controller acted on.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions: Ready, Reconciling, Stalled.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// LatestRef is the image the policy chose.
	// +optional
	LatestRef *ImageRef `json:"latestRef,omitempty"`

	// ObservedPreviousRef is the image chosen before LatestRef.
	// +optional
	ObservedPreviousRef *ImageRef `json:"observedPreviousRef,omitempty"`

	// ObservedScanRevision is the ImageRepository's scan revision the
	// policy was last evaluated against.
	// +optional
	ObservedScanRevision string `json:"observedScanRevision,omitempty"`

	meta.ReconcileRequestStatus `json:",inline"`
}

// ImagePolicy chooses the latest image of an ImageRepository's tags.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=imgpol
// +kubebuilder:printcolumn:name="Image",type=string,JSONPath=`.status.latestRef.name`
// +kubebuilder:printcolumn:name="Tag",type=string,JSONPath=`.status.latestRef.tag`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].message`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ImagePolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   ImagePolicySpec   `json:"spec,omitempty"`
	Status ImagePolicyStatus `json:"status,omitempty"`
}

// ImagePolicyList is a list of ImagePolicies.
// +kubebuilder:object:root=true
type ImagePolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ImagePolicy `json:"items"`
}

// GetConditions returns the status conditions.
func (in *ImagePolicy) GetConditions() []metav1.Condition { return in.Status.Conditions }

// SetConditions replaces the status conditions.
func (in *ImagePolicy) SetConditions(c []metav1.Condition) { in.Status.Conditions = c }

// IsSuspended reports spec.suspend.
func (in *ImagePolicy) IsSuspended() bool { return in.Spec.Suspend }

// GetLastHandledReconcileAt returns the last handled reconcile request.
func (in *ImagePolicy) GetLastHandledReconcileAt() string {
	return in.Status.LastHandledReconcileAt
}

// SetLastHandledReconcileAt records a handled reconcile request.
func (in *ImagePolicy) SetLastHandledReconcileAt(v string) {
	in.Status.LastHandledReconcileAt = v
}

// GetInterval returns spec.interval, or 0: without it the policy is
// evaluated only when its ImageRepository's scan changes.
func (in *ImagePolicy) GetInterval() time.Duration {
	if in.Spec.Interval == nil {
		return 0
	}
	return in.Spec.Interval.Duration
}
