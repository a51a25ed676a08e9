package v1

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitopskit/kit/examples/api/meta"
)

// AlertKind is the kind of Alert.
const AlertKind = "Alert"

// AlertSpec says which events of which objects notify a Provider.
type AlertSpec struct {
	// ProviderRef names the Provider, in the Alert's namespace, that
	// delivers the notifications.
	// +required
	ProviderRef meta.LocalObjectReference `json:"providerRef"`

	// EventSources are the objects whose events the Alert wants; an event
	// matches if it matches any of them. A namespace other than the
	// Alert's own (or "*") is followed only as far as gitopsd's
	// cross-namespace policy lets the Alert's namespace refer to it.
	// +required
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=256
	EventSources []CrossNamespaceObjectReference `json:"eventSources"`

	// EventSeverity is the lowest severity that notifies: info (every
	// event) or error. A resolution is sent whatever the severity, for an
	// object the Alert reported failing.
	// +optional
	// +kubebuilder:default=info
	// +kubebuilder:validation:Enum=info;error
	EventSeverity string `json:"eventSeverity,omitempty"`

	// InclusionList, when not empty, lets through only events whose
	// message matches one of these Go regular expressions.
	// +optional
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=1024
	InclusionList []string `json:"inclusionList,omitempty"`

	// ExclusionList drops events whose message matches any of these Go
	// regular expressions. A resolution bypasses both lists.
	// +optional
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=1024
	ExclusionList []string `json:"exclusionList,omitempty"`

	// EventMetadata is added to every notification's metadata; the
	// event's own keys win over it.
	// +optional
	// +kubebuilder:validation:MaxProperties=64
	EventMetadata map[string]string `json:"eventMetadata,omitempty"`

	// Summary is sent as the "summary" metadata of every notification.
	// +optional
	// +kubebuilder:validation:MaxLength=255
	Summary string `json:"summary,omitempty"`

	// ReminderInterval is how often a failure that goes on is notified
	// again, as one summary ("still failing, 12 times in 1h: …"). An
	// object that keeps failing in the same way otherwise notifies once,
	// when it starts failing, and once more when it is resolved. Not set
	// (or 0s): never a reminder.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
	ReminderInterval *metav1.Duration `json:"reminderInterval,omitempty"`

	// Suspend stops the Alert from notifying.
	// +optional
	Suspend bool `json:"suspend,omitempty"`
}

// AlertStatus is what the controller observed.
type AlertStatus struct {
	// ObservedGeneration is the last generation the controller acted on.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions: Ready (the Alert is valid and its Provider is Ready),
	// Reconciling, Stalled (an invalid regular expression).
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	meta.ReconcileRequestStatus `json:",inline"`
}

// Alert routes the events of the objects it names to a Provider.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Provider",type=string,JSONPath=`.spec.providerRef.name`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].message`
type Alert struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   AlertSpec   `json:"spec,omitempty"`
	Status AlertStatus `json:"status,omitempty"`
}

// AlertList is a list of Alerts.
// +kubebuilder:object:root=true
type AlertList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Alert `json:"items"`
}

// GetConditions returns the status conditions.
func (in *Alert) GetConditions() []metav1.Condition { return in.Status.Conditions }

// SetConditions replaces the status conditions.
func (in *Alert) SetConditions(c []metav1.Condition) { in.Status.Conditions = c }

// IsSuspended reports spec.suspend.
func (in *Alert) IsSuspended() bool { return in.Spec.Suspend }

// GetLastHandledReconcileAt returns the last handled reconcile request.
func (in *Alert) GetLastHandledReconcileAt() string { return in.Status.LastHandledReconcileAt }

// SetLastHandledReconcileAt records a handled reconcile request.
func (in *Alert) SetLastHandledReconcileAt(v string) { in.Status.LastHandledReconcileAt = v }

// GetInterval is zero: an Alert is checked again when it or its Provider
// changes, not on a period.
func (in *Alert) GetInterval() time.Duration { return 0 }

// GetReminderInterval returns spec.reminderInterval, zero when not set.
func (in *Alert) GetReminderInterval() time.Duration {
	if in.Spec.ReminderInterval != nil {
		return in.Spec.ReminderInterval.Duration
	}
	return 0
}
