package v1

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitopskit/kit/examples/api/meta"
)

// DefaultExclusion is the exclusionList when none is given: cosign
// signature tags.
const DefaultExclusion = `^.*\.sig$`

// ImageRepositorySpec says which image's tags to scan, how to reach the
// registry and how often.
type ImageRepositorySpec struct {
	// Image is the image repository to scan, host/path, without tag or
	// digest (a Docker Hub name such as "nginx" means
	// index.docker.io/library/nginx).
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:Pattern="^[a-zA-Z0-9][a-zA-Z0-9._:/-]*$"
	// +kubebuilder:validation:XValidation:rule="!self.contains('@') && !self.contains('://')",message="image must be host/path, without scheme, credentials or digest"
	Image string `json:"image"`

	// Interval is how often the tags are scanned.
	// +required
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
	Interval metav1.Duration `json:"interval"`

	// Timeout bounds one scan (60s when not set).
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
	Timeout *metav1.Duration `json:"timeout,omitempty"`

	// SecretRef names a Secret of type kubernetes.io/dockerconfigjson with
	// the registry credentials.
	// +optional
	SecretRef *meta.LocalObjectReference `json:"secretRef,omitempty"`

	// CertSecretRef names a Secret with ca.crt, and optionally tls.crt and
	// tls.key, for the registry's TLS.
	// +optional
	CertSecretRef *meta.LocalObjectReference `json:"certSecretRef,omitempty"`

	// ProxySecretRef names a Secret with the address of the proxy to reach
	// the registry through, and optionally its username and password.
	// +optional
	ProxySecretRef *meta.LocalObjectReference `json:"proxySecretRef,omitempty"`

	// Insecure allows plain HTTP to the registry.
	// +optional
	Insecure bool `json:"insecure,omitempty"`

	// ExclusionList holds regular expressions of tags left out of the
	// scan; ^.*\.sig$ when not set. Signature, attestation and SBOM tags
	// are left out whatever it says.
	// +optional
	// +kubebuilder:default:={"^.*\\.sig$"}
	// +kubebuilder:validation:MaxItems=25
	// +kubebuilder:validation:items:MaxLength=1024
	// +listType=atomic
	ExclusionList []string `json:"exclusionList,omitempty"`

	// Suspend stops the controller from scanning.
	// +optional
	Suspend bool `json:"suspend,omitempty"`
}

// ScanResult is the outcome of the last scan.
type ScanResult struct {
	// Revision is a digest (sha256:<hex>) of the sorted tag list: it
	// changes exactly when the tags do.
	// +optional
	Revision string `json:"revision,omitempty"`

	// TagCount is the number of tags found (after the exclusion list).
	TagCount int `json:"tagCount"`

	// ScanTime is when the scan ended.
	// +optional
	ScanTime metav1.Time `json:"scanTime,omitempty"`

	// LatestTags are the 10 highest tags in lexical order, highest first.
	// +optional
	// +listType=atomic
	LatestTags []string `json:"latestTags,omitempty"`
}

// ImageRepositoryStatus is what the controller observed.
type ImageRepositoryStatus struct {
	// ObservedGeneration is the last generation the controller acted on.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions: Ready, Reconciling, Stalled.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// CanonicalImageName is the image's full name (host/path, Docker
	// Hub's defaults filled in).
	// +optional
	CanonicalImageName string `json:"canonicalImageName,omitempty"`

	// ObservedExclusionList is the exclusion list of the last scan.
	// +optional
	// +listType=atomic
	ObservedExclusionList []string `json:"observedExclusionList,omitempty"`

	// LastScanResult is the outcome of the last successful scan.
	// +optional
	LastScanResult *ScanResult `json:"lastScanResult,omitempty"`

	meta.ReconcileRequestStatus `json:",inline"`
}

// ImageRepository scans the tags of an image repository.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=imagerepo
// +kubebuilder:printcolumn:name="Image",type=string,JSONPath=`.spec.image`
// +kubebuilder:printcolumn:name="Tags",type=integer,JSONPath=`.status.lastScanResult.tagCount`
// +kubebuilder:printcolumn:name="Last scan",type=date,JSONPath=`.status.lastScanResult.scanTime`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].message`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ImageRepository struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   ImageRepositorySpec   `json:"spec,omitempty"`
	Status ImageRepositoryStatus `json:"status,omitempty"`
}

// ImageRepositoryList is a list of ImageRepositories.
// +kubebuilder:object:root=true
type ImageRepositoryList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ImageRepository `json:"items"`
}

// GetConditions returns the status conditions.
func (in *ImageRepository) GetConditions() []metav1.Condition { return in.Status.Conditions }

// SetConditions replaces the status conditions.
func (in *ImageRepository) SetConditions(c []metav1.Condition) { in.Status.Conditions = c }

// IsSuspended reports spec.suspend.
func (in *ImageRepository) IsSuspended() bool { return in.Spec.Suspend }

// GetLastHandledReconcileAt returns the last handled reconcile request.
func (in *ImageRepository) GetLastHandledReconcileAt() string {
	return in.Status.LastHandledReconcileAt
}

// SetLastHandledReconcileAt records a handled reconcile request.
func (in *ImageRepository) SetLastHandledReconcileAt(v string) {
	in.Status.LastHandledReconcileAt = v
}

// GetInterval returns spec.interval.
func (in *ImageRepository) GetInterval() time.Duration { return in.Spec.Interval.Duration }

// GetTimeout returns spec.timeout, or DefaultTimeout.
func (in *ImageRepository) GetTimeout() time.Duration { return timeoutOr(in.Spec.Timeout) }

// GetExclusionList returns spec.exclusionList, or DefaultExclusion when it
// is not set (an object written before the default existed).
func (in *ImageRepository) GetExclusionList() []string {
	if in.Spec.ExclusionList == nil {
		return []string{DefaultExclusion}
	}
	return in.Spec.ExclusionList
}
