package v1

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitopskit/kit/examples/api/meta"
)

// KustomizationKind is the kind of Kustomization.
const KustomizationKind = "Kustomization"

// KustomizationSpec says which folder of which source to build, how to
// change the result, and how to apply, prune and health-check it.
type KustomizationSpec struct {
	// SourceRef is the GitRepository or OCIRepository whose artifact is
	// built.
	// +required
	SourceRef CrossNamespaceSourceReference `json:"sourceRef"`

	// Path of the folder to build, relative to the artifact's root; the
	// root when empty.
	// +optional
	Path string `json:"path,omitempty"`

	// Interval is how often the cluster is brought back in line with the
	// source, even when the source did not change.
	// +required
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
	Interval metav1.Duration `json:"interval"`

	// RetryInterval is how soon a failed reconciliation is retried
	// (Interval when not set).
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
	RetryInterval *metav1.Duration `json:"retryInterval,omitempty"`

	// Timeout bounds building, applying and waiting. When not set:
	// Interval less 30 seconds, and at least 30 seconds (as Flux), so a
	// stuck health check ends before the next interval is due.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
	Timeout *metav1.Duration `json:"timeout,omitempty"`

	// Prune deletes the objects that left the build since the last apply.
	// +required
	Prune bool `json:"prune"`

	// DeletionPolicy says what happens to the applied objects when the
	// Kustomization is deleted: MirrorPrune (the default) deletes them when
	// Prune is true, Delete always deletes them, WaitForTermination deletes
	// them and keeps the Kustomization until they are gone (their own
	// finalizers done, within Timeout), Orphan never deletes them.
	// +optional
	// +kubebuilder:validation:Enum=MirrorPrune;Delete;WaitForTermination;Orphan
	DeletionPolicy DeletionPolicy `json:"deletionPolicy,omitempty"`

	// Wait waits for every applied object to be ready (kstatus) before the
	// Kustomization is Ready. HealthChecks is ignored when Wait is true.
	// +optional
	Wait bool `json:"wait,omitempty"`

	// HealthChecks are objects, applied or not, that must be ready before
	// the Kustomization is Ready.
	// +optional
	HealthChecks []meta.NamespacedObjectKindReference `json:"healthChecks,omitempty"`

	// HealthCheckExprs decide the health of the kinds they name with CEL
	// expressions over the object (bound to "self"), instead of kstatus,
	// for Wait and HealthChecks.
	// +optional
	// +kubebuilder:validation:MaxItems=64
	HealthCheckExprs []CustomHealthCheck `json:"healthCheckExprs,omitempty"`

	// DependsOn are Kustomizations or HelmReleases that must be Ready at
	// their current generation (or satisfy their readyExpr) before this
	// one is applied.
	// +optional
	DependsOn []meta.DependencyReference `json:"dependsOn,omitempty"`

	// TargetNamespace sets the namespace of every namespaced object.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	TargetNamespace string `json:"targetNamespace,omitempty"`

	// NamePrefix is prepended to every object's name.
	// +optional
	// +kubebuilder:validation:MaxLength=200
	NamePrefix string `json:"namePrefix,omitempty"`

	// NameSuffix is appended to every object's name.
	// +optional
	// +kubebuilder:validation:MaxLength=200
	NameSuffix string `json:"nameSuffix,omitempty"`

	// Patches are strategic merge or JSON 6902 patches applied to the
	// build.
	// +optional
	Patches []Patch `json:"patches,omitempty"`

	// Images rewrite container image names, tags and digests.
	// +optional
	Images []Image `json:"images,omitempty"`

	// Components are kustomize components, as paths relative to Path.
	// +optional
	Components []string `json:"components,omitempty"`

	// IgnoreMissingComponents skips components that do not exist in the
	// source, instead of failing the build. A component whose path leaves
	// the source is refused all the same.
	// +optional
	IgnoreMissingComponents bool `json:"ignoreMissingComponents,omitempty"`

	// CommonMetadata adds labels and annotations to every object's
	// metadata (not to selectors or pod templates).
	// +optional
	CommonMetadata *CommonMetadata `json:"commonMetadata,omitempty"`

	// PostBuild substitutes ${var} references in the built objects.
	// +optional
	PostBuild *PostBuild `json:"postBuild,omitempty"`

	// Decryption decrypts SOPS-encrypted files of the source.
	// +optional
	Decryption *Decryption `json:"decryption,omitempty"`

	// ServiceAccountName is the service account, in the Kustomization's
	// namespace, impersonated to apply, prune and health-check (on the
	// cluster KubeConfig names, when set). gitopsd's
	// --default-service-account applies when it is empty.
	// +optional
	ServiceAccountName string `json:"serviceAccountName,omitempty"`

	// KubeConfig applies, prunes and health-checks on another cluster,
	// whose kubeconfig a Secret of the Kustomization's namespace holds.
	// +optional
	KubeConfig *KubeConfigReference `json:"kubeConfig,omitempty"`

	// DriftIgnoreRules name fields of applied objects that are not the
	// Kustomization's to decide (an autoscaler's replicas, a webhook's
	// annotation): on an object that exists they are neither applied nor
	// reported as drift, and keep their live value.
	// +optional
	// +kubebuilder:validation:MaxItems=64
	DriftIgnoreRules []DriftIgnoreRule `json:"driftIgnoreRules,omitempty"`

	// Force recreates objects whose immutable fields changed.
	// +optional
	Force bool `json:"force,omitempty"`

	// Suspend stops the controller from reconciling the object.
	// +optional
	Suspend bool `json:"suspend,omitempty"`
}

// CustomHealthCheck is the health of one kind as CEL expressions over the
// object ("self"). They are tried in the order failed, current,
// inProgress; the first true decides, and an object none matches is in
// progress.
type CustomHealthCheck struct {
	// APIVersion of the kind, "group/version" or "version".
	// +required
	// +kubebuilder:validation:MinLength=1
	APIVersion string `json:"apiVersion"`
	// Kind the expressions apply to.
	// +required
	// +kubebuilder:validation:MinLength=1
	Kind string `json:"kind"`
	// Current is true when the object is healthy.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=4096
	Current string `json:"current"`
	// InProgress is true while the object is getting there.
	// +optional
	// +kubebuilder:validation:MaxLength=4096
	InProgress string `json:"inProgress,omitempty"`
	// Failed is true when the object will not get there.
	// +optional
	// +kubebuilder:validation:MaxLength=4096
	Failed string `json:"failed,omitempty"`
}

// CommonMetadata are labels and annotations added to every object.
type CommonMetadata struct {
	// +optional
	Labels map[string]string `json:"labels,omitempty"`
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`
}

// KubeConfigReference names the Secret holding a kubeconfig.
type KubeConfigReference struct {
	// SecretRef names the Secret, in the Kustomization's namespace; its key
	// "value" or "value.yaml" (or Key) holds the kubeconfig. A kubeconfig
	// that runs a program (exec, auth provider) or reads a local file
	// (certificate-authority, client-certificate, client-key, tokenFile) is
	// refused: credentials and CAs must be inline.
	// +required
	SecretRef SecretKeyReference `json:"secretRef"`
}

// SecretKeyReference names a key of a Secret in the referrer's namespace.
type SecretKeyReference struct {
	// Name of the Secret.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
	// Key of the value; the kind's default when empty.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Key string `json:"key,omitempty"`
}

// CrossNamespaceSourceReference names a source, in the Kustomization's
// namespace when Namespace is empty.
type CrossNamespaceSourceReference struct {
	// APIVersion of the source (source.gitopskit.dev/v1 when empty).
	// +optional
	APIVersion string `json:"apiVersion,omitempty"`

	// Kind of the source.
	// +required
	// +kubebuilder:validation:Enum=GitRepository;OCIRepository;Bucket
	Kind string `json:"kind"`

	// Name of the source.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// Namespace of the source; the Kustomization's when empty.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	Namespace string `json:"namespace,omitempty"`
}

// DeletionPolicy says what happens to applied objects on deletion.
type DeletionPolicy string

const (
	// DeletionPolicyMirrorPrune deletes the objects when spec.prune is true.
	DeletionPolicyMirrorPrune DeletionPolicy = "MirrorPrune"
	// DeletionPolicyDelete always deletes the objects.
	DeletionPolicyDelete DeletionPolicy = "Delete"
	// DeletionPolicyWaitForTermination deletes the objects and waits until
	// they are gone.
	DeletionPolicyWaitForTermination DeletionPolicy = "WaitForTermination"
	// DeletionPolicyOrphan leaves the objects on the cluster.
	DeletionPolicyOrphan DeletionPolicy = "Orphan"
)

// Patch is an inline strategic merge or JSON 6902 patch.
type Patch struct {
	// Patch is the patch, in YAML or JSON.
	// +required
	Patch string `json:"patch"`

	// Target selects the objects to patch; a strategic merge patch names
	// its target itself when empty.
	// +optional
	Target *Selector `json:"target,omitempty"`
}

// Selector selects objects by identity, labels or annotations. Every set
// field must match; Name and Namespace are regular expressions.
type Selector struct {
	// +optional
	Group string `json:"group,omitempty"`
	// +optional
	Version string `json:"version,omitempty"`
	// +optional
	Kind string `json:"kind,omitempty"`
	// +optional
	Namespace string `json:"namespace,omitempty"`
	// +optional
	Name string `json:"name,omitempty"`
	// LabelSelector in the label selector syntax.
	// +optional
	LabelSelector string `json:"labelSelector,omitempty"`
	// AnnotationSelector in the label selector syntax.
	// +optional
	AnnotationSelector string `json:"annotationSelector,omitempty"`
}

// DriftIgnoreRule names fields, by JSON pointer, of the objects Target
// matches.
type DriftIgnoreRule struct {
	// Paths are JSON pointers (RFC 6901), such as /spec/replicas or
	// /metadata/annotations/example.com~1build.
	// +required
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:Pattern=`^/`
	Paths []string `json:"paths"`
	// Target selects the objects; every object when not set.
	// +optional
	Target *ObjectSelector `json:"target,omitempty"`
}

// ObjectSelector matches objects by exact group, version, kind, namespace
// and name (an empty field matches anything) and a label selector.
type ObjectSelector struct {
	// +optional
	Group string `json:"group,omitempty"`
	// +optional
	Version string `json:"version,omitempty"`
	// +optional
	Kind string `json:"kind,omitempty"`
	// +optional
	Namespace string `json:"namespace,omitempty"`
	// +optional
	Name string `json:"name,omitempty"`
	// LabelSelector in the label selector syntax (app=web,tier!=db).
	// +optional
	LabelSelector string `json:"labelSelector,omitempty"`
}

// Image rewrites an image reference.
type Image struct {
	// Name is the image to rewrite, as written in the manifests.
	// +required
	Name string `json:"name"`
	// NewName replaces the repository.
	// +optional
	NewName string `json:"newName,omitempty"`
	// NewTag replaces the tag.
	// +optional
	NewTag string `json:"newTag,omitempty"`
	// Digest pins a digest; it wins over NewTag.
	// +optional
	Digest string `json:"digest,omitempty"`
}

// PostBuild configures variable substitution.
type PostBuild struct {
	// Substitute holds variables, name to value.
	// +optional
	Substitute map[string]string `json:"substitute,omitempty"`

	// SubstituteFrom reads variables from ConfigMaps and Secrets in the
	// Kustomization's namespace, each key a variable; later entries and
	// Substitute win.
	// +optional
	SubstituteFrom []SubstituteReference `json:"substituteFrom,omitempty"`
}

// SubstituteReference names a ConfigMap or Secret holding variables.
type SubstituteReference struct {
	// Kind is ConfigMap or Secret.
	// +required
	// +kubebuilder:validation:Enum=ConfigMap;Secret
	Kind string `json:"kind"`

	// Name of the ConfigMap or Secret.
	// +required
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`

	// Optional makes a missing ConfigMap or Secret no error.
	// +optional
	Optional bool `json:"optional,omitempty"`
}

// Decryption configures SOPS decryption.
type Decryption struct {
	// Provider is the encryption format; only sops is supported.
	// +required
	// +kubebuilder:validation:Enum=sops
	Provider string `json:"provider"`

	// SecretRef names a Secret whose values ending in .agekey are age
	// identities and ending in .asc armored OpenPGP private keys.
	// +optional
	SecretRef *meta.LocalObjectReference `json:"secretRef,omitempty"`
}

// HistoryEntry is one outcome of the Kustomization's reconciles.
type HistoryEntry struct {
	// Digest is the sha256 of the objects built (empty when the reconcile
	// failed before building).
	// +optional
	Digest string `json:"digest,omitempty"`
	// Revision is the source revision.
	Revision string `json:"revision"`
	// OriginRevision is the revision the artifact came from.
	// +optional
	OriginRevision string `json:"originRevision,omitempty"`
	// Time is when the reconcile with this outcome ended first.
	Time metav1.Time `json:"time"`
	// Duration is how long that reconcile took.
	Duration metav1.Duration `json:"duration"`
	// Outcome is Succeeded, or the reason of the failure.
	Outcome string `json:"outcome"`
}

// ResourceInventory lists the objects a Kustomization applied, in Flux's
// format.
type ResourceInventory struct {
	// Entries are the objects, sorted by ID.
	Entries []ResourceRef `json:"entries"`
}

// ResourceRef is one applied object.
type ResourceRef struct {
	// ID is <namespace>_<name>_<group>_<kind>.
	ID string `json:"id"`
	// Version is the API version the object was applied with.
	Version string `json:"v"`
}

// KustomizationStatus is what the controller observed and did.
type KustomizationStatus struct {
	// ObservedGeneration is the last generation the controller acted on.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions: Ready, Reconciling, Stalled, Healthy.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// LastAppliedRevision is the source revision last applied
	// successfully.
	// +optional
	LastAppliedRevision string `json:"lastAppliedRevision,omitempty"`

	// LastAttemptedRevision is the source revision last tried.
	// +optional
	LastAttemptedRevision string `json:"lastAttemptedRevision,omitempty"`

	// LastAppliedOriginRevision is the revision the source's artifact came
	// from (its org.opencontainers.image.revision metadata, the commit an
	// OCI artifact was pushed from), as last applied.
	// +optional
	LastAppliedOriginRevision string `json:"lastAppliedOriginRevision,omitempty"`

	// History lists the distinct outcomes of the last reconciles, newest
	// first (at most 5): a new entry when what was applied or the outcome
	// changes, so a re-check of an unchanged set writes nothing.
	// +optional
	History []HistoryEntry `json:"history,omitempty"`

	// Inventory lists the objects applied.
	// +optional
	Inventory *ResourceInventory `json:"inventory,omitempty"`

	meta.ReconcileRequestStatus `json:",inline"`
}

// Kustomization keeps the build of a source's folder applied to the
// cluster.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=ks
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].message`
// +kubebuilder:printcolumn:name="Revision",type=string,JSONPath=`.status.lastAppliedRevision`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Kustomization struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   KustomizationSpec   `json:"spec,omitempty"`
	Status KustomizationStatus `json:"status,omitempty"`
}

// KustomizationList is a list of Kustomizations.
// +kubebuilder:object:root=true
type KustomizationList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Kustomization `json:"items"`
}

// GetConditions returns the status conditions.
func (in *Kustomization) GetConditions() []metav1.Condition { return in.Status.Conditions }

// SetConditions replaces the status conditions.
func (in *Kustomization) SetConditions(c []metav1.Condition) { in.Status.Conditions = c }

// IsSuspended reports spec.suspend.
func (in *Kustomization) IsSuspended() bool { return in.Spec.Suspend }

// GetLastHandledReconcileAt returns the last handled reconcile request.
func (in *Kustomization) GetLastHandledReconcileAt() string {
	return in.Status.LastHandledReconcileAt
}

// SetLastHandledReconcileAt records a handled reconcile request.
func (in *Kustomization) SetLastHandledReconcileAt(v string) {
	in.Status.LastHandledReconcileAt = v
}

// GetInterval returns spec.interval.
func (in *Kustomization) GetInterval() time.Duration { return in.Spec.Interval.Duration }

// GetRetryInterval returns spec.retryInterval, or spec.interval.
func (in *Kustomization) GetRetryInterval() time.Duration {
	if in.Spec.RetryInterval != nil && in.Spec.RetryInterval.Duration > 0 {
		return in.Spec.RetryInterval.Duration
	}
	return in.Spec.Interval.Duration
}

// GetTimeout returns spec.timeout; when not set, spec.interval less 30
// seconds, and at least 30 seconds.
func (in *Kustomization) GetTimeout() time.Duration {
	if in.Spec.Timeout != nil && in.Spec.Timeout.Duration > 0 {
		return in.Spec.Timeout.Duration
	}
	return max(in.Spec.Interval.Duration-30*time.Second, 30*time.Second)
}

// GetDeletionPolicy returns spec.deletionPolicy, MirrorPrune when empty.
func (in *Kustomization) GetDeletionPolicy() DeletionPolicy {
	if in.Spec.DeletionPolicy == "" {
		return DeletionPolicyMirrorPrune
	}
	return in.Spec.DeletionPolicy
}
