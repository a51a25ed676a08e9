package meta

// LocalObjectReference names an object in the referrer's namespace.
type LocalObjectReference struct {
	// Name of the referent.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// NamespacedObjectKindReference names an object of any kind, in the
// referrer's namespace when Namespace is empty.
type NamespacedObjectKindReference struct {
	// APIVersion of the referent, "group/version" or "version".
	// +optional
	APIVersion string `json:"apiVersion,omitempty"`

	// Kind of the referent.
	// +required
	// +kubebuilder:validation:MinLength=1
	Kind string `json:"kind"`

	// Name of the referent.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// Namespace of the referent; the referrer's namespace when empty.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	Namespace string `json:"namespace,omitempty"`
}

// ReconcileRequestStatus records the last reconcile request
// (reconcile.gitopskit.dev/requestedAt) a controller handled.
type ReconcileRequestStatus struct {
	// LastHandledReconcileAt is the value of the requestedAt annotation the
	// controller last acted on.
	// +optional
	LastHandledReconcileAt string `json:"lastHandledReconcileAt,omitempty"`
}

// Condition types and reasons the reference operator's objects use besides
// runtime/conditions' Ready, Reconciling and Stalled.
const (
	// ArtifactInStorageCondition is True when the object's artifact is in
	// storage and matches its digest.
	ArtifactInStorageCondition = "ArtifactInStorage"
	// SourceVerifiedCondition is True when the source's signature was
	// verified.
	SourceVerifiedCondition = "SourceVerified"
	// HealthyCondition is True when every applied object passed its
	// health check.
	HealthyCondition = "Healthy"
)

// DependencyKustomization and DependencyHelmRelease are the kinds a
// dependsOn reference may name.
const (
	DependencyKustomization = "Kustomization"
	DependencyHelmRelease   = "HelmRelease"
)

// DependencyReference names an object the referrer waits for before it is
// applied: a Kustomization or a HelmRelease, of either kind whatever the
// referrer's (a HelmRelease may wait for the Kustomization that installs
// its CRDs, a Kustomization for the HelmRelease of its database).
type DependencyReference struct {
	// Kind of the dependency, Kustomization or HelmRelease; the
	// referrer's own kind when empty.
	// +optional
	// +kubebuilder:validation:Enum=Kustomization;HelmRelease
	Kind string `json:"kind,omitempty"`

	// Name of the dependency.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// Namespace of the dependency; the referrer's when empty.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	Namespace string `json:"namespace,omitempty"`

	// ReadyExpr is a CEL expression over the dependency (as "dep") and the
	// referrer (as "self") that must be true, instead of the default
	// Ready=True at the current generation.
	// +optional
	ReadyExpr string `json:"readyExpr,omitempty"`
}
