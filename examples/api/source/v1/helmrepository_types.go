package v1

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitopskit/kit/artifact"
	"github.com/gitopskit/kit/examples/api/meta"
)

// HelmRepositoryKind is the kind of a HelmRepository, as sourceRef.kind
// names it.
const HelmRepositoryKind = "HelmRepository"

// Types of a HelmRepository (spec.type).
const (
	// HelmRepositoryTypeDefault is an HTTP(S) chart repository serving an
	// index.yaml; its index is the artifact.
	HelmRepositoryTypeDefault = "default"
	// HelmRepositoryTypeOCI is an OCI registry holding charts pushed by
	// helm push; it has no artifact, only configuration for its charts.
	HelmRepositoryTypeOCI = "oci"
)

// HelmRepositorySpec says where a chart repository is, how to authenticate
// to it, and how often to look for a new index.
// +kubebuilder:validation:XValidation:rule="(has(self.type) && self.type == 'oci') == self.url.startsWith('oci://')",message="spec.url must start with oci:// exactly when spec.type is oci"
type HelmRepositorySpec struct {
	// URL of the repository: http(s)://… for a default repository (the
	// index is <url>/index.yaml), oci://<host>/<path> for an OCI one.
	// +required
	// +kubebuilder:validation:Pattern="^(http|https|oci)://.*$"
	// +kubebuilder:validation:MaxLength=2048
	URL string `json:"url"`

	// Type of the repository: default (HTTP(S) with an index.yaml) or oci.
	// +optional
	// +kubebuilder:validation:Enum=default;oci
	// +kubebuilder:default=default
	Type string `json:"type,omitempty"`

	// SecretRef names a Secret with the credentials: username and
	// password (HTTP basic), or bearerToken. For an oci repository it may
	// instead be of type kubernetes.io/dockerconfigjson.
	// +optional
	SecretRef *meta.LocalObjectReference `json:"secretRef,omitempty"`

	// CertSecretRef names a Secret with ca.crt, and optionally tls.crt and
	// tls.key, for the repository's TLS.
	// +optional
	CertSecretRef *meta.LocalObjectReference `json:"certSecretRef,omitempty"`

	// PassCredentials sends the credentials to every host the index links
	// charts on, not only the repository's own (Helm's
	// --pass-credentials).
	// +optional
	PassCredentials bool `json:"passCredentials,omitempty"`

	// Insecure allows plain HTTP to an oci repository's registry.
	// +optional
	Insecure bool `json:"insecure,omitempty"`

	// Interval is how often the index is fetched for changes.
	// +required
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
	Interval metav1.Duration `json:"interval"`

	// Timeout bounds one index fetch or chart download (60s when not
	// set).
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
	Timeout *metav1.Duration `json:"timeout,omitempty"`

	// Suspend stops the controller from reconciling the object.
	// +optional
	Suspend bool `json:"suspend,omitempty"`
}

// HelmRepositoryStatus is what the controller observed.
type HelmRepositoryStatus struct {
	// ObservedGeneration is the last generation the controller acted on.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions: Ready, Reconciling, Stalled, ArtifactInStorage.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// URL is the download link of the stored index: status.artifact.url,
	// kept here for Flux's field.
	// +optional
	URL string `json:"url,omitempty"`

	// Artifact is the repository's index.yaml as fetched; its revision is
	// sha256:<hex> of the index. None for an oci repository.
	// +optional
	Artifact *artifact.Artifact `json:"artifact,omitempty"`

	meta.ReconcileRequestStatus `json:",inline"`
}

// HelmRepository keeps the index of a Helm chart repository as an
// artifact, or, for an OCI registry, the configuration its HelmCharts pull
// with.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=helmrepo
// +kubebuilder:printcolumn:name="URL",type=string,JSONPath=`.spec.url`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].message`
type HelmRepository struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   HelmRepositorySpec   `json:"spec,omitempty"`
	Status HelmRepositoryStatus `json:"status,omitempty"`
}

// HelmRepositoryList is a list of HelmRepositories.
// +kubebuilder:object:root=true
type HelmRepositoryList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []HelmRepository `json:"items"`
}

// IsOCI reports whether the repository is of type oci.
func (in *HelmRepository) IsOCI() bool { return in.Spec.Type == HelmRepositoryTypeOCI }

// GetConditions returns the status conditions.
func (in *HelmRepository) GetConditions() []metav1.Condition { return in.Status.Conditions }

// SetConditions replaces the status conditions.
func (in *HelmRepository) SetConditions(c []metav1.Condition) { in.Status.Conditions = c }

// GetArtifact returns the stored index, or nil (always nil for an oci
// repository).
func (in *HelmRepository) GetArtifact() *artifact.Artifact { return in.Status.Artifact }

// IsSuspended reports spec.suspend.
func (in *HelmRepository) IsSuspended() bool { return in.Spec.Suspend }

// GetLastHandledReconcileAt returns the last handled reconcile request.
func (in *HelmRepository) GetLastHandledReconcileAt() string {
	return in.Status.LastHandledReconcileAt
}

// SetLastHandledReconcileAt records a handled reconcile request.
func (in *HelmRepository) SetLastHandledReconcileAt(v string) {
	in.Status.LastHandledReconcileAt = v
}

// GetInterval returns spec.interval.
func (in *HelmRepository) GetInterval() time.Duration { return in.Spec.Interval.Duration }

// GetTimeout returns spec.timeout, or DefaultTimeout.
func (in *HelmRepository) GetTimeout() time.Duration { return timeoutOr(in.Spec.Timeout) }
