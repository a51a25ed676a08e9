package release

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Status is what the state machine needs to remember between steps; a
// controller stores it in its object's status (its JSON field names are
// Flux's) and hands it back to each Step. The zero value is a release that
// was never attempted.
type Status struct {
	// History holds snapshots of the release's revisions, newest first,
	// at most Spec.MaxHistory of them.
	History []Snapshot `json:"history,omitempty"`
	// LastAttemptedAction is ActionInstall or ActionUpgrade: the action
	// whose remediation applies to a failure.
	LastAttemptedAction Action `json:"lastAttemptedReleaseAction,omitempty"`
	// LastAttemptedConfigDigest is the ConfigDigest of the last install
	// or upgrade attempted. A new desired state (another digest) starts
	// with fresh failure counters.
	LastAttemptedConfigDigest string `json:"lastAttemptedConfigDigest,omitempty"`
	// LastAttemptedRevision is the chart version of that attempt.
	LastAttemptedRevision string `json:"lastAttemptedRevision,omitempty"`
	// LastAttemptedValuesChecksum is the values checksum of that attempt.
	LastAttemptedValuesChecksum string `json:"lastAttemptedValuesChecksum,omitempty"`
	// Failures counts the failed steps against the desired state.
	Failures int64 `json:"failures,omitempty"`
	// InstallFailures and UpgradeFailures count the failed installs and
	// upgrades (and failed tests after them) against the desired state;
	// they are what Retries is compared with.
	InstallFailures int64 `json:"installFailures,omitempty"`
	UpgradeFailures int64 `json:"upgradeFailures,omitempty"`
	// LastFailureTime is when the last install or upgrade failed, for
	// RetryOnFailure's interval.
	LastFailureTime *metav1.Time `json:"lastFailureTime,omitempty"`
	// StorageNamespace is where the release's records are, as of the
	// latest snapshot.
	StorageNamespace string `json:"storageNamespace,omitempty"`
}

// ResetFailures clears the failure counters, so a release that ran out of
// retries is tried again (a HelmRelease's reset request).
func (s *Status) ResetFailures() {
	s.Failures, s.InstallFailures, s.UpgradeFailures = 0, 0, 0
	s.LastFailureTime = nil
}

// Latest returns the newest snapshot, or nil.
func (s *Status) Latest() *Snapshot {
	if len(s.History) == 0 {
		return nil
	}
	return &s.History[0]
}

// record puts snap at the head of the history (replacing the snapshot of
// the same revision) and caps the history at max entries (max <= 0: no
// cap).
func (s *Status) record(snap Snapshot, max int) {
	out := []Snapshot{snap}
	for _, h := range s.History {
		if h.Version == snap.Version && h.Name == snap.Name && h.Namespace == snap.Namespace {
			if snap.ChartDigest == "" {
				out[0].ChartDigest = h.ChartDigest
			}
			if snap.ValuesChecksum == "" {
				out[0].ValuesChecksum = h.ValuesChecksum
			}
			continue
		}
		out = append(out, h)
	}
	if max > 0 && len(out) > max {
		out = out[:max]
	}
	s.History = out
}

// refresh updates the Helm status (and deletion time) of the snapshots of
// revisions in recs.
func (s *Status) refresh(recs []*Snapshot) {
	for i := range s.History {
		for _, r := range recs {
			if r.Version == s.History[i].Version && r.Name == s.History[i].Name && r.Namespace == s.History[i].Namespace {
				s.History[i].Status, s.History[i].Deleted = r.Status, r.Deleted
			}
		}
	}
}

// failures returns the counter Retries is compared with for action a.
func (s *Status) failures(a Action) int64 {
	if a == ActionInstall {
		return s.InstallFailures
	}
	return s.UpgradeFailures
}

// Snapshot is what a Status records of one revision of the release.
type Snapshot struct {
	// Name, Namespace and Version identify the revision.
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	Version   int    `json:"version"`
	// Status is Helm's: deployed, failed, superseded, uninstalled,
	// pending-install, pending-upgrade, pending-rollback, uninstalling.
	Status       string `json:"status"`
	ChartName    string `json:"chartName"`
	ChartVersion string `json:"chartVersion"`
	AppVersion   string `json:"appVersion,omitempty"`
	// ConfigDigest is the digest of what the revision was made from (see
	// ConfigDigest); empty for a revision helmutil did not make.
	ConfigDigest string `json:"configDigest,omitempty"`
	// ValuesChecksum and ChartDigest are those of the request that made
	// the revision, when this Status saw it.
	ValuesChecksum string      `json:"valuesChecksum,omitempty"`
	ChartDigest    string      `json:"chartDigest,omitempty"`
	FirstDeployed  metav1.Time `json:"firstDeployed,omitempty"`
	LastDeployed   metav1.Time `json:"lastDeployed,omitempty"`
	// Deleted is when the revision was uninstalled.
	Deleted *metav1.Time `json:"deleted,omitempty"`
	// TestHooks are the revision's test hooks by name, with the result of
	// their last run for this revision (an empty Phase: not run).
	TestHooks map[string]TestHook `json:"testHooks,omitempty"`
}

// TestHook is the result of a test hook's last run.
type TestHook struct {
	// Phase is Helm's: Running, Succeeded, Failed, Unknown; empty when the
	// test has not run for this revision.
	Phase         string       `json:"phase,omitempty"`
	LastStarted   *metav1.Time `json:"lastStarted,omitempty"`
	LastCompleted *metav1.Time `json:"lastCompleted,omitempty"`
}

// DeepCopyInto copies s into out, for API types that embed a Status.
func (s *Status) DeepCopyInto(out *Status) {
	*out = *s
	if s.History != nil {
		out.History = make([]Snapshot, len(s.History))
		for i := range s.History {
			s.History[i].DeepCopyInto(&out.History[i])
		}
	}
	if s.LastFailureTime != nil {
		out.LastFailureTime = s.LastFailureTime.DeepCopy()
	}
}

// DeepCopy returns a copy of s.
func (s *Status) DeepCopy() *Status {
	if s == nil {
		return nil
	}
	out := new(Status)
	s.DeepCopyInto(out)
	return out
}

// DeepCopyInto copies s into out.
func (s *Snapshot) DeepCopyInto(out *Snapshot) {
	*out = *s
	s.FirstDeployed.DeepCopyInto(&out.FirstDeployed)
	s.LastDeployed.DeepCopyInto(&out.LastDeployed)
	if s.Deleted != nil {
		out.Deleted = s.Deleted.DeepCopy()
	}
	if s.TestHooks != nil {
		out.TestHooks = make(map[string]TestHook, len(s.TestHooks))
		for k, v := range s.TestHooks {
			var c TestHook
			v.DeepCopyInto(&c)
			out.TestHooks[k] = c
		}
	}
}

// DeepCopy returns a copy of s.
func (s *Snapshot) DeepCopy() *Snapshot {
	if s == nil {
		return nil
	}
	out := new(Snapshot)
	s.DeepCopyInto(out)
	return out
}

// DeepCopyInto copies h into out.
func (h *TestHook) DeepCopyInto(out *TestHook) {
	*out = *h
	if h.LastStarted != nil {
		out.LastStarted = h.LastStarted.DeepCopy()
	}
	if h.LastCompleted != nil {
		out.LastCompleted = h.LastCompleted.DeepCopy()
	}
}
