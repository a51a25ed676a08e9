package config_test

import (
	"context"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/examples/config"
)

// TestHelmReleaseFieldValidation checks that the API server rejects
// invalid HelmRelease specs naming the field (exactly one of chart and
// chartRef, kinds, enums, name lengths, durations, values references) and
// accepts valid ones.
func TestHelmReleaseFieldValidation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := env.Client()
	crds, err := config.CRDs()
	if err != nil {
		t.Fatal(err)
	}
	if err := env.InstallCRDs(ctx, crds...); err != nil {
		t.Fatal(err)
	}
	ns := env.Namespace(t)
	hr := func(spec string) *unstructured.Unstructured {
		t.Helper()
		doc := "apiVersion: helm.gitopskit.dev/v1\nkind: HelmRelease\nmetadata: {name: x, namespace: " + ns + "}\nspec:\n  interval: 5m\n" + spec
		var m map[string]any
		if err := utilyaml.Unmarshal([]byte(doc), &m); err != nil {
			t.Fatalf("%s: %v", doc, err)
		}
		return &unstructured.Unstructured{Object: m}
	}
	chart := "  chart:\n    spec:\n      chart: podinfo\n      sourceRef: {kind: HelmRepository, name: podinfo}\n"
	ref := "  chartRef: {kind: OCIRepository, name: podinfo}\n"
	for name, valid := range map[string]*unstructured.Unstructured{
		"chart": hr(chart + "  releaseName: " + strings.Repeat("r", 53) + "\n  targetNamespace: apps\n  storageNamespace: helm\n" +
			"  values: {replicaCount: 2, nested: {a: [1, 2]}}\n" +
			"  valuesFrom:\n  - {kind: Secret, name: db, valuesKey: password, targetPath: 'db.auth[0].password', optional: true}\n" +
			"  install: {crds: CreateReplace, createNamespace: true, remediation: {retries: -1}, strategy: {name: RetryOnFailure, retryInterval: 1m}}\n" +
			"  upgrade: {crds: Skip, remediation: {retries: 3, strategy: uninstall, remediateLastFailure: true}}\n" +
			"  test: {enable: true, filters: [{name: smoke}]}\n  rollback: {force: true}\n" +
			"  uninstall: {keepHistory: true, deletionPropagation: foreground}\n" +
			"  driftDetection: {mode: warn, ignore: [{paths: [/spec/replicas], target: {kind: Deployment}}]}\n" +
			"  dependsOn: [{kind: Kustomization, name: infra}]\n  maxHistory: 0\n  timeout: 10m\n"),
		"chartRef HelmChart": hr("  chartRef: {kind: HelmChart, name: podinfo, namespace: flux}\n"),
		"chartRef OCI":       hr(ref),
		"chart from git":     hr("  chart:\n    spec:\n      chart: ./charts/app\n      sourceRef: {kind: GitRepository, name: repo}\n      reconcileStrategy: Revision\n      valuesFiles: [values.yaml]\n"),
	} {
		if err := c.Create(ctx, valid, client.DryRunAll); err != nil {
			t.Errorf("%s: a valid HelmRelease was rejected: %v", name, err)
		}
	}
	for name, tc := range map[string]struct {
		obj   *unstructured.Unstructured
		field string
	}{
		"neither chart nor chartRef": {hr(""), "exactly one of spec.chart and spec.chartRef"},
		"both chart and chartRef":    {hr(chart + ref), "exactly one of spec.chart and spec.chartRef"},
		"chartRef kind":              {hr("  chartRef: {kind: GitRepository, name: podinfo}\n"), "spec.chartRef.kind"},
		"chart sourceRef kind":       {hr("  chart:\n    spec:\n      chart: podinfo\n      sourceRef: {kind: Bucketful, name: podinfo}\n"), "spec.chart.spec.sourceRef.kind"},
		"chart name empty":           {hr("  chart:\n    spec:\n      chart: ''\n      sourceRef: {kind: HelmRepository, name: podinfo}\n"), "spec.chart.spec.chart"},
		"reconcile strategy":         {hr("  chart:\n    spec:\n      chart: a\n      sourceRef: {kind: HelmRepository, name: p}\n      reconcileStrategy: Always\n"), "spec.chart.spec.reconcileStrategy"},
		"release name too long":      {hr(ref + "  releaseName: " + strings.Repeat("r", 54) + "\n"), "spec.releaseName"},
		"target namespace too long":  {hr(ref + "  targetNamespace: " + strings.Repeat("n", 64) + "\n"), "spec.targetNamespace"},
		"storage namespace too long": {hr(ref + "  storageNamespace: " + strings.Repeat("n", 64) + "\n"), "spec.storageNamespace"},
		"timeout":                    {hr(ref + "  timeout: soon\n"), "spec.timeout"},
		"max history negative":       {hr(ref + "  maxHistory: -1\n"), "spec.maxHistory"},
		"values kind":                {hr(ref + "  valuesFrom: [{kind: Pod, name: x}]\n"), "spec.valuesFrom[0].kind"},
		"values key":                 {hr(ref + "  valuesFrom: [{kind: Secret, name: x, valuesKey: 'a b'}]\n"), "spec.valuesFrom[0].valuesKey"},
		"target path":                {hr(ref + "  valuesFrom: [{kind: Secret, name: x, targetPath: 'a=b,c'}]\n"), "spec.valuesFrom[0].targetPath"},
		"drift mode":                 {hr(ref + "  driftDetection: {mode: sometimes}\n"), "spec.driftDetection.mode"},
		"drift path":                 {hr(ref + "  driftDetection: {ignore: [{paths: [spec.replicas]}]}\n"), "spec.driftDetection.ignore[0].paths[0]"},
		"install crds":               {hr(ref + "  install: {crds: Always}\n"), "spec.install.crds"},
		"install strategy":           {hr(ref + "  install: {strategy: {name: GiveUp}}\n"), "spec.install.strategy.name"},
		"install retry interval":     {hr(ref + "  install: {strategy: {name: RemediateOnFailure, retryInterval: 1m}}\n"), "install.strategy.retryInterval"},
		"install retries":            {hr(ref + "  install: {remediation: {retries: -2}}\n"), "spec.install.remediation.retries"},
		"upgrade remediation":        {hr(ref + "  upgrade: {remediation: {strategy: reinstall}}\n"), "spec.upgrade.remediation.strategy"},
		"uninstall propagation":      {hr(ref + "  uninstall: {deletionPropagation: now}\n"), "spec.uninstall.deletionPropagation"},
		"dependency kind":            {hr(ref + "  dependsOn: [{kind: GitRepository, name: x}]\n"), "spec.dependsOn[0].kind"},
		"test filter name":           {hr(ref + "  test: {filters: [{name: ''}]}\n"), "spec.test.filters[0].name"},
	} {
		t.Run(name, func(t *testing.T) {
			err := c.Create(ctx, tc.obj, client.DryRunAll)
			if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("error = %v, want Invalid naming %s", err, tc.field)
			}
		})
	}
}
