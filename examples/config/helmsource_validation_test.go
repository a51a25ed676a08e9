package config_test

import (
	"context"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/examples/config"
)

// TestHelmSourceFieldValidation checks that the API server rejects invalid
// HelmRepository and HelmChart specs naming the field (type, url,
// reconcileStrategy, chart, sourceRef and its kind, durations, values
// files), accepts valid ones, fills the defaults (type default, version
// *, reconcileStrategy ChartVersion), and that their printer columns are
// Flux's.
func TestHelmSourceFieldValidation(t *testing.T) {
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
	// Printer columns, as kubectl get shows them.
	for name, want := range map[string]string{
		"helmrepositories.source.gitopskit.dev": "URL,Age,Ready,Status",
		"helmcharts.source.gitopskit.dev":       "Chart,Version,Source Kind,Source Name,Ready,Status,Age",
	} {
		var got []string
		for _, crd := range crds {
			if crd.Name == name {
				for _, col := range crd.Spec.Versions[0].AdditionalPrinterColumns {
					got = append(got, col.Name)
				}
			}
		}
		if strings.Join(got, ",") != want {
			t.Errorf("%s printer columns %v, want %s", name, got, want)
		}
	}
	api := newAPIServer(t)
	object := func(kind, spec string) *unstructured.Unstructured {
		return api.object("source.gitopskit.dev/v1", kind, spec)
	}
	repo := func(spec string) *unstructured.Unstructured { return object("HelmRepository", "  interval: 1m\n"+spec) }
	hc := func(spec string) *unstructured.Unstructured { return object("HelmChart", "  interval: 1m\n"+spec) }
	src := "  sourceRef: {kind: HelmRepository, name: charts}\n"

	api.accepts(map[string]*unstructured.Unstructured{
		"repository everything": repo("  url: https://charts.example.com/stable\n  type: default\n  secretRef: {name: auth}\n" +
			"  certSecretRef: {name: tls}\n  passCredentials: true\n  timeout: 90s\n  suspend: false\n"),
		"repository minimal": repo("  url: http://charts.example.com\n"),
		"repository oci":     repo("  url: oci://ghcr.io/org/charts\n  type: oci\n  insecure: true\n"),
		"chart everything": hc("  chart: app\n  version: '>=1.0.0 <2.0.0'\n" + src + "  reconcileStrategy: Revision\n" +
			"  valuesFiles: [values.yaml, values-prod.yaml]\n  ignoreMissingValuesFiles: true\n  suspend: false\n" +
			"  verify: {provider: cosign, secretRef: {name: cosign}}\n"),
		"chart from git":    hc("  chart: ./charts/app\n  sourceRef: {kind: GitRepository, name: repo}\n"),
		"chart from oci":    hc("  chart: charts/app\n  sourceRef: {kind: OCIRepository, name: repo}\n"),
		"chart from bucket": hc("  chart: charts/app\n  sourceRef: {kind: Bucket, name: repo, apiVersion: source.gitopskit.dev/v1}\n"),
	})

	// Defaults.
	r := repo("  url: https://charts.example.com\n")
	if err := c.Create(ctx, r, client.DryRunAll); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := unstructured.NestedString(r.Object, "spec", "type"); got != "default" {
		t.Errorf("spec.type defaulted to %q, want default", got)
	}
	ch := hc("  chart: app\n" + src)
	if err := c.Create(ctx, ch, client.DryRunAll); err != nil {
		t.Fatal(err)
	}
	v, _, _ := unstructured.NestedString(ch.Object, "spec", "version")
	s, _, _ := unstructured.NestedString(ch.Object, "spec", "reconcileStrategy")
	if v != "*" || s != "ChartVersion" {
		t.Errorf("defaults: version %q, reconcileStrategy %q; want * and ChartVersion", v, s)
	}

	api.refuses(map[string]refusal{
		"bad type":                {repo("  url: https://charts.example.com\n  type: s3\n"), "spec.type"},
		"no url":                  {repo("  type: default\n"), "spec.url"},
		"url scheme":              {repo("  url: ftp://charts.example.com\n"), "spec.url"},
		"oci url of a default":    {repo("  url: oci://ghcr.io/org/charts\n"), "spec"},
		"https url of an oci":     {repo("  url: https://ghcr.io/org/charts\n  type: oci\n"), "spec"},
		"repository interval":     {object("HelmRepository", "  url: https://c.example.com\n  interval: 1 minute\n"), "spec.interval"},
		"repository timeout":      {repo("  url: https://charts.example.com\n  timeout: soon\n"), "spec.timeout"},
		"repository secret empty": {repo("  url: https://charts.example.com\n  secretRef: {name: ''}\n"), "spec.secretRef.name"},
		"bad reconcileStrategy":   {hc("  chart: app\n" + src + "  reconcileStrategy: Always\n"), "spec.reconcileStrategy"},
		"no chart":                {hc(src), "spec.chart"},
		"empty chart":             {hc("  chart: ''\n" + src), "spec.chart"},
		"no sourceRef":            {hc("  chart: app\n"), "spec.sourceRef"},
		"bad sourceRef kind":      {hc("  chart: app\n  sourceRef: {kind: Kustomization, name: x}\n"), "spec.sourceRef.kind"},
		"sourceRef without name":  {hc("  chart: app\n  sourceRef: {kind: HelmRepository}\n"), "spec.sourceRef.name"},
		"empty values file":       {hc("  chart: app\n" + src + "  valuesFiles: ['']\n"), "spec.valuesFiles"},
		"chart interval":          {object("HelmChart", "  chart: app\n"+src+"  interval: often\n"), "spec.interval"},
		"verify keyless no ident": {hc("  chart: app\n" + src + "  verify: {provider: cosign}\n"), "spec.verify"},
		"verify unknown provider": {hc("  chart: app\n" + src + "  verify: {provider: notation, secretRef: {name: k}}\n"), "spec.verify.provider"},
	})
}
