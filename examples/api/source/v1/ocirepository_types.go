package v1

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitopskit/kit/artifact"
	"github.com/gitopskit/kit/examples/api/meta"
)

// OCIRepositorySpec says which OCI artifact to pull, which layer of it, how
// to authenticate and verify it, and how often to look for changes.
type OCIRepositorySpec struct {
	// URL of the repository, oci://<host>/<path>, without tag or digest.
	// +required
	// +kubebuilder:validation:Pattern="^oci://.*$"
	URL string `json:"url"`

	// Reference is the tag, semver range or digest to pull; the "latest"
	// tag when empty.
	// +optional
	Reference *OCIRepositoryRef `json:"ref,omitempty"`

	// LayerSelector chooses the layer to use and what to do with it; the
	// Flux content layer, extracted, when empty.
	// +optional
	LayerSelector *OCILayerSelector `json:"layerSelector,omitempty"`

	// SecretRef names a Secret of type kubernetes.io/dockerconfigjson with
	// the registry credentials.
	// +optional
	SecretRef *meta.LocalObjectReference `json:"secretRef,omitempty"`

	// Provider says where the registry credentials come from: generic,
	// the only one supported, reads them from spec.secretRef and
	// spec.serviceAccountName. Flux's aws, azure and gcp providers (cloud
	// workload identity) are not supported.
	// +optional
	// +kubebuilder:validation:Enum=generic
	// +kubebuilder:default=generic
	Provider string `json:"provider,omitempty"`

	// ServiceAccountName names a ServiceAccount of the object's namespace
	// whose imagePullSecrets hold registry credentials, as a Pod's would.
	// spec.secretRef, when set, is looked up first; the first Secret with
	// credentials for the registry's host is used, none means anonymous.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern="^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"
	ServiceAccountName string `json:"serviceAccountName,omitempty"`

	// CertSecretRef names a Secret with ca.crt, and optionally tls.crt and
	// tls.key, for the registry's TLS.
	// +optional
	CertSecretRef *meta.LocalObjectReference `json:"certSecretRef,omitempty"`

	// ProxySecretRef names a Secret with the address of the proxy to reach
	// the registry through (http, https, socks5 or socks5h URL), and
	// optionally its username and password.
	// +optional
	ProxySecretRef *meta.LocalObjectReference `json:"proxySecretRef,omitempty"`

	// Verify checks the artifact's signature before anything is pulled.
	// +optional
	Verify *OCIRepositoryVerification `json:"verify,omitempty"`

	// Insecure allows plain HTTP to the registry.
	// +optional
	Insecure bool `json:"insecure,omitempty"`

	// Ignore holds .gitignore-syntax patterns of files left out of the
	// artifact.
	// +optional
	Ignore *string `json:"ignore,omitempty"`

	// Interval is how often the repository is checked for a new revision.
	// +required
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
	Interval metav1.Duration `json:"interval"`

	// Timeout bounds one pull (60s when not set).
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
	Timeout *metav1.Duration `json:"timeout,omitempty"`

	// Suspend stops the controller from reconciling the object.
	// +optional
	Suspend bool `json:"suspend,omitempty"`
}

// OCIRepositoryRef selects the artifact. Digest wins over SemVer, which
// wins over Tag.
type OCIRepositoryRef struct {
	// Digest pins the artifact, sha256:<hex>.
	// +optional
	// +kubebuilder:validation:Pattern="^sha256:[0-9a-f]{64}$"
	Digest string `json:"digest,omitempty"`

	// SemVer is a semantic version range: the highest matching tag is
	// pulled.
	// +optional
	SemVer string `json:"semver,omitempty"`

	// SemverFilter is a regular expression tags must match before SemVer
	// applies.
	// +optional
	SemverFilter string `json:"semverFilter,omitempty"`

	// Tag to pull.
	// +optional
	Tag string `json:"tag,omitempty"`
}

// OCILayerOperation says what is done with the selected layer.
// +kubebuilder:validation:Enum=extract;copy
type OCILayerOperation string

const (
	// OCILayerExtract extracts the layer, a tar.gz, into the artifact.
	OCILayerExtract OCILayerOperation = "extract"
	// OCILayerCopy stores the layer as it is as the artifact.
	OCILayerCopy OCILayerOperation = "copy"
)

// OCILayerSelector chooses a layer by media type.
type OCILayerSelector struct {
	// MediaType of the layer; the first layer when no layer has it.
	// +optional
	MediaType string `json:"mediaType,omitempty"`

	// Operation is extract (the default) or copy.
	// +optional
	Operation OCILayerOperation `json:"operation,omitempty"`
}

// OCIRepositoryVerification configures cosign signature verification.
// +kubebuilder:validation:XValidation:rule="has(self.secretRef) || (has(self.matchOIDCIdentity) && size(self.matchOIDCIdentity) > 0)",message="keyless verification without secretRef needs matchOIDCIdentity"
type OCIRepositoryVerification struct {
	// Provider is the signature format; only cosign is supported.
	// +kubebuilder:validation:Enum=cosign
	// +kubebuilder:default=cosign
	// +optional
	Provider string `json:"provider,omitempty"`

	// SecretRef names a Secret whose values ending in .pub are PEM public
	// keys trusted to sign (cosign sign --key), and optionally
	// trusted_root.json, the Sigstore trusted root for keyless signatures.
	// Without it, or without trusted_root.json in it, keyless signatures
	// are checked against the trusted root gitopsd was started with
	// (--sigstore-trusted-root).
	// +optional
	SecretRef *meta.LocalObjectReference `json:"secretRef,omitempty"`

	// MatchOIDCIdentity lists the signers accepted for keyless
	// signatures (sigstore bundles and cosign's classic keyless format),
	// as regular expressions over the OIDC issuer and the certificate's
	// subject. Keyless verification needs at least one.
	// +optional
	// +kubebuilder:validation:MaxItems=64
	// +listType=atomic
	MatchOIDCIdentity []OIDCIdentityMatch `json:"matchOIDCIdentity,omitempty"`
}

// OIDCIdentityMatch is an accepted keyless signer.
type OIDCIdentityMatch struct {
	// Issuer is a regular expression over the OIDC issuer.
	// +required
	// +kubebuilder:validation:MinLength=1
	Issuer string `json:"issuer"`
	// Subject is a regular expression over the certificate's subject.
	// +required
	// +kubebuilder:validation:MinLength=1
	Subject string `json:"subject"`
}

// OCIRepositoryStatus is what the controller observed.
type OCIRepositoryStatus struct {
	// ObservedGeneration is the last generation the controller acted on.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions: Ready, Reconciling, Stalled, ArtifactInStorage,
	// SourceVerified.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// URL is the download link of the artifact of the last pulled
	// revision: status.artifact.url, kept here for Flux's field.
	// +optional
	URL string `json:"url,omitempty"`

	// Artifact is the packaged content of the last pulled revision.
	// +optional
	Artifact *artifact.Artifact `json:"artifact,omitempty"`

	// ObservedIgnore is the spec.ignore the artifact was built with.
	// +optional
	ObservedIgnore *string `json:"observedIgnore,omitempty"`

	// ObservedLayerSelector is the spec.layerSelector the artifact was
	// built with.
	// +optional
	ObservedLayerSelector *OCILayerSelector `json:"observedLayerSelector,omitempty"`

	meta.ReconcileRequestStatus `json:",inline"`
}

// OCIRepository keeps an artifact of an OCI artifact up to date.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=ocirepo
// +kubebuilder:printcolumn:name="URL",type=string,JSONPath=`.spec.url`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].message`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type OCIRepository struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   OCIRepositorySpec   `json:"spec,omitempty"`
	Status OCIRepositoryStatus `json:"status,omitempty"`
}

// OCIRepositoryList is a list of OCIRepositories.
// +kubebuilder:object:root=true
type OCIRepositoryList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []OCIRepository `json:"items"`
}

// GetConditions returns the status conditions.
func (in *OCIRepository) GetConditions() []metav1.Condition { return in.Status.Conditions }

// SetConditions replaces the status conditions.
func (in *OCIRepository) SetConditions(c []metav1.Condition) { in.Status.Conditions = c }

// GetArtifact returns the latest artifact, or nil.
func (in *OCIRepository) GetArtifact() *artifact.Artifact { return in.Status.Artifact }

// IsSuspended reports spec.suspend.
func (in *OCIRepository) IsSuspended() bool { return in.Spec.Suspend }

// GetLastHandledReconcileAt returns the last handled reconcile request.
func (in *OCIRepository) GetLastHandledReconcileAt() string {
	return in.Status.LastHandledReconcileAt
}

// SetLastHandledReconcileAt records a handled reconcile request.
func (in *OCIRepository) SetLastHandledReconcileAt(v string) {
	in.Status.LastHandledReconcileAt = v
}

// GetInterval returns spec.interval.
func (in *OCIRepository) GetInterval() time.Duration { return in.Spec.Interval.Duration }

// GetTimeout returns spec.timeout, or DefaultTimeout.
func (in *OCIRepository) GetTimeout() time.Duration { return timeoutOr(in.Spec.Timeout) }
