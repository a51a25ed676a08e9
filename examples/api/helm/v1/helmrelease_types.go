package v1

import (
	"crypto/sha256"
	"encoding/hex"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitopskit/kit/helmutil/release"

	kustomizev1 "github.com/gitopskit/kit/examples/api/kustomize/v1"
	"github.com/gitopskit/kit/examples/api/meta"
	sourcev1 "github.com/gitopskit/kit/examples/api/source/v1"
)

// HelmReleaseKind is the kind of HelmRelease.
const HelmReleaseKind = "HelmRelease"

// Condition types of a HelmRelease besides Ready, Reconciling and
// Stalled.
const (
	// ReleasedCondition is True when the last install or upgrade
	// succeeded, False when it failed.
	ReleasedCondition = "Released"
	// TestSuccessCondition is True when the tests of the current revision
	// passed, False when they failed (absent when tests are not enabled).
	TestSuccessCondition = "TestSuccess"
	// RemediatedCondition is True when the release was rolled back or
	// uninstalled after a failure.
	RemediatedCondition = "Remediated"
	// DriftedCondition is True when objects of the release differ from its
	// manifest and drift detection only warns (mode warn); absent
	// otherwise.
	DriftedCondition = "Drifted"
)

// HelmReleaseSpec says which chart to release with which values, and how
// to install, upgrade, test, roll back, uninstall and check it for drift.
// +kubebuilder:validation:XValidation:rule="has(self.chart) != has(self.chartRef)",message="exactly one of spec.chart and spec.chartRef must be set"
type HelmReleaseSpec struct {
	// Chart is the template of the HelmChart gitopsd creates, and owns,
	// for this release: named <namespace>-<name>, in the namespace of its
	// sourceRef. Exactly one of Chart and ChartRef.
	// +optional
	Chart *HelmChartTemplate `json:"chart,omitempty"`

	// ChartRef names an existing HelmChart, or an OCIRepository whose
	// artifact is a chart package (layerSelector operation copy), instead
	// of Chart.
	// +optional
	ChartRef *CrossNamespaceSourceReference `json:"chartRef,omitempty"`

	// Interval is how often the release is checked against the spec.
	// +required
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
	Interval metav1.Duration `json:"interval"`

	// RetryInterval is how soon a failure is retried (Interval when not
	// set). gitopsd's addition: Flux retries with backoff.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
	RetryInterval *metav1.Duration `json:"retryInterval,omitempty"`

	// Suspend stops the controller from reconciling the object (and from
	// uninstalling the release when the object is deleted).
	// +optional
	Suspend bool `json:"suspend,omitempty"`

	// ReleaseName is the Helm release name; when empty,
	// [<targetNamespace>-]<name>, shortened to 53 characters with a hash
	// when longer.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=53
	ReleaseName string `json:"releaseName,omitempty"`

	// TargetNamespace is the namespace the release is installed in; the
	// HelmRelease's when empty.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	TargetNamespace string `json:"targetNamespace,omitempty"`

	// StorageNamespace holds the release's records (Helm's Secrets); the
	// HelmRelease's namespace when empty.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	StorageNamespace string `json:"storageNamespace,omitempty"`

	// DependsOn are Kustomizations and HelmReleases that must be ready
	// before this release is installed or upgraded.
	// +optional
	DependsOn []meta.DependencyReference `json:"dependsOn,omitempty"`

	// Timeout bounds each Helm action (its writes, waits and hooks) unless
	// its block says otherwise; 5m when not set.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
	Timeout *metav1.Duration `json:"timeout,omitempty"`

	// MaxHistory is how many revisions Helm keeps (5 when not set, 0 for
	// no limit).
	// +optional
	// +kubebuilder:validation:Minimum=0
	MaxHistory *int `json:"maxHistory,omitempty"`

	// ServiceAccountName is the service account, in the HelmRelease's
	// namespace, impersonated for every Helm action.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	ServiceAccountName string `json:"serviceAccountName,omitempty"`

	// DriftDetection compares the release's objects with its manifest.
	// +optional
	DriftDetection *DriftDetection `json:"driftDetection,omitempty"`

	// Install configures installs.
	// +optional
	Install *Install `json:"install,omitempty"`
	// Upgrade configures upgrades.
	// +optional
	Upgrade *Upgrade `json:"upgrade,omitempty"`
	// Test configures Helm tests, run after each install or upgrade.
	// +optional
	Test *Test `json:"test,omitempty"`
	// Rollback configures rollbacks (the remediation of a failed
	// upgrade).
	// +optional
	Rollback *Rollback `json:"rollback,omitempty"`
	// Uninstall configures uninstalls (remediation and deletion).
	// +optional
	Uninstall *Uninstall `json:"uninstall,omitempty"`

	// ValuesFrom are ConfigMaps and Secrets, in the HelmRelease's
	// namespace, whose values are merged in order, before Values.
	// +optional
	// +kubebuilder:validation:MaxItems=64
	ValuesFrom []ValuesReference `json:"valuesFrom,omitempty"`

	// Values are the release's inline values, merged last.
	// +optional
	Values *apiextensionsv1.JSON `json:"values,omitempty"`

	// PostRenderers change the rendered manifests (not the hooks) with
	// kustomize patches and images, in memory.
	// +optional
	PostRenderers []PostRenderer `json:"postRenderers,omitempty"`

	// CommonMetadata adds labels and annotations to every rendered
	// object.
	// +optional
	CommonMetadata *kustomizev1.CommonMetadata `json:"commonMetadata,omitempty"`

	// HealthCheckExprs decide the health of the kinds they name with CEL
	// expressions, instead of kstatus, when waiting for the release.
	// +optional
	// +kubebuilder:validation:MaxItems=64
	HealthCheckExprs []kustomizev1.CustomHealthCheck `json:"healthCheckExprs,omitempty"`
}

// HelmChartTemplate is the HelmChart a HelmRelease makes.
type HelmChartTemplate struct {
	// ObjectMeta holds labels and annotations for the HelmChart.
	// +optional
	ObjectMeta *HelmChartTemplateObjectMeta `json:"metadata,omitempty"`
	// Spec of the HelmChart.
	// +required
	Spec HelmChartTemplateSpec `json:"spec"`
}

// HelmChartTemplateObjectMeta are labels and annotations of the HelmChart.
type HelmChartTemplateObjectMeta struct {
	// +optional
	Labels map[string]string `json:"labels,omitempty"`
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`
}

// HelmChartTemplateSpec is the spec of the HelmChart: which chart of which
// source.
type HelmChartTemplateSpec struct {
	// Chart is the chart name in a HelmRepository, or its path in a
	// GitRepository or Bucket.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	Chart string `json:"chart"`
	// Version is a semver constraint (HelmRepository only); "*" (the
	// latest stable) when empty.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	Version string `json:"version,omitempty"`
	// SourceRef is the HelmRepository, GitRepository, OCIRepository or
	// Bucket.
	// +required
	SourceRef CrossNamespaceObjectReference `json:"sourceRef"`
	// Interval is how often the HelmChart looks for a new version; the
	// HelmRelease's when not set.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
	Interval *metav1.Duration `json:"interval,omitempty"`
	// ReconcileStrategy is ChartVersion (a new package for a new chart
	// version) or Revision (also for a new source revision).
	// +optional
	// +kubebuilder:validation:Enum=ChartVersion;Revision
	ReconcileStrategy string `json:"reconcileStrategy,omitempty"`
	// ValuesFiles are merged in order and replace the chart's values.yaml.
	// +optional
	// +kubebuilder:validation:MaxItems=64
	ValuesFiles []string `json:"valuesFiles,omitempty"`
	// IgnoreMissingValuesFiles skips values files that do not exist.
	// +optional
	IgnoreMissingValuesFiles bool `json:"ignoreMissingValuesFiles,omitempty"`
	// Verify checks the chart's signature (an OCI chart), as the
	// HelmChart's spec.verify.
	// +optional
	Verify *sourcev1.OCIRepositoryVerification `json:"verify,omitempty"`
}

// CrossNamespaceObjectReference names the source of a HelmChart.
type CrossNamespaceObjectReference struct {
	// APIVersion of the source (source.gitopskit.dev/v1 when empty).
	// +optional
	APIVersion string `json:"apiVersion,omitempty"`
	// Kind of the source.
	// +required
	// +kubebuilder:validation:Enum=HelmRepository;GitRepository;OCIRepository;Bucket
	Kind string `json:"kind"`
	// Name of the source.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
	// Namespace of the source; the HelmRelease's when empty.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Namespace string `json:"namespace,omitempty"`
}

// CrossNamespaceSourceReference names the chart of a chartRef.
type CrossNamespaceSourceReference struct {
	// APIVersion of the referent (source.gitopskit.dev/v1 when empty).
	// +optional
	APIVersion string `json:"apiVersion,omitempty"`
	// Kind of the referent.
	// +required
	// +kubebuilder:validation:Enum=OCIRepository;HelmChart
	Kind string `json:"kind"`
	// Name of the referent.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
	// Namespace of the referent; the HelmRelease's when empty.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Namespace string `json:"namespace,omitempty"`
}

// ValuesReference names values in a ConfigMap or Secret.
type ValuesReference struct {
	// Kind is ConfigMap or Secret.
	// +required
	// +kubebuilder:validation:Enum=Secret;ConfigMap
	Kind string `json:"kind"`
	// Name of the ConfigMap or Secret, in the HelmRelease's namespace.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
	// ValuesKey is the key holding the values; values.yaml when empty.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[\-._a-zA-Z0-9]+$`
	ValuesKey string `json:"valuesKey,omitempty"`
	// TargetPath sets the key's whole value at this path (Helm's --set
	// key syntax) instead of merging it as YAML.
	// +optional
	// +kubebuilder:validation:MaxLength=250
	// +kubebuilder:validation:Pattern=`^([a-zA-Z0-9_\-.\\\/]|\[[0-9]{1,5}\])+$`
	TargetPath string `json:"targetPath,omitempty"`
	// Optional makes a missing ConfigMap, Secret or key no error.
	// +optional
	Optional bool `json:"optional,omitempty"`
}

// PostRenderer changes the rendered manifests.
type PostRenderer struct {
	// Kustomize patches and images.
	// +optional
	Kustomize *Kustomize `json:"kustomize,omitempty"`
}

// Kustomize is a kustomize post-render: patches, then images.
type Kustomize struct {
	// Patches are strategic merge or JSON 6902 patches.
	// +optional
	Patches []kustomizev1.Patch `json:"patches,omitempty"`
	// Images rewrite container images.
	// +optional
	Images []kustomizev1.Image `json:"images,omitempty"`
}

// DriftDetection configures drift detection.
type DriftDetection struct {
	// Mode is enabled (report and correct), warn (report only) or disabled
	// (the default).
	// +optional
	// +kubebuilder:validation:Enum=enabled;warn;disabled
	Mode string `json:"mode,omitempty"`
	// Ignore rules leave fields out of detection and correction.
	// +optional
	// +kubebuilder:validation:MaxItems=64
	Ignore []kustomizev1.DriftIgnoreRule `json:"ignore,omitempty"`
}

// HelmReleaseStatus is what the controller observed and did. The release
// state machine's fields (history, failure counters, lastAttempted*) are
// helmutil/release's Status, with Flux's names.
type HelmReleaseStatus struct {
	// ObservedGeneration is the last generation the controller acted on.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// LastAttemptedGeneration is the generation of the last install or
	// upgrade attempted.
	// +optional
	LastAttemptedGeneration int64 `json:"lastAttemptedGeneration,omitempty"`

	// Conditions: Ready, Reconciling, Stalled, Released, TestSuccess,
	// Remediated, Drifted.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// HelmChart is <namespace>/<name> of the HelmChart the release is made
	// from.
	// +optional
	HelmChart string `json:"helmChart,omitempty"`

	// Inventory lists the objects of the current revision (not its hooks).
	// +optional
	Inventory *kustomizev1.ResourceInventory `json:"inventory,omitempty"`

	release.Status `json:",inline"`

	meta.ReconcileRequestStatus `json:",inline"`
}

// HelmRelease keeps a Helm release of a chart as its spec says.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=hr
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].message`
// +kubebuilder:printcolumn:name="Chart Version",type=string,JSONPath=`.status.history[0].chartVersion`
type HelmRelease struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   HelmReleaseSpec   `json:"spec,omitempty"`
	Status HelmReleaseStatus `json:"status,omitempty"`
}

// HelmReleaseList is a list of HelmReleases.
// +kubebuilder:object:root=true
type HelmReleaseList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []HelmRelease `json:"items"`
}

// GetConditions returns the status conditions.
func (in *HelmRelease) GetConditions() []metav1.Condition { return in.Status.Conditions }

// SetConditions replaces the status conditions.
func (in *HelmRelease) SetConditions(c []metav1.Condition) { in.Status.Conditions = c }

// IsSuspended reports spec.suspend.
func (in *HelmRelease) IsSuspended() bool { return in.Spec.Suspend }

// GetLastHandledReconcileAt returns the last handled reconcile request.
func (in *HelmRelease) GetLastHandledReconcileAt() string {
	return in.Status.LastHandledReconcileAt
}

// SetLastHandledReconcileAt records a handled reconcile request.
func (in *HelmRelease) SetLastHandledReconcileAt(v string) {
	in.Status.LastHandledReconcileAt = v
}

// GetInterval returns spec.interval.
func (in *HelmRelease) GetInterval() time.Duration { return in.Spec.Interval.Duration }

// GetRetryInterval returns spec.retryInterval, or spec.interval.
func (in *HelmRelease) GetRetryInterval() time.Duration {
	if in.Spec.RetryInterval != nil && in.Spec.RetryInterval.Duration > 0 {
		return in.Spec.RetryInterval.Duration
	}
	return in.Spec.Interval.Duration
}

// GetReleaseName returns spec.releaseName, or [<targetNamespace>-]<name>;
// a default longer than 53 characters is cut to 40 and followed by a dash
// and 12 hexadecimal characters of its SHA-256, so that it stays unique.
func (in *HelmRelease) GetReleaseName() string {
	if in.Spec.ReleaseName != "" {
		return in.Spec.ReleaseName
	}
	name := in.Name
	if in.Spec.TargetNamespace != "" {
		name = in.Spec.TargetNamespace + "-" + name
	}
	if len(name) > 53 {
		sum := sha256.Sum256([]byte(name))
		name = name[:40] + "-" + hex.EncodeToString(sum[:])[:12]
	}
	return name
}

// GetReleaseNamespace returns spec.targetNamespace, or the HelmRelease's
// namespace.
func (in *HelmRelease) GetReleaseNamespace() string {
	if in.Spec.TargetNamespace != "" {
		return in.Spec.TargetNamespace
	}
	return in.Namespace
}

// GetStorageNamespace returns spec.storageNamespace, or the HelmRelease's
// namespace.
func (in *HelmRelease) GetStorageNamespace() string {
	if in.Spec.StorageNamespace != "" {
		return in.Spec.StorageNamespace
	}
	return in.Namespace
}

// HelmChartName returns the name of the HelmChart made from spec.chart:
// <namespace>-<name>.
func (in *HelmRelease) HelmChartName() string { return in.Namespace + "-" + in.Name }
