package v1

// CrossNamespaceObjectReference names objects of one kind, by name (or
// pattern) and namespace, and optionally by labels — Flux's shape for an
// Alert's eventSources and a Receiver's resources.
type CrossNamespaceObjectReference struct {
	// APIVersion of the referent, "group/version"; any version of the kind
	// when empty.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	APIVersion string `json:"apiVersion,omitempty"`

	// Kind of the referent.
	// +required
	// +kubebuilder:validation:Enum=Bucket;GitRepository;OCIRepository;HelmRepository;HelmChart;HelmRelease;Kustomization;ImageRepository;ImagePolicy;ImageUpdateAutomation
	Kind string `json:"kind"`

	// Name of the referent. "*" matches every name; in an Alert a "*"
	// also matches any run of characters within a name ("app-*").
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// Namespace of the referent; the referrer's when empty. In an Alert,
	// "*" matches every namespace the Alert's namespace may refer to.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	Namespace string `json:"namespace,omitempty"`

	// MatchLabels, when set, also requires the referent's labels to hold
	// these pairs. A Receiver's resources use them with name "*" to select
	// every object so labelled.
	// +optional
	// +kubebuilder:validation:MaxProperties=64
	MatchLabels map[string]string `json:"matchLabels,omitempty"`
}
