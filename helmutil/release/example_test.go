package release_test

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitopskit/kit/helmutil/release"
	"github.com/gitopskit/kit/helmutil/values"
)

// Reconcile a release step by step, storing the state machine's Status,
// as a HelmRelease controller does (README: Usage), on the real API
// server.
func Example() {
	ctx := context.Background()
	restConfig, apiReader := env.Config(), env.Client()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "release-example-"}}
	if err := apiReader.Create(ctx, ns); err != nil {
		fmt.Println(err)
		return
	}
	ch := newChart("podinfo", "6.7.0", map[string]any{"greeting": "hi"}, map[string]string{"templates/cm.yaml": configMapTemplate})

	// One Runner per identity (a service account to impersonate, say),
	// kept across reconciles. The field manager is Helm's, per process.
	r, err := release.NewRunner(restConfig, release.WithFieldManager(fieldManager))
	if err != nil {
		fmt.Println(err)
		return
	}
	vals, err := values.Compose(ctx, apiReader, nil, map[string]any{"greeting": "hello"}, values.Options{Namespace: ns.Name})
	if err != nil {
		fmt.Println(err)
		return
	}
	req := release.Request{
		Release:        release.Ref{Name: "podinfo", Namespace: ns.Name},
		Chart:          ch, // a *chart.Chart: helmutil/chart, or Helm's loader
		ChartDigest:    "sha256:0123",
		Values:         vals.Values,
		ValuesChecksum: vals.Checksum,
		Sensitive:      vals.Sensitive, // masked in every error and log line
		Spec: release.Spec{
			Upgrade: release.Upgrade{Remediation: release.UpgradeRemediation{Retries: 3}},
			Drift:   release.Drift{Mode: release.DriftEnabled},
		},
	}
	var st release.Status // the controller keeps it in its object's status
	for {
		out, err := r.Step(ctx, req, &st) // observe, plan, run one action
		// persist st here, even after an error
		if errors.Is(err, release.ErrRender) {
			fmt.Println("the chart does not render:", err) // no value in the message
			return
		}
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%s %q\n", out.Decision.State, out.Decision.Action)
		if out.Done() { // in sync, stalled, waiting to retry, or drift warned
			fmt.Println(out.Current.Version, out.Current.Status, len(out.Inventory.Entries), "object")
			break
		}
	}

	// The HelmRelease is deleted: uninstall, dropping the history.
	if err := r.Uninstall(ctx, req.Release, req.Spec, &st); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(st.History), "snapshots")
	// Output:
	// Absent "install"
	// InSync ""
	// 1 deployed 1 object
	// 0 snapshots
}

// Plan is a pure function: a failed upgrade with retries left is rolled
// back to the last successful revision.
func ExamplePlan() {
	cur := release.Snapshot{Name: "podinfo", Namespace: "apps", Version: 4, Status: "failed", ConfigDigest: "d1"}
	d := release.Plan(release.Input{
		Release:      release.Ref{Name: "podinfo", Namespace: "apps"},
		Observed:     release.Observed{Current: &cur, RollbackTarget: 3},
		ConfigDigest: "d1",
		Spec:         release.Spec{Upgrade: release.Upgrade{Remediation: release.UpgradeRemediation{Retries: 2}}},
		Status: release.Status{
			History:             []release.Snapshot{cur},
			LastAttemptedAction: release.ActionUpgrade, LastAttemptedConfigDigest: "d1", UpgradeFailures: 1,
		},
	})
	fmt.Println(d.State, d.Action, d.RollbackTo, d.Remediation)
	fmt.Println(d.Reason)
	// Output:
	// Failed rollback 3 true
	// upgrade of revision 4 failed: rolling back to revision 3
}
