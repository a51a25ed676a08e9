package v1

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitopskit/kit/artifact"
	"github.com/gitopskit/kit/examples/api/meta"
)

// HelmChartKind is the kind of a HelmChart, as a HelmRelease's chartRef
// names it.
const HelmChartKind = "HelmChart"

// Reconcile strategies of a HelmChart (spec.reconcileStrategy).
const (
	// ReconcileStrategyChartVersion builds a new artifact when the chart's
	// version (or the values files) change.
	ReconcileStrategyChartVersion = "ChartVersion"
	// ReconcileStrategyRevision builds a new artifact whenever the
	// source's revision changes: the revision is appended to the chart's
	// version as build metadata.
	ReconcileStrategyRevision = "Revision"
)

// HelmChartSpec says which chart to package, from which source, with which
// values files.
type HelmChartSpec struct {
	// Chart is the name of a chart in a HelmRepository, or, for a
	// GitRepository, OCIRepository or Bucket source, the path of the
	// chart's directory inside the source's artifact.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	Chart string `json:"chart"`

	// Version is a semver range (Masterminds syntax) selecting the chart
	// version in a HelmRepository: the highest matching one; "*" (the
	// default) is the latest stable version. Ignored for charts from a
	// GitRepository, OCIRepository or Bucket, whose Chart.yaml decides.
	// +optional
	// +kubebuilder:default="*"
	// +kubebuilder:validation:MaxLength=1024
	Version string `json:"version,omitempty"`

	// SourceRef is the source the chart comes from.
	// +required
	SourceRef LocalHelmChartSourceReference `json:"sourceRef"`

	// Interval is how often the source is checked for a new chart.
	// +required
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
	Interval metav1.Duration `json:"interval"`

	// ReconcileStrategy says what makes a new artifact: ChartVersion (the
	// default), a new chart version; Revision, a new revision of the
	// source (appended to the version as build metadata).
	// +optional
	// +kubebuilder:validation:Enum=ChartVersion;Revision
	// +kubebuilder:default=ChartVersion
	ReconcileStrategy string `json:"reconcileStrategy,omitempty"`

	// ValuesFiles are values files merged in order into the chart's
	// values.yaml, which they replace: paths inside the chart for a chart
	// from a HelmRepository, inside the source's artifact otherwise.
	// +optional
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=2048
	// +listType=atomic
	ValuesFiles []string `json:"valuesFiles,omitempty"`

	// IgnoreMissingValuesFiles skips values files that are not there
	// instead of failing.
	// +optional
	IgnoreMissingValuesFiles bool `json:"ignoreMissingValuesFiles,omitempty"`

	// Verify checks the cosign signature of a chart pulled from an oci
	// HelmRepository before it is pulled.
	// +optional
	Verify *OCIRepositoryVerification `json:"verify,omitempty"`

	// Suspend stops the controller from reconciling the object.
	// +optional
	Suspend bool `json:"suspend,omitempty"`
}

// LocalHelmChartSourceReference names the source of a HelmChart, in its
// namespace.
type LocalHelmChartSourceReference struct {
	// APIVersion of the source; source.gitopskit.dev/v1 when empty.
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
}

// HelmChartStatus is what the controller observed.
type HelmChartStatus struct {
	// ObservedGeneration is the last generation the controller acted on.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// ObservedSourceArtifactRevision is the revision of the source's
	// artifact the chart was built from (the digest of a HelmRepository's
	// index, a GitRepository's commit, an OCI chart's tag and digest).
	// +optional
	ObservedSourceArtifactRevision string `json:"observedSourceArtifactRevision,omitempty"`

	// ObservedChartName is the name of the packaged chart (its Chart.yaml
	// name).
	// +optional
	ObservedChartName string `json:"observedChartName,omitempty"`

	// ObservedValuesFiles are the values files the artifact was built
	// with (without the missing ones ignored).
	// +optional
	// +listType=atomic
	ObservedValuesFiles []string `json:"observedValuesFiles,omitempty"`

	// Conditions: Ready, Reconciling, Stalled, ArtifactInStorage,
	// SourceVerified.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// URL is the download link of the packaged chart: status.artifact.url,
	// kept here for Flux's field.
	// +optional
	URL string `json:"url,omitempty"`

	// Artifact is the packaged chart; its revision is the chart's version
	// (with build metadata for values files or the Revision strategy).
	// +optional
	Artifact *artifact.Artifact `json:"artifact,omitempty"`

	meta.ReconcileRequestStatus `json:",inline"`
}

// HelmChart keeps a packaged Helm chart, from a chart repository or from a
// source's artifact, as an artifact for HelmReleases.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=hc
// +kubebuilder:printcolumn:name="Chart",type=string,JSONPath=`.spec.chart`
// +kubebuilder:printcolumn:name="Version",type=string,JSONPath=`.spec.version`
// +kubebuilder:printcolumn:name="Source Kind",type=string,JSONPath=`.spec.sourceRef.kind`
// +kubebuilder:printcolumn:name="Source Name",type=string,JSONPath=`.spec.sourceRef.name`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].message`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type HelmChart struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   HelmChartSpec   `json:"spec,omitempty"`
	Status HelmChartStatus `json:"status,omitempty"`
}

// HelmChartList is a list of HelmCharts.
// +kubebuilder:object:root=true
type HelmChartList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []HelmChart `json:"items"`
}

// GetConditions returns the status conditions.
func (in *HelmChart) GetConditions() []metav1.Condition { return in.Status.Conditions }

// SetConditions replaces the status conditions.
func (in *HelmChart) SetConditions(c []metav1.Condition) { in.Status.Conditions = c }

// GetArtifact returns the packaged chart, or nil.
func (in *HelmChart) GetArtifact() *artifact.Artifact { return in.Status.Artifact }

// IsSuspended reports spec.suspend.
func (in *HelmChart) IsSuspended() bool { return in.Spec.Suspend }

// GetLastHandledReconcileAt returns the last handled reconcile request.
func (in *HelmChart) GetLastHandledReconcileAt() string { return in.Status.LastHandledReconcileAt }

// SetLastHandledReconcileAt records a handled reconcile request.
func (in *HelmChart) SetLastHandledReconcileAt(v string) { in.Status.LastHandledReconcileAt = v }

// GetInterval returns spec.interval.
func (in *HelmChart) GetInterval() time.Duration { return in.Spec.Interval.Duration }

// GetTimeout returns DefaultTimeout: a HelmChart has no spec.timeout (as
// Flux's); downloads from a HelmRepository are bounded by the
// repository's spec.timeout as well.
func (in *HelmChart) GetTimeout() time.Duration { return DefaultTimeout }
