package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Strategies after a failed install or upgrade (strategy.name).
const (
	// RemediateOnFailure remediates as the remediation block says (the
	// default).
	RemediateOnFailure = "RemediateOnFailure"
	// RetryOnFailure leaves the failed release and retries after
	// strategy.retryInterval.
	RetryOnFailure = "RetryOnFailure"
)

// CRD policies (install.crds, upgrade.crds).
const (
	CRDsSkip          = "Skip"
	CRDsCreate        = "Create"
	CRDsCreateReplace = "CreateReplace"
)

// Strategy is what follows a failed install or upgrade.
type Strategy struct {
	// Name is RemediateOnFailure or RetryOnFailure.
	// +required
	// +kubebuilder:validation:Enum=RemediateOnFailure;RetryOnFailure
	Name string `json:"name"`
	// RetryInterval is RetryOnFailure's wait (5m when not set).
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
	RetryInterval *metav1.Duration `json:"retryInterval,omitempty"`
}

// Install configures installs.
// +kubebuilder:validation:XValidation:rule="!has(self.strategy) || self.strategy.name == 'RetryOnFailure' || !has(self.strategy.retryInterval)",message="install.strategy.retryInterval needs strategy.name RetryOnFailure"
type Install struct {
	// Timeout overrides spec.timeout.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
	Timeout *metav1.Duration `json:"timeout,omitempty"`
	// Remediation after a failed install.
	// +optional
	Remediation *InstallRemediation `json:"remediation,omitempty"`
	// Strategy after a failed install.
	// +optional
	Strategy *Strategy `json:"strategy,omitempty"`
	// +optional
	DisableWait bool `json:"disableWait,omitempty"`
	// +optional
	DisableWaitForJobs bool `json:"disableWaitForJobs,omitempty"`
	// +optional
	DisableHooks bool `json:"disableHooks,omitempty"`
	// +optional
	DisableOpenAPIValidation bool `json:"disableOpenAPIValidation,omitempty"`
	// +optional
	DisableSchemaValidation bool `json:"disableSchemaValidation,omitempty"`
	// DisableTakeOwnership refuses to adopt existing objects of no
	// release.
	// +optional
	DisableTakeOwnership bool `json:"disableTakeOwnership,omitempty"`
	// Replace reuses the name of an uninstalled release kept in history.
	// +optional
	Replace bool `json:"replace,omitempty"`
	// CRDs is the policy for the chart's crds/: Skip, Create (the
	// default) or CreateReplace.
	// +optional
	// +kubebuilder:validation:Enum=Skip;Create;CreateReplace
	CRDs string `json:"crds,omitempty"`
	// CreateNamespace creates the target namespace when missing.
	// +optional
	CreateNamespace bool `json:"createNamespace,omitempty"`
}

// InstallRemediation is what follows a failed install under
// RemediateOnFailure.
type InstallRemediation struct {
	// Retries after the first failure; -1 for no limit.
	// +optional
	// +kubebuilder:validation:Minimum=-1
	Retries int `json:"retries,omitempty"`
	// IgnoreTestFailures overrides test.ignoreFailures after an install.
	// +optional
	IgnoreTestFailures *bool `json:"ignoreTestFailures,omitempty"`
	// RemediateLastFailure uninstalls after the last failure too.
	// +optional
	RemediateLastFailure *bool `json:"remediateLastFailure,omitempty"`
}

// Upgrade configures upgrades.
// +kubebuilder:validation:XValidation:rule="!has(self.strategy) || self.strategy.name == 'RetryOnFailure' || !has(self.strategy.retryInterval)",message="upgrade.strategy.retryInterval needs strategy.name RetryOnFailure"
type Upgrade struct {
	// Timeout overrides spec.timeout.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
	Timeout *metav1.Duration `json:"timeout,omitempty"`
	// Remediation after a failed upgrade.
	// +optional
	Remediation *UpgradeRemediation `json:"remediation,omitempty"`
	// Strategy after a failed upgrade.
	// +optional
	Strategy *Strategy `json:"strategy,omitempty"`
	// +optional
	DisableWait bool `json:"disableWait,omitempty"`
	// +optional
	DisableWaitForJobs bool `json:"disableWaitForJobs,omitempty"`
	// +optional
	DisableHooks bool `json:"disableHooks,omitempty"`
	// +optional
	DisableOpenAPIValidation bool `json:"disableOpenAPIValidation,omitempty"`
	// +optional
	DisableSchemaValidation bool `json:"disableSchemaValidation,omitempty"`
	// DisableTakeOwnership refuses to adopt existing objects of no
	// release.
	// +optional
	DisableTakeOwnership bool `json:"disableTakeOwnership,omitempty"`
	// Force replaces objects (delete and create) when an update fails.
	// +optional
	Force bool `json:"force,omitempty"`
	// PreserveValues merges the last release's values under the new ones.
	// +optional
	PreserveValues bool `json:"preserveValues,omitempty"`
	// CleanupOnFail deletes the objects a failed upgrade created.
	// +optional
	CleanupOnFail bool `json:"cleanupOnFail,omitempty"`
	// CRDs is the policy for the chart's crds/: Skip (the default), Create
	// or CreateReplace.
	// +optional
	// +kubebuilder:validation:Enum=Skip;Create;CreateReplace
	CRDs string `json:"crds,omitempty"`
}

// UpgradeRemediation is what follows a failed upgrade under
// RemediateOnFailure.
type UpgradeRemediation struct {
	// Retries after the first failure; -1 for no limit.
	// +optional
	// +kubebuilder:validation:Minimum=-1
	Retries int `json:"retries,omitempty"`
	// IgnoreTestFailures overrides test.ignoreFailures after an upgrade.
	// +optional
	IgnoreTestFailures *bool `json:"ignoreTestFailures,omitempty"`
	// RemediateLastFailure remediates after the last failure too (by
	// default only when retries is above zero).
	// +optional
	RemediateLastFailure *bool `json:"remediateLastFailure,omitempty"`
	// Strategy is rollback (the default) or uninstall.
	// +optional
	// +kubebuilder:validation:Enum=rollback;uninstall
	Strategy string `json:"strategy,omitempty"`
}

// Test configures Helm tests.
type Test struct {
	// Enable runs the chart's tests after each install and upgrade.
	// +optional
	Enable bool `json:"enable,omitempty"`
	// Timeout overrides spec.timeout.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
	Timeout *metav1.Duration `json:"timeout,omitempty"`
	// IgnoreFailures makes a failed test no failure of the release.
	// +optional
	IgnoreFailures bool `json:"ignoreFailures,omitempty"`
	// Filters select the tests to run by name.
	// +optional
	// +kubebuilder:validation:MaxItems=64
	Filters []TestFilter `json:"filters,omitempty"`
}

// TestFilter selects (or, with exclude, leaves out) a test by name.
type TestFilter struct {
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
	// +optional
	Exclude bool `json:"exclude,omitempty"`
}

// Rollback configures rollbacks.
type Rollback struct {
	// Timeout overrides spec.timeout.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
	Timeout *metav1.Duration `json:"timeout,omitempty"`
	// +optional
	DisableWait bool `json:"disableWait,omitempty"`
	// +optional
	DisableWaitForJobs bool `json:"disableWaitForJobs,omitempty"`
	// +optional
	DisableHooks bool `json:"disableHooks,omitempty"`
	// Force replaces objects (delete and create) when an update fails.
	// +optional
	Force bool `json:"force,omitempty"`
	// +optional
	CleanupOnFail bool `json:"cleanupOnFail,omitempty"`
}

// Uninstall configures uninstalls.
type Uninstall struct {
	// Timeout overrides spec.timeout.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
	Timeout *metav1.Duration `json:"timeout,omitempty"`
	// +optional
	DisableHooks bool `json:"disableHooks,omitempty"`
	// KeepHistory keeps the release's records, marked uninstalled.
	// +optional
	KeepHistory bool `json:"keepHistory,omitempty"`
	// +optional
	DisableWait bool `json:"disableWait,omitempty"`
	// DeletionPropagation is background (the default), foreground or
	// orphan.
	// +optional
	// +kubebuilder:validation:Enum=background;foreground;orphan
	DeletionPropagation string `json:"deletionPropagation,omitempty"`
}
