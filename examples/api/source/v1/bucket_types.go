package v1

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitopskit/kit/artifact"
	"github.com/gitopskit/kit/examples/api/meta"
)

// BucketKind is the kind of a Bucket, as sourceRef.kind names it.
const BucketKind = "Bucket"

// BucketProviderGeneric is the only spec.provider of a Bucket: static
// credentials from spec.secretRef, or anonymous access.
const BucketProviderGeneric = "generic"

// BucketSpec says which folder of which S3-compatible bucket to package,
// how to reach and authenticate to its endpoint, and how often to look for
// changes.
type BucketSpec struct {
	// Provider says where the credentials come from: generic, the only one
	// supported, reads static keys from spec.secretRef (anonymous without
	// it). Flux's aws, gcp and azure providers authenticate as the
	// workload's cloud identity, which needs each cloud's metadata and
	// token endpoints; they may come once gitopskit has a module for
	// those exchanges.
	// +optional
	// +kubebuilder:validation:Enum=generic
	// +kubebuilder:default=generic
	Provider string `json:"provider,omitempty"`

	// BucketName is the name of the bucket.
	// +required
	// +kubebuilder:validation:MinLength=3
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern="^[a-zA-Z0-9][a-zA-Z0-9._:-]*[a-zA-Z0-9]$"
	BucketName string `json:"bucketName"`

	// Endpoint is the S3 endpoint, host[:port] without a scheme or a path
	// ("s3.eu-west-1.amazonaws.com", "minio.minio.svc:9000"). HTTPS unless
	// spec.insecure.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern="^(\\[[0-9a-fA-F:.]+\\]|[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?)(:[0-9]{1,5})?$"
	Endpoint string `json:"endpoint"`

	// Region requests are signed for; when empty, the endpoint is asked
	// for the bucket's location.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	Region string `json:"region,omitempty"`

	// Prefix selects the objects whose keys start with it (a string
	// prefix: end it with "/" for a folder). Files keep their whole key
	// as their path in the artifact.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Prefix string `json:"prefix,omitempty"`

	// Insecure allows plain HTTP to the endpoint. Certificates are always
	// verified over HTTPS.
	// +optional
	Insecure bool `json:"insecure,omitempty"`

	// SecretRef names a Secret with the keys accesskey and secretkey, and
	// optionally sessiontoken (temporary credentials). Anonymous without
	// it.
	// +optional
	SecretRef *meta.LocalObjectReference `json:"secretRef,omitempty"`

	// CertSecretRef names a Secret with ca.crt, and optionally tls.crt and
	// tls.key, for the endpoint's TLS.
	// +optional
	CertSecretRef *meta.LocalObjectReference `json:"certSecretRef,omitempty"`

	// ProxySecretRef names a Secret with the address of the proxy to reach
	// the endpoint through (http, https, socks5 or socks5h URL), and
	// optionally its username and password.
	// +optional
	ProxySecretRef *meta.LocalObjectReference `json:"proxySecretRef,omitempty"`

	// Ignore holds .gitignore-syntax patterns, matched against whole
	// keys, of objects left out of the artifact; applied after the
	// defaults and the .sourceignore objects, before anything is
	// downloaded.
	// +optional
	Ignore *string `json:"ignore,omitempty"`

	// Interval is how often the bucket is listed for changes.
	// +required
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
	Interval metav1.Duration `json:"interval"`

	// Timeout bounds one listing and download (60s when not set).
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
	Timeout *metav1.Duration `json:"timeout,omitempty"`

	// Suspend stops the controller from reconciling the object.
	// +optional
	Suspend bool `json:"suspend,omitempty"`
}

// BucketStatus is what the controller observed.
type BucketStatus struct {
	// ObservedGeneration is the last generation the controller acted on.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions: Ready, Reconciling, Stalled, ArtifactInStorage.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// URL is the download link of the current artifact:
	// status.artifact.url, kept here for Flux's field.
	// +optional
	URL string `json:"url,omitempty"`

	// Artifact is the packaged content of the selected objects; its
	// revision is sha256:<hex> over their keys and ETags.
	// +optional
	Artifact *artifact.Artifact `json:"artifact,omitempty"`

	// ObservedIgnore is the spec.ignore the artifact was built with.
	// +optional
	ObservedIgnore *string `json:"observedIgnore,omitempty"`

	meta.ReconcileRequestStatus `json:",inline"`
}

// Bucket keeps an artifact of a folder of an S3-compatible bucket up to
// date.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Endpoint",type=string,JSONPath=`.spec.endpoint`
// +kubebuilder:printcolumn:name="Bucket",type=string,JSONPath=`.spec.bucketName`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].message`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Bucket struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   BucketSpec   `json:"spec,omitempty"`
	Status BucketStatus `json:"status,omitempty"`
}

// BucketList is a list of Buckets.
// +kubebuilder:object:root=true
type BucketList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Bucket `json:"items"`
}

// GetConditions returns the status conditions.
func (in *Bucket) GetConditions() []metav1.Condition { return in.Status.Conditions }

// SetConditions replaces the status conditions.
func (in *Bucket) SetConditions(c []metav1.Condition) { in.Status.Conditions = c }

// GetArtifact returns the latest artifact, or nil.
func (in *Bucket) GetArtifact() *artifact.Artifact { return in.Status.Artifact }

// IsSuspended reports spec.suspend.
func (in *Bucket) IsSuspended() bool { return in.Spec.Suspend }

// GetLastHandledReconcileAt returns the last handled reconcile request.
func (in *Bucket) GetLastHandledReconcileAt() string { return in.Status.LastHandledReconcileAt }

// SetLastHandledReconcileAt records a handled reconcile request.
func (in *Bucket) SetLastHandledReconcileAt(v string) { in.Status.LastHandledReconcileAt = v }

// GetInterval returns spec.interval.
func (in *Bucket) GetInterval() time.Duration { return in.Spec.Interval.Duration }

// GetTimeout returns spec.timeout, or DefaultTimeout.
func (in *Bucket) GetTimeout() time.Duration { return timeoutOr(in.Spec.Timeout) }
