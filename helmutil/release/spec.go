package release

import (
	"fmt"
	"time"

	"github.com/gitopskit/kit/ssa"
)

// Defaults of a Spec's zero fields.
const (
	// DefaultTimeout bounds each action (its writes, waits and hooks).
	DefaultTimeout = 5 * time.Minute
	// DefaultMaxHistory is how many revisions Helm's storage and
	// Status.History keep.
	DefaultMaxHistory = 5
	// DefaultRetryInterval is how long RetryOnFailure waits before
	// retrying a failed action.
	DefaultRetryInterval = 5 * time.Minute
)

// Spec says how a release is installed, upgraded, tested, rolled back,
// uninstalled and checked for drift: the install, upgrade, test, rollback,
// uninstall and driftDetection blocks of a HelmRelease, plus its timeout,
// maxHistory and healthCheckExprs. The zero value is the sane default:
// five-minute timeouts, waiting for every object, CRDs created on install
// and left alone on upgrade, no tests, no drift detection, and a failure
// left for a human after the first attempt (retries 0), as Flux does.
type Spec struct {
	// Timeout bounds each action unless its block says otherwise;
	// DefaultTimeout when zero.
	Timeout time.Duration
	// MaxHistory caps the revisions kept in Helm's storage and in
	// Status.History; DefaultMaxHistory when zero, unlimited when
	// negative (a HelmRelease's maxHistory 0).
	MaxHistory int
	Install    Install
	Upgrade    Upgrade
	Test       Test
	Rollback   Rollback
	Uninstall  Uninstall
	Drift      Drift
	// PostRender changes the rendered manifests before they are applied.
	PostRender PostRender
	// HealthRules decide, for the kinds they name, when a released object
	// is ready (a HelmRelease's healthCheckExprs); other kinds use kstatus.
	HealthRules []ssa.HealthRule
}

// Strategy is what happens after a failed install or upgrade.
type Strategy string

const (
	// RemediateOnFailure (the default) remediates a failure as the
	// action's remediation says: an uninstall after a failed install, a
	// rollback (or an uninstall) after a failed upgrade, then retries up
	// to Retries times.
	RemediateOnFailure Strategy = "RemediateOnFailure"
	// RetryOnFailure leaves a failed release as it is and retries the
	// action (as an upgrade) after RetryInterval, without limit and
	// without remediation.
	RetryOnFailure Strategy = "RetryOnFailure"
)

// RemediationStrategy is how a failed upgrade is remediated.
type RemediationStrategy string

const (
	// RemediateRollback rolls back to the last successful revision (the
	// default). Without one, the release is uninstalled instead.
	RemediateRollback RemediationStrategy = "rollback"
	// RemediateUninstall uninstalls the release.
	RemediateUninstall RemediationStrategy = "uninstall"
)

// CRDPolicy says what happens to the CustomResourceDefinitions of a
// chart's crds/ directory.
type CRDPolicy string

const (
	// CRDsSkip neither creates nor updates them.
	CRDsSkip CRDPolicy = "Skip"
	// CRDsCreate creates those that do not exist and leaves the others
	// alone (the install default).
	CRDsCreate CRDPolicy = "Create"
	// CRDsCreateReplace creates those that do not exist and updates the
	// others. CRDs are never deleted.
	CRDsCreateReplace CRDPolicy = "CreateReplace"
)

// Install configures install actions.
type Install struct {
	// Timeout overrides Spec.Timeout.
	Timeout time.Duration
	// CRDs is the CRD policy; CRDsCreate when empty.
	CRDs CRDPolicy
	// CreateNamespace creates the release namespace when it is missing
	// (it is not deleted on uninstall).
	CreateNamespace bool
	// Replace reuses the name of an uninstalled release kept in history.
	Replace                  bool
	DisableHooks             bool
	DisableWait              bool
	DisableWaitForJobs       bool
	DisableOpenAPIValidation bool
	DisableSchemaValidation  bool
	// DisableTakeOwnership refuses to adopt existing objects that belong
	// to no release; by default they are adopted.
	DisableTakeOwnership bool
	// Strategy is RemediateOnFailure when empty.
	Strategy Strategy
	// RetryInterval is RetryOnFailure's wait; DefaultRetryInterval when
	// zero.
	RetryInterval time.Duration
	Remediation   InstallRemediation
}

// InstallRemediation configures what follows a failed install under
// RemediateOnFailure: the release is uninstalled and installed again, up
// to Retries times.
type InstallRemediation struct {
	// Retries after the first failure; negative means without limit.
	Retries int
	// IgnoreTestFailures overrides Test.IgnoreFailures after an install.
	IgnoreTestFailures *bool
	// RemediateLastFailure uninstalls the release after the last failure
	// too; by default the failed release is left for inspection.
	RemediateLastFailure bool
}

// Upgrade configures upgrade actions.
type Upgrade struct {
	// Timeout overrides Spec.Timeout.
	Timeout time.Duration
	// CRDs is the CRD policy; CRDsSkip when empty.
	CRDs                     CRDPolicy
	DisableHooks             bool
	DisableWait              bool
	DisableWaitForJobs       bool
	DisableOpenAPIValidation bool
	DisableSchemaValidation  bool
	// DisableTakeOwnership refuses to adopt existing objects that belong
	// to no release; by default they are adopted.
	DisableTakeOwnership bool
	// Force replaces objects (delete and create) when an update fails.
	Force bool
	// PreserveValues merges the last release's values under the new
	// ones (Helm's --reuse-values); it makes the release depend on its
	// history.
	PreserveValues bool
	// CleanupOnFail deletes the objects a failed upgrade created.
	CleanupOnFail bool
	// Strategy is RemediateOnFailure when empty.
	Strategy Strategy
	// RetryInterval is RetryOnFailure's wait; DefaultRetryInterval when
	// zero.
	RetryInterval time.Duration
	Remediation   UpgradeRemediation
}

// UpgradeRemediation configures what follows a failed upgrade under
// RemediateOnFailure: the release is rolled back (or uninstalled) and
// upgraded again, up to Retries times.
type UpgradeRemediation struct {
	// Retries after the first failure; negative means without limit.
	Retries int
	// IgnoreTestFailures overrides Test.IgnoreFailures after an upgrade.
	IgnoreTestFailures *bool
	// RemediateLastFailure remediates after the last failure too; by
	// default only when Retries is above zero, as Flux does.
	RemediateLastFailure *bool
	// Strategy is RemediateRollback when empty.
	Strategy RemediationStrategy
}

// Test configures the test action, run after each install or upgrade.
type Test struct {
	Enable bool
	// Timeout overrides Spec.Timeout.
	Timeout time.Duration
	// IgnoreFailures makes a failed test count as a success.
	IgnoreFailures bool
	// Filters select the tests to run by name.
	Filters []TestFilter
}

// TestFilter selects (or, with Exclude, leaves out) the test hook Name.
type TestFilter struct {
	Name    string
	Exclude bool
}

// Rollback configures rollbacks.
type Rollback struct {
	// Timeout overrides Spec.Timeout.
	Timeout            time.Duration
	DisableHooks       bool
	DisableWait        bool
	DisableWaitForJobs bool
	// Force replaces objects (delete and create) when an update fails.
	Force         bool
	CleanupOnFail bool
}

// Uninstall configures uninstalls.
type Uninstall struct {
	// Timeout overrides Spec.Timeout.
	Timeout      time.Duration
	DisableHooks bool
	// KeepHistory keeps the release records, marked uninstalled.
	KeepHistory bool
	DisableWait bool
	// DeletionPropagation is "background" (the default), "foreground" or
	// "orphan".
	DeletionPropagation string
}

// DriftMode says what happens when the cluster no longer matches the
// release's manifest.
type DriftMode string

const (
	// DriftDisabled checks nothing (the default).
	DriftDisabled DriftMode = "disabled"
	// DriftEnabled reports drift and corrects it.
	DriftEnabled DriftMode = "enabled"
	// DriftWarn reports drift and leaves it.
	DriftWarn DriftMode = "warn"
)

// Drift configures drift detection.
type Drift struct {
	// Mode is DriftDisabled when empty.
	Mode DriftMode
	// Ignore rules leave fields out of the comparison and out of the
	// correction (which keeps their live values).
	Ignore []ssa.IgnoreRule
	// IncludeOthersFields counts as drift the fields that other field
	// managers own (an autoscaler's replicas, a webhook's injections); by
	// default only fields changed by hand (kubectl and its kin, see
	// ssa.DefaultTakeoverManagers) or owned by the release count.
	IncludeOthersFields bool
}

// PostRender changes the rendered manifests (not the hooks) before they
// are applied: kustomize patches and image overrides, then common
// metadata, built in memory (a HelmRelease's postRenderers and
// commonMetadata).
type PostRender struct {
	// Patches are strategic merge or JSON 6902 patches (JSON 6902 ones
	// need a Target).
	Patches []Patch
	// Images rewrite container images.
	Images []Image
	// Labels and Annotations are set on every object.
	Labels      map[string]string
	Annotations map[string]string
}

// Patch is an inline kustomize patch and the objects it targets.
type Patch struct {
	Patch  string
	Target *Selector
}

// Selector picks objects; empty fields match anything, Name and
// Namespace are regular expressions.
type Selector struct {
	Group, Version, Kind, Name, Namespace string
	LabelSelector, AnnotationSelector     string
}

// Image rewrites the image Name: NewName replaces the repository, NewTag
// the tag, Digest pins a digest.
type Image struct {
	Name, NewName, NewTag, Digest string
}

// IsZero reports whether the post-render changes nothing.
func (p PostRender) IsZero() bool {
	return len(p.Patches) == 0 && len(p.Images) == 0 && len(p.Labels) == 0 && len(p.Annotations) == 0
}

// Validate checks the enumerations and durations of the Spec; the error
// matches ErrInvalidSpec and names the field.
func (s Spec) Validate() error {
	bad := func(field string, v any) error {
		return fmt.Errorf("%w: %s: %v is not allowed", ErrInvalidSpec, field, v)
	}
	for _, d := range []struct {
		field string
		v     time.Duration
	}{{"timeout", s.Timeout}, {"install.timeout", s.Install.Timeout}, {"upgrade.timeout", s.Upgrade.Timeout},
		{"test.timeout", s.Test.Timeout}, {"rollback.timeout", s.Rollback.Timeout}, {"uninstall.timeout", s.Uninstall.Timeout},
		{"install.retryInterval", s.Install.RetryInterval}, {"upgrade.retryInterval", s.Upgrade.RetryInterval}} {
		if d.v < 0 {
			return bad(d.field, d.v)
		}
	}
	for _, c := range []struct {
		field string
		v     CRDPolicy
	}{{"install.crds", s.Install.CRDs}, {"upgrade.crds", s.Upgrade.CRDs}} {
		switch c.v {
		case "", CRDsSkip, CRDsCreate, CRDsCreateReplace:
		default:
			return bad(c.field, c.v)
		}
	}
	for _, c := range []struct {
		field string
		v     Strategy
	}{{"install.strategy", s.Install.Strategy}, {"upgrade.strategy", s.Upgrade.Strategy}} {
		switch c.v {
		case "", RemediateOnFailure, RetryOnFailure:
		default:
			return bad(c.field, c.v)
		}
	}
	switch s.Upgrade.Remediation.Strategy {
	case "", RemediateRollback, RemediateUninstall:
	default:
		return bad("upgrade.remediation.strategy", s.Upgrade.Remediation.Strategy)
	}
	switch s.Uninstall.DeletionPropagation {
	case "", "background", "foreground", "orphan":
	default:
		return bad("uninstall.deletionPropagation", s.Uninstall.DeletionPropagation)
	}
	switch s.Drift.Mode {
	case "", DriftDisabled, DriftEnabled, DriftWarn:
	default:
		return bad("driftDetection.mode", s.Drift.Mode)
	}
	for i, r := range s.Drift.Ignore {
		for _, p := range r.Paths {
			if _, err := ssa.ParseJSONPointer(p); err != nil {
				return fmt.Errorf("%w: driftDetection.ignore[%d]: %v", ErrInvalidSpec, i, err)
			}
		}
	}
	for i, f := range s.Test.Filters {
		if f.Name == "" {
			return fmt.Errorf("%w: test.filters[%d]: empty name", ErrInvalidSpec, i)
		}
	}
	return nil
}

func (s Spec) timeout(block time.Duration) time.Duration {
	switch {
	case block > 0:
		return block
	case s.Timeout > 0:
		return s.Timeout
	}
	return DefaultTimeout
}

func (s Spec) maxHistory() int {
	switch {
	case s.MaxHistory == 0:
		return DefaultMaxHistory
	case s.MaxHistory < 0:
		return 0 // Helm's "unlimited"
	}
	return s.MaxHistory
}

// retries, strategy and the other accessors give the remediation knobs of
// the action a failure belongs to (install, or anything else as upgrade).
func (s Spec) retries(a Action) int {
	if a == ActionInstall {
		return s.Install.Remediation.Retries
	}
	return s.Upgrade.Remediation.Retries
}

func (s Spec) strategy(a Action) Strategy {
	st := s.Upgrade.Strategy
	if a == ActionInstall {
		st = s.Install.Strategy
	}
	if st == "" {
		return RemediateOnFailure
	}
	return st
}

func (s Spec) retryInterval(a Action) time.Duration {
	d := s.Upgrade.RetryInterval
	if a == ActionInstall {
		d = s.Install.RetryInterval
	}
	if d <= 0 {
		return DefaultRetryInterval
	}
	return d
}

func (s Spec) remediateLastFailure(a Action) bool {
	if a == ActionInstall {
		return s.Install.Remediation.RemediateLastFailure
	}
	if r := s.Upgrade.Remediation.RemediateLastFailure; r != nil {
		return *r
	}
	return s.Upgrade.Remediation.Retries > 0
}

func (s Spec) ignoreTestFailures(a Action) bool {
	o := s.Upgrade.Remediation.IgnoreTestFailures
	if a == ActionInstall {
		o = s.Install.Remediation.IgnoreTestFailures
	}
	if o != nil {
		return *o
	}
	return s.Test.IgnoreFailures
}

func (s Spec) driftMode() DriftMode {
	if s.Drift.Mode == "" {
		return DriftDisabled
	}
	return s.Drift.Mode
}
