package config_test

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// TestHelmReleaseFieldValidation checks that the API server rejects
// invalid HelmRelease specs naming the field (exactly one of chart and
// chartRef, kinds, enums, name lengths, durations, values references) and
// accepts valid ones.
func TestHelmReleaseFieldValidation(t *testing.T) {
	t.Parallel()
	api := newAPIServer(t)
	hr := func(spec string) *unstructured.Unstructured {
		return api.object("helm.gitopskit.dev/v1", "HelmRelease", "  interval: 5m\n"+spec)
	}
	chart := "  chart:\n    spec:\n      chart: podinfo\n      sourceRef: {kind: HelmRepository, name: podinfo}\n"
	ref := "  chartRef: {kind: OCIRepository, name: podinfo}\n"
	api.accepts(map[string]*unstructured.Unstructured{
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
	})
	api.refuses(map[string]refusal{
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
	})
}
