package v1

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitopskit/kit/examples/api/meta"
)

// ReceiverKind is the kind of Receiver.
const ReceiverKind = "Receiver"

// ReceiverTokenKey is the key of the Receiver's Secret holding the token.
const ReceiverTokenKey = "token"

// DefaultReceiverInterval is how often a Receiver's Secret is read again
// when spec.interval is not set (Flux's default).
const DefaultReceiverInterval = 10 * time.Minute

// ReceiverSpec says which webhooks to accept and which objects they ask
// to reconcile. A resource named "*" selects by matchLabels, which it then
// needs; a resource's apiVersion, when set, is of one of gitopsd's API
// groups (*.gitopskit.dev): a webhook never makes gitopsd annotate other
// objects.
// +kubebuilder:validation:XValidation:rule="self.resources.all(r, r.name != '*' || (has(r.matchLabels) && size(r.matchLabels) > 0))",message="a resource named '*' needs matchLabels",fieldPath=".resources"
// +kubebuilder:validation:XValidation:rule="self.resources.all(r, !has(r.apiVersion) || r.apiVersion.matches('^[a-z0-9.-]+[.]gitopskit[.]dev/[a-z0-9]+$'))",message="a resource's apiVersion must be of gitopsd's API groups (<group>.gitopskit.dev/<version>)",fieldPath=".resources"
type ReceiverSpec struct {
	// Type is the webhook sender (events/receivers' types).
	// +required
	// +kubebuilder:validation:Enum=bitbucket;cdevents;dockerhub;generic;generic-hmac;github;gitlab;harbor;nexus;quay
	Type string `json:"type"`

	// Interval is how often the Receiver's Secret is read again (10m when
	// not set).
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
	Interval *metav1.Duration `json:"interval,omitempty"`

	// Events, when not empty, lets through only these event types of the
	// sender (GitHub's X-GitHub-Event, GitLab's X-Gitlab-Event, …);
	// other events are answered 202 and trigger nothing.
	// +optional
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=256
	Events []string `json:"events,omitempty"`

	// Resources are the objects a verified webhook asks to reconcile.
	// +required
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=256
	Resources []CrossNamespaceObjectReference `json:"resources"`

	// SecretRef names the Secret, in the Receiver's namespace, whose
	// "token" key derives the webhook path and checks each request.
	// +required
	SecretRef meta.LocalObjectReference `json:"secretRef"`

	// Suspend answers every webhook 503 and triggers nothing.
	// +optional
	Suspend bool `json:"suspend,omitempty"`
}

// ReceiverStatus is what the controller observed.
type ReceiverStatus struct {
	// ObservedGeneration is the last generation the controller acted on.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions: Ready, Reconciling, Stalled.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// WebhookPath is the path the Receiver listens on, /hook/ and the
	// SHA-256 of token, name and namespace (events/receivers.WebhookPath).
	// +optional
	WebhookPath string `json:"webhookPath,omitempty"`

	meta.ReconcileRequestStatus `json:",inline"`
}

// Receiver is a webhook that asks for objects to be reconciled.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Type",type=string,JSONPath=`.spec.type`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].message`
type Receiver struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   ReceiverSpec   `json:"spec,omitempty"`
	Status ReceiverStatus `json:"status,omitempty"`
}

// ReceiverList is a list of Receivers.
// +kubebuilder:object:root=true
type ReceiverList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Receiver `json:"items"`
}

// GetConditions returns the status conditions.
func (in *Receiver) GetConditions() []metav1.Condition { return in.Status.Conditions }

// SetConditions replaces the status conditions.
func (in *Receiver) SetConditions(c []metav1.Condition) { in.Status.Conditions = c }

// IsSuspended reports spec.suspend.
func (in *Receiver) IsSuspended() bool { return in.Spec.Suspend }

// GetLastHandledReconcileAt returns the last handled reconcile request.
func (in *Receiver) GetLastHandledReconcileAt() string { return in.Status.LastHandledReconcileAt }

// SetLastHandledReconcileAt records a handled reconcile request.
func (in *Receiver) SetLastHandledReconcileAt(v string) { in.Status.LastHandledReconcileAt = v }

// GetInterval returns spec.interval, DefaultReceiverInterval when not set.
func (in *Receiver) GetInterval() time.Duration {
	if in.Spec.Interval != nil && in.Spec.Interval.Duration > 0 {
		return in.Spec.Interval.Duration
	}
	return DefaultReceiverInterval
}
