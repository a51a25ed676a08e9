package helm

import (
	"strings"
	"testing"

	"github.com/gitopskit/kit/runtime/conditions"

	helmv1 "github.com/gitopskit/kit/examples/api/helm/v1"
)

// nameTemplate renders a ConfigMap whose name ends in .Values.suffix: an
// upper-case suffix makes the API server refuse it.
const nameTemplate = `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-{{ .Values.suffix | default "config" }}
data:
  greeting: {{ .Values.greeting | default "hello" | quote }}
`

// TestHelmReleaseUpgradeRemediation: a failing upgrade with one retry is
// rolled back, tried once more, rolled back again, then stalled with the
// failure counted; a reset request clears the counters and the upgrade is
// tried again; a fixed spec then upgrades and clears them.
func TestHelmReleaseUpgradeRemediation(t *testing.T) {
	f := newFixture(t)
	f.helmChart("app", f.chartArtifact("app", "1.0.0", map[string]string{"cm.yaml": nameTemplate}, nil))
	hr := f.helmRelease("rem", "app", func(h *helmv1.HelmRelease) {
		h.Spec.Values = inline("greeting", `"v1"`)
		h.Spec.Upgrade = &helmv1.Upgrade{Remediation: &helmv1.UpgradeRemediation{Retries: 1}}
	})
	f.waitReady(hr, 1)

	f.update(hr, func(h *helmv1.HelmRelease) { h.Spec.Values = inline("greeting", `"v2"`, "suffix", `"BAD"`) })
	got := f.waitFor(hr, "stalled after the retries", func(h *helmv1.HelmRelease) bool {
		return conditions.IsTrue(h, conditions.Stalled) && h.Status.ObservedGeneration == h.Generation
	})
	if c := conditions.Get(got, conditions.Ready); c.Reason != UpgradeFailedReason {
		t.Fatalf("Ready %+v", c)
	}
	if c := conditions.Get(got, helmv1.RemediatedCondition); c == nil || c.Reason != RollbackSucceededReason {
		t.Fatalf("Remediated %+v", c)
	}
	if c := conditions.Get(got, helmv1.ReleasedCondition); c == nil || c.Status != "False" || c.Reason != UpgradeFailedReason {
		t.Fatalf("Released %+v", c)
	}
	if got.Status.UpgradeFailures != 2 {
		t.Fatalf("upgrade failures %d, want 2", got.Status.UpgradeFailures)
	}
	// upgrade, rollback, upgrade, rollback after revision 1
	if l := got.Status.Latest(); l.Version != 5 || l.Status != "deployed" {
		t.Fatalf("latest %+v", l)
	}
	if cm := f.configMap(f.ns, "rem-config"); cm == nil || cm.Data["greeting"] != "v1" {
		t.Fatalf("after the rollbacks %+v", cm)
	}
	before := f.revisions(f.ns, "rem")
	var rolledBack, warned bool
	for _, e := range events.of(f.ns, "rem") {
		rolledBack = rolledBack || (e.eventType == "Normal" && e.reason == RollbackSucceededReason)
		warned = warned || (e.eventType == "Warning" && e.reason == UpgradeFailedReason && strings.Contains(e.message, "upgrade of release"))
	}
	if !rolledBack || !warned {
		t.Fatalf("events: RollbackSucceeded %v, UpgradeFailed warning %v: %+v", rolledBack, warned, events.of(f.ns, "rem"))
	}

	token := f.request(hr, false, true)
	got = f.waitFor(hr, "stalled again after the reset", func(h *helmv1.HelmRelease) bool {
		return h.Status.LastHandledReconcileAt == token && conditions.IsTrue(h, conditions.Stalled)
	})
	if after := got.Status.Latest().Version; after <= 5 {
		t.Fatalf("the reset did not retry: latest revision %d (%d records before)", after, before)
	}

	f.update(hr, func(h *helmv1.HelmRelease) { h.Spec.Values = inline("greeting", `"v3"`) })
	got = f.waitFor(hr, "fixed", func(h *helmv1.HelmRelease) bool {
		return conditions.IsReady(h) && h.Status.ObservedGeneration == h.Generation
	})
	if got.Status.UpgradeFailures != 0 || conditions.Has(got, helmv1.RemediatedCondition) {
		t.Fatalf("after the fix: failures %d, conditions %+v", got.Status.UpgradeFailures, got.Status.Conditions)
	}
	if cm := f.configMap(f.ns, "rem-config"); cm.Data["greeting"] != "v3" {
		t.Fatalf("greeting %q", cm.Data["greeting"])
	}
}

// TestHelmReleaseInstallRemediation: a failing install with one retry is
// uninstalled and tried again, then stalled.
func TestHelmReleaseInstallRemediation(t *testing.T) {
	f := newFixture(t)
	f.helmChart("app", f.chartArtifact("app", "1.0.0", map[string]string{"cm.yaml": nameTemplate}, nil))
	hr := f.helmRelease("irem", "app", func(h *helmv1.HelmRelease) {
		h.Spec.Values = inline("suffix", `"BAD"`)
		h.Spec.Install = &helmv1.Install{Remediation: &helmv1.InstallRemediation{Retries: 1}}
	})
	got := f.waitFor(hr, "stalled", func(h *helmv1.HelmRelease) bool { return conditions.IsTrue(h, conditions.Stalled) })
	if c := conditions.Get(got, conditions.Ready); c.Reason != InstallFailedReason {
		t.Fatalf("Ready %+v", c)
	}
	if got.Status.InstallFailures != 2 {
		t.Fatalf("install failures %d, want 2", got.Status.InstallFailures)
	}
	if c := conditions.Get(got, helmv1.RemediatedCondition); c == nil || c.Reason != UninstallSucceededReason {
		t.Fatalf("Remediated %+v", c)
	}
}
