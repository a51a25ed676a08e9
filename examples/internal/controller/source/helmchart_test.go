package source_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitopskit/kit/examples/api/meta"
	sourcev1 "github.com/gitopskit/kit/examples/api/source/v1"
	"github.com/gitopskit/kit/git/gittest"
	"github.com/gitopskit/kit/helmutil/helmtest"
	"github.com/gitopskit/kit/runtime/conditions"
)

// A HelmChart of a default HelmRepository selects its version in the
// repository's index artifact ("*": the latest stable; a range: the
// highest match), packages it (values files merged, the version marked),
// and records what it was built from. A second reconcile stores nothing
// new; a new version in the repository reaches the chart through the
// watch on its HelmRepository; two HelmCharts of the same chart have the
// same digest.
func TestHelmChartFromHelmRepository(t *testing.T) {
	t.Parallel()
	h, events := newHelmHarness(t, helmLimits{})
	srv := helmtest.NewServer(t, t.TempDir())
	for _, v := range []string{"1.0.0", "1.1.0", "2.0.0-rc.1"} {
		srv.AddChart(t, helmtest.WriteChart(t, t.TempDir(), helmtest.Chart{Name: "app", Version: v,
			Values: "replicas: 1\nimage: app\n", Files: map[string]string{"values-prod.yaml": "replicas: 3\n"}}))
	}
	hr := helmRepository("charts", srv.URL())
	h.create(hr)
	h.ready(hr)

	latest := helmChart("latest", "app", sourcev1.HelmRepositoryKind, "charts")
	h.create(latest)
	h.ready(latest)
	if latest.Spec.Version != "*" || latest.Spec.ReconcileStrategy != sourcev1.ReconcileStrategyChartVersion {
		t.Errorf("defaults: version %q, reconcileStrategy %q", latest.Spec.Version, latest.Spec.ReconcileStrategy)
	}
	if got := latest.Status.Artifact.Revision; got != "1.1.0" {
		t.Fatalf("revision %q, want 1.1.0 (the latest stable)", got)
	}
	if name, version, _ := loadChartArtifact(t, latest); name != "app" || version != "1.1.0" {
		t.Errorf("packaged %s-%s, want app-1.1.0", name, version)
	}
	if latest.Status.ObservedChartName != "app" || latest.Status.ObservedSourceArtifactRevision != hr.Status.Artifact.Revision {
		t.Errorf("observed chart %q source revision %q, want app and %q", latest.Status.ObservedChartName, latest.Status.ObservedSourceArtifactRevision, hr.Status.Artifact.Revision)
	}
	if !strings.HasSuffix(latest.Status.Artifact.Path, "/app-1.1.0.tgz") || latest.Status.URL != latest.Status.Artifact.URL {
		t.Errorf("artifact path %q url %q status.url %q", latest.Status.Artifact.Path, latest.Status.Artifact.URL, latest.Status.URL)
	}
	if n := events.count("Normal ChartPackageSucceeded"); n != 1 {
		t.Errorf("%d ChartPackageSucceeded events, want 1", n)
	}

	// Unchanged inputs: nothing downloaded, nothing stored, no event.
	first := latest.Status.Artifact.DeepCopy()
	h.requestObject(latest, "again")
	h.ready(latest)
	if !latest.Status.Artifact.LastUpdateTime.Equal(&first.LastUpdateTime) || latest.Status.Artifact.Digest != first.Digest {
		t.Errorf("a second reconcile stored again: %+v, was %+v", latest.Status.Artifact, first)
	}
	if n := events.count("Normal ChartPackageSucceeded"); n != 1 {
		t.Errorf("%d ChartPackageSucceeded events after an unchanged reconcile, want 1", n)
	}

	ranged := helmChart("ranged", "app", sourcev1.HelmRepositoryKind, "charts", func(s *sourcev1.HelmChartSpec) {
		s.Version = "~1.0"
		s.ValuesFiles = []string{"values.yaml", "values-prod.yaml"}
	})
	h.create(ranged)
	h.ready(ranged)
	name, version, values := loadChartArtifact(t, ranged)
	if name != "app" || !strings.HasPrefix(version, "1.0.0+values.") || ranged.Status.Artifact.Revision != version {
		t.Errorf("packaged %s-%s (revision %s), want app-1.0.0+values.<hex>", name, version, ranged.Status.Artifact.Revision)
	}
	if !strings.Contains(values, "replicas: 3") || !strings.Contains(values, "image: app") {
		t.Errorf("merged values.yaml:\n%s", values)
	}
	if got := strings.Join(ranged.Status.ObservedValuesFiles, ","); got != "values.yaml,values-prod.yaml" {
		t.Errorf("observedValuesFiles %q", got)
	}

	// A new version: the HelmRepository's new artifact brings the chart
	// to it, with no request on the chart.
	srv.AddChart(t, helmtest.WriteChart(t, t.TempDir(), helmtest.Chart{Name: "app", Version: "1.2.0", Values: "replicas: 1\nimage: app\n"}))
	h.requestObject(hr, "new-version")
	h.eventually(latest, func() bool { return conditions.IsReady(latest) && latest.Status.Artifact.Revision == "1.2.0" })
	if n := events.count("Normal ChartPackageSucceeded"); n != 3 {
		t.Errorf("%d ChartPackageSucceeded events, want 3 (latest twice, ranged once)", n)
	}
	h.ready(ranged)
	if !strings.HasPrefix(ranged.Status.Artifact.Revision, "1.0.0+values.") {
		t.Errorf("ranged moved to %s", ranged.Status.Artifact.Revision)
	}

	twin := helmChart("twin", "app", sourcev1.HelmRepositoryKind, "charts")
	h.create(twin)
	h.eventually(twin, func() bool { return conditions.IsReady(twin) && twin.Status.Artifact.Revision == "1.2.0" })
	if err := h.c.Get(t.Context(), key(h.ns, "latest"), latest); err != nil {
		t.Fatal(err)
	}
	if twin.Status.Artifact.Digest != latest.Status.Artifact.Digest {
		t.Errorf("the same chart packaged to %s and %s", twin.Status.Artifact.Digest, latest.Status.Artifact.Digest)
	}
}

// chartTree writes a source tree with a chart at charts/app and a values
// file outside it, and returns its path.
func chartTree(t *testing.T, version string) string {
	t.Helper()
	tree := t.TempDir()
	helmtest.WriteChart(t, filepath.Join(tree, "charts"), helmtest.Chart{Name: "app", Version: version, Values: "replicas: 1\n"})
	if err := os.MkdirAll(filepath.Join(tree, "env"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tree, "env", "prod.yaml"), []byte("replicas: 5\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return tree
}

// A HelmChart of a GitRepository packages the chart directory of the
// artifact, with values files from anywhere in it; the Revision strategy
// marks the version with the commit. A second reconcile stores nothing
// new; a new commit reaches the charts through the watch on their
// GitRepository: the Revision chart gets a new version, the other is
// rebuilt to the same bytes and stores nothing new.
func TestHelmChartFromGitRepository(t *testing.T) {
	t.Parallel()
	h, events := newHelmHarness(t, helmLimits{})
	gs := gittest.NewServer(t)
	gr := gs.InitRepository("charts.git")
	c1 := gr.CommitDir("main", "chart", chartTree(t, "0.1.0"))
	src := gitRepository("charts", gs.HTTPURL("charts.git"), func(s *sourcev1.GitRepositorySpec) {
		s.Reference = &sourcev1.GitRepositoryRef{Branch: "main"}
	})
	h.create(src)
	h.ready(src)

	plain := helmChart("plain", "./charts/app", sourcev1.GitRepositoryKind, "charts", func(s *sourcev1.HelmChartSpec) {
		s.ValuesFiles = []string{"charts/app/values.yaml", "env/prod.yaml"}
	})
	rev := helmChart("rev", "charts/app", sourcev1.GitRepositoryKind, "charts", func(s *sourcev1.HelmChartSpec) {
		s.ReconcileStrategy = sourcev1.ReconcileStrategyRevision
	})
	h.create(plain)
	h.create(rev)
	h.ready(plain)
	h.ready(rev)

	_, version, values := loadChartArtifact(t, plain)
	if !strings.HasPrefix(version, "0.1.0+values.") || !strings.Contains(values, "replicas: 5") {
		t.Errorf("plain: version %s values %q", version, values)
	}
	if plain.Status.ObservedSourceArtifactRevision != "main@sha1:"+c1 {
		t.Errorf("observedSourceArtifactRevision %q", plain.Status.ObservedSourceArtifactRevision)
	}
	if got, want := rev.Status.Artifact.Revision, "0.1.0+"+c1[:12]; got != want {
		t.Errorf("Revision strategy: revision %q, want %q", got, want)
	}

	first := plain.Status.Artifact.DeepCopy()
	h.requestObject(plain, "again")
	h.ready(plain)
	if !plain.Status.Artifact.LastUpdateTime.Equal(&first.LastUpdateTime) {
		t.Error("a second reconcile stored the chart again")
	}
	before := events.count("Normal ChartPackageSucceeded")
	if before != 2 {
		t.Errorf("%d ChartPackageSucceeded events, want 2", before)
	}

	c2 := gr.Commit("main", "docs", map[string]string{"README.md": "charts\n"})
	h.request(src, "new-commit")
	h.eventually(rev, func() bool { return conditions.IsReady(rev) && rev.Status.Artifact.Revision == "0.1.0+"+c2[:12] })
	h.eventually(plain, func() bool {
		return conditions.IsReady(plain) && plain.Status.ObservedSourceArtifactRevision == "main@sha1:"+c2
	})
	if plain.Status.Artifact.Digest != first.Digest {
		t.Errorf("an unchanged chart packaged to another digest: %s, was %s", plain.Status.Artifact.Digest, first.Digest)
	}
	if n := events.count("Normal ChartPackageSucceeded"); n != before+1 {
		t.Errorf("%d ChartPackageSucceeded events, want %d (the Revision chart only)", n, before+1)
	}
}

// Paths that leave the source stall (.., absolute); a link inside the
// source is followed; a repository with links out of it has no artifact,
// so its charts wait for one; a directory without a chart fails; a missing
// values file fails unless ignoreMissingValuesFiles.
func TestHelmChartPathsAndValuesFiles(t *testing.T) {
	t.Parallel()
	h, _ := newHelmHarness(t, helmLimits{})
	gs := gittest.NewServer(t)
	gr := gs.InitRepository("charts.git")
	tree := chartTree(t, "0.1.0")
	gr.CommitDir("main", "chart", tree)
	gr.Commit("main", "link", map[string]string{"charts/alias": "app"}, gittest.Symlinks("charts/alias"))
	src := gitRepository("charts", gs.HTTPURL("charts.git"), func(s *sourcev1.GitRepositorySpec) {
		s.Reference = &sourcev1.GitRepositoryRef{Branch: "main"}
	})
	h.create(src)
	h.ready(src)
	// A repository with links out of it has no artifact: nothing from
	// outside the source can reach a chart.
	er := gs.InitRepository("escape.git")
	er.CommitDir("main", "chart", tree)
	er.Commit("main", "links", map[string]string{
		"charts/app/templates/passwd.yaml": "../../../../../../../../etc/passwd",
		"charts/root":                      "/",
	}, gittest.Symlinks("charts/app/templates/passwd.yaml", "charts/root"))
	h.create(gitRepository("escape", gs.HTTPURL("escape.git"), func(s *sourcev1.GitRepositorySpec) {
		s.Reference = &sourcev1.GitRepositoryRef{Branch: "main"}
	}))
	escape := helmChart("escape", "charts/root/etc", sourcev1.GitRepositoryKind, "escape")
	h.create(escape)
	h.notReady(escape, "has no artifact yet")
	if c := conditions.Get(escape, conditions.Ready); c.Reason != "SourceUnavailable" || conditions.IsTrue(escape, conditions.Stalled) {
		t.Errorf("escape: %s", describe(escape))
	}

	for _, tc := range []struct{ name, chart, msg string }{
		{"climb", "../charts/app", "must not climb"},
		{"climb-inside", "charts/../../app", "must not climb"},
		{"absolute", "/charts/app", "relative path"},
	} {
		obj := helmChart(tc.name, tc.chart, sourcev1.GitRepositoryKind, "charts")
		h.create(obj)
		h.eventually(obj, func() bool { return conditions.IsTrue(obj, conditions.Stalled) })
		if c := conditions.Get(obj, conditions.Ready); c.Reason != "InvalidSpec" || !strings.Contains(c.Message, tc.msg) {
			t.Errorf("%s: Ready %s: %s", tc.name, c.Reason, c.Message)
		}
	}

	nochart := helmChart("no-chart", "env", sourcev1.GitRepositoryKind, "charts")
	h.create(nochart)
	h.notReady(nochart, "loading chart")
	if c := conditions.Get(nochart, conditions.Ready); c.Reason != "ChartPackageFailed" || conditions.IsTrue(nochart, conditions.Stalled) {
		t.Errorf("no-chart: %s", describe(nochart))
	}

	// A link inside the source is followed.
	alias := helmChart("alias", "charts/alias", sourcev1.GitRepositoryKind, "charts")
	h.create(alias)
	h.ready(alias)
	if name, _, _ := loadChartArtifact(t, alias); name != "app" {
		t.Errorf("alias packaged %q", name)
	}
	missing := helmChart("missing", "charts/app", sourcev1.GitRepositoryKind, "charts", func(s *sourcev1.HelmChartSpec) {
		s.ValuesFiles = []string{"env/prod.yaml", "env/staging.yaml"}
	})
	h.create(missing)
	h.notReady(missing, "env/staging.yaml")
	if c := conditions.Get(missing, conditions.Ready); c.Reason != "ChartPackageFailed" || !strings.Contains(c.Message, "does not exist") {
		t.Errorf("missing values file: %s", describe(missing))
	}
	h.update(missing, func() { missing.Spec.IgnoreMissingValuesFiles = true })
	h.ready(missing)
	if got := strings.Join(missing.Status.ObservedValuesFiles, ","); got != "env/prod.yaml" {
		t.Errorf("observedValuesFiles %q, want the existing file only", got)
	}
}

// A chart that cannot be had is Ready=False with the reason and a message
// naming it, retried; a version that is no semver range stalls, and so
// does a chart name that is a path (it could name another repository of a
// registry) or spec.verify on a chart not from an OCI registry; a missing
// source is SourceUnavailable.
func TestHelmChartFailures(t *testing.T) {
	t.Parallel()
	h, _ := newHelmHarness(t, helmLimits{maxChart: 4 << 10})
	srv := helmtest.NewServer(t, t.TempDir())
	srv.AddChart(t, helmtest.WriteChart(t, t.TempDir(), helmtest.Chart{Name: "app", Version: "1.0.0"}))
	srv.AddChart(t, helmtest.WriteChart(t, t.TempDir(), helmtest.Chart{Name: "big", Version: "1.0.0",
		Files: map[string]string{"files/blob.txt": noise(64 << 10)}}))
	h.create(helmRepository("charts", srv.URL()))

	for _, tc := range []struct {
		name, chart, version, source, reason, msg string
		stalled                                   bool
		verify                                    bool
	}{
		{name: "unknown", chart: "nope", source: "charts", reason: "ChartPullFailed", msg: "chart not found"},
		{name: "no-match", chart: "app", version: "9.x", source: "charts", reason: "ChartPullFailed", msg: "no chart version"},
		{name: "bad-range", chart: "app", version: "not a range!", source: "charts", reason: "InvalidSpec", msg: "not a semver range", stalled: true},
		{name: "too-big", chart: "big", source: "charts", reason: "ChartPullFailed", msg: "limit exceeded"},
		{name: "no-source", chart: "app", source: "missing", reason: "SourceUnavailable", msg: "not found"},
		{name: "verify", chart: "app", source: "charts", reason: "InvalidSpec", msg: "type oci only", stalled: true, verify: true},
		{name: "path-name", chart: "../other/app", source: "charts", reason: "InvalidSpec", msg: "must be the name of a chart", stalled: true},
	} {
		obj := helmChart(tc.name, tc.chart, sourcev1.HelmRepositoryKind, tc.source, func(s *sourcev1.HelmChartSpec) {
			s.Version = tc.version
			if tc.verify {
				s.Verify = &sourcev1.OCIRepositoryVerification{SecretRef: &meta.LocalObjectReference{Name: "cosign"}}
			}
		})
		h.create(obj)
		msg := h.notReady(obj, tc.msg)
		if c := conditions.Get(obj, conditions.Ready); c.Reason != tc.reason {
			t.Errorf("%s: reason %s, want %s: %s", tc.name, c.Reason, tc.reason, msg)
		}
		if got := conditions.IsTrue(obj, conditions.Stalled); got != tc.stalled {
			t.Errorf("%s: stalled %t, want %t: %s", tc.name, got, tc.stalled, describe(obj))
		}
		if obj.Status.Artifact != nil {
			t.Errorf("%s: an artifact was stored", tc.name)
		}
	}
}

// noise returns n bytes that do not compress.
func noise(n int) string {
	b := make([]byte, n)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = 'a' + byte(x%26)
	}
	return string(b)
}
