package v1

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitopskit/kit/examples/api/meta"
)

// ProviderKind is the kind of Provider.
const ProviderKind = "Provider"

// Keys of the Secrets a Provider references, as Flux names them.
const (
	// SecretAddressKey overrides spec.address (a webhook URL is a secret).
	SecretAddressKey = "address"
	// SecretTokenKey is the API token, bot token, routing key or HMAC key.
	SecretTokenKey = "token"
	// SecretUsernameKey overrides spec.username.
	SecretUsernameKey = "username"
	// SecretPasswordKey is the password of basic auth.
	SecretPasswordKey = "password"
	// SecretHeadersKey holds HTTP headers added to every request, as a YAML
	// or JSON map of strings.
	SecretHeadersKey = "headers"
	// SecretProxyKey is Flux's deprecated proxy URL key of secretRef; the
	// proxySecretRef's "address" wins over it.
	SecretProxyKey = "proxy"
	// CACertKey is the PEM CA bundle of certSecretRef.
	CACertKey = "ca.crt"
	// TLSCertKey and TLSKeyKey are an optional PEM client certificate and
	// key of certSecretRef.
	TLSCertKey = "tls.crt"
	// TLSKeyKey is the client certificate's private key.
	TLSKeyKey = "tls.key"
)

// DefaultProviderInterval is how often a Provider re-reads its Secrets to
// report Ready when spec.interval is not set.
const DefaultProviderInterval = 10 * time.Minute

// ProviderSpec says where notifications go: the service, its address and
// the credentials, read from Secrets of the Provider's namespace.
type ProviderSpec struct {
	// Type is the service (events/providers' registry).
	// +required
	// +kubebuilder:validation:Enum=alertmanager;azuredevops;bitbucket;bitbucketserver;datadog;discord;generic;generic-hmac;gitea;github;githubdispatch;gitlab;googlechat;grafana;lark;matrix;mattermost;msteams;opsgenie;pagerduty;rocket;sentry;slack;telegram;webex;zulip
	Type string `json:"type"`

	// Address is the webhook URL, API endpoint or repository URL; the
	// secretRef's "address" key wins over it (a webhook URL is a
	// credential). Some types have a default (the service's public API).
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:Pattern="^(http|https)://.*$"
	Address string `json:"address,omitempty"`

	// Channel is the channel, room, chat, stream/topic or routing key.
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	Channel string `json:"channel,omitempty"`

	// Username is the name to post as, or the user of basic auth; the
	// secretRef's "username" key wins over it.
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	Username string `json:"username,omitempty"`

	// SecretRef names a Secret of the Provider's namespace with any of the
	// keys address, token, username, password, headers (a YAML map) and
	// proxy. It is read from the API server, never cached by gitopsd.
	// +optional
	SecretRef *meta.LocalObjectReference `json:"secretRef,omitempty"`

	// CertSecretRef names a Secret whose ca.crt (and optional tls.crt and
	// tls.key) configure HTTPS to the service.
	// +optional
	CertSecretRef *meta.LocalObjectReference `json:"certSecretRef,omitempty"`

	// ProxySecretRef names a Secret whose keys address (required),
	// username and password configure an HTTP proxy.
	// +optional
	ProxySecretRef *meta.LocalObjectReference `json:"proxySecretRef,omitempty"`

	// Timeout bounds each request to the service (15s when not set).
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m))+$"
	Timeout *metav1.Duration `json:"timeout,omitempty"`

	// Interval is how often the Provider's Secrets are read again to report
	// Ready (10m when not set). The hub notices a changed Secret on its own,
	// within gitopsd's secret recheck period.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
	Interval *metav1.Duration `json:"interval,omitempty"`

	// Suspend stops notifications through this Provider.
	// +optional
	Suspend bool `json:"suspend,omitempty"`
}

// ProviderStatus is what the controller observed.
type ProviderStatus struct {
	// ObservedGeneration is the last generation the controller acted on.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions: Ready (the Secrets resolve and the configuration is
	// valid), Reconciling, Stalled.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	meta.ReconcileRequestStatus `json:",inline"`
}

// Provider is a notification service and its credentials.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Type",type=string,JSONPath=`.spec.type`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].message`
type Provider struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   ProviderSpec   `json:"spec,omitempty"`
	Status ProviderStatus `json:"status,omitempty"`
}

// ProviderList is a list of Providers.
// +kubebuilder:object:root=true
type ProviderList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Provider `json:"items"`
}

// GetConditions returns the status conditions.
func (in *Provider) GetConditions() []metav1.Condition { return in.Status.Conditions }

// SetConditions replaces the status conditions.
func (in *Provider) SetConditions(c []metav1.Condition) { in.Status.Conditions = c }

// IsSuspended reports spec.suspend.
func (in *Provider) IsSuspended() bool { return in.Spec.Suspend }

// GetLastHandledReconcileAt returns the last handled reconcile request.
func (in *Provider) GetLastHandledReconcileAt() string { return in.Status.LastHandledReconcileAt }

// SetLastHandledReconcileAt records a handled reconcile request.
func (in *Provider) SetLastHandledReconcileAt(v string) { in.Status.LastHandledReconcileAt = v }

// GetInterval returns spec.interval, DefaultProviderInterval when not set.
func (in *Provider) GetInterval() time.Duration {
	if in.Spec.Interval != nil && in.Spec.Interval.Duration > 0 {
		return in.Spec.Interval.Duration
	}
	return DefaultProviderInterval
}

// GetTimeout returns spec.timeout, zero (the provider's default) when not
// set.
func (in *Provider) GetTimeout() time.Duration {
	if in.Spec.Timeout != nil {
		return in.Spec.Timeout.Duration
	}
	return 0
}
