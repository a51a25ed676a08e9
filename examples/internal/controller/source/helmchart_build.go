package source

import (
	"context"
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"strings"

	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/artifact"
	sourcev1 "github.com/gitopskit/kit/examples/api/source/v1"
	controllers "github.com/gitopskit/kit/examples/internal/controller"
	"github.com/gitopskit/kit/helmutil/chart"
	"github.com/gitopskit/kit/helmutil/repo"
	"github.com/gitopskit/kit/oci"
	"github.com/gitopskit/kit/runtime/conditions"
	"github.com/gitopskit/kit/runtime/reconcile"
)

// chartPlan is a chart's source resolved to a revision, and how to build
// the chart from it when the stored artifact is not of that revision.
type chartPlan struct {
	sourceRevision string
	build          func(context.Context) (*builtChart, error)
}

// planFromRepository resolves a chart of a HelmRepository: for type
// default, the revision is the index artifact's (the index is parsed only
// when the chart is built); for type oci, the selected tag's version and
// manifest digest.
func (r *HelmChartReconciler) planFromRepository(ctx context.Context, obj *sourcev1.HelmChart, rep *controllers.Reporter, tmp string) (*chartPlan, error) {
	if err := checkConstraint(obj.Spec.Version); err != nil {
		return nil, err
	}
	if err := checkChartName(obj.Spec.Chart); err != nil {
		return nil, reconcile.Stall(reasonInvalidSpec, err)
	}
	hr := &sourcev1.HelmRepository{}
	if err := r.getSource(ctx, obj, hr); err != nil {
		return nil, err
	}
	limits := helmLimits{maxIndexBytes: r.MaxIndexSize, maxChartBytes: r.MaxChartSize}
	if hr.IsOCI() {
		return r.planFromOCI(ctx, obj, hr, rep, limits, tmp)
	}
	if obj.Spec.Verify != nil {
		return nil, stallVerifyNotOCI()
	}
	art := hr.GetArtifact()
	if art == nil {
		return nil, reconcile.Fail(reasonSourceUnavailable, fmt.Errorf("HelmRepository '%s/%s' has no artifact yet", hr.Namespace, hr.Name))
	}
	a := *art
	return &chartPlan{sourceRevision: a.Revision, build: func(ctx context.Context) (*builtChart, error) {
		client, err := helmHTTPRepository(ctx, r.Client, hr, rep, limits)
		if err != nil {
			return nil, reconcile.Fail(reasonAuthFailed, err)
		}
		ch, err := r.chartFromIndex(ctx, client, a, obj.Spec.Chart, obj.Spec.Version, tmp)
		if err != nil {
			return nil, err
		}
		return &builtChart{ch: ch, sourceRevision: a.Revision}, nil
	}}, nil
}

// chartFromIndex selects the version of name that constraint asks for in
// the index artifact a of the repository rc (parsed once per digest
// through IndexCache), downloads it into dir and loads it.
func (r *HelmChartReconciler) chartFromIndex(ctx context.Context, rc *repo.Repository, a artifact.Artifact, name, constraint, dir string) (*chartv2.Chart, error) {
	idx, err := r.IndexCache.GetOrLoad(ctx, rc.URL(), a.Digest, func(ctx context.Context) (*repo.Index, error) {
		file := filepath.Join(dir, "index.yaml")
		if err := r.Fetcher.Download(ctx, a, file); err != nil {
			return nil, fmt.Errorf("downloading the index artifact: %w", err)
		}
		return repo.LoadIndexFile(ctx, file, repo.ParseOptions{MaxBytes: r.MaxIndexSize})
	})
	if err != nil {
		return nil, reconcile.Fail(reasonChartPullFailed, fmt.Errorf("index of '%s' revision '%s': %w", rc.URL(), a.Revision, err))
	}
	cv, err := idx.Get(name, constraint)
	if err != nil {
		if errors.Is(err, repo.ErrInvalidConstraint) {
			return nil, reconcile.Stall(reasonInvalidSpec, err)
		}
		return nil, reconcile.Fail(reasonChartPullFailed, fmt.Errorf("chart '%s' version '%s' in '%s': %w", name, constraintOrLatest(constraint), rc.URL(), err))
	}
	pkg := filepath.Join(dir, "chart.tgz")
	if _, err := rc.DownloadChart(ctx, cv, pkg, repo.DownloadOptions{}); err != nil {
		return nil, reconcile.Fail(helmPullReason(err), fmt.Errorf("downloading chart '%s' version '%s' from '%s': %w", name, cv.Version, rc.URL(), err))
	}
	ch, err := chart.LoadArchiveFile(ctx, pkg, chart.LoadOptions{})
	if err != nil {
		return nil, reconcile.Fail(reasonChartPackageFailed, fmt.Errorf("loading chart '%s' version '%s': %w", name, cv.Version, err))
	}
	return ch, nil
}

// planFromOCI resolves the chart's tag in the registry of an oci
// HelmRepository; the build verifies it when asked and pulls it by digest.
func (r *HelmChartReconciler) planFromOCI(ctx context.Context, obj *sourcev1.HelmChart, hr *sourcev1.HelmRepository, rep *controllers.Reporter, limits helmLimits, tmp string) (*chartPlan, error) {
	or, err := helmOCIRepository(ctx, r.Client, hr, rep, limits)
	if err != nil {
		if _, _, uerr := ociRepository(hr.Spec.URL); uerr != nil {
			return nil, reconcile.Stall(reasonInvalidSpec, fmt.Errorf("HelmRepository '%s/%s': spec.url: %w", hr.Namespace, hr.Name, uerr))
		}
		return nil, reconcile.Fail(reasonAuthFailed, err)
	}
	oc, err := or.Resolve(ctx, obj.Spec.Chart, obj.Spec.Version)
	if err != nil {
		if errors.Is(err, repo.ErrInvalidConstraint) {
			return nil, reconcile.Stall(reasonInvalidSpec, err)
		}
		return nil, reconcile.Fail(ociPullReason(err), fmt.Errorf("chart '%s' version '%s' in '%s': %w", obj.Spec.Chart, constraintOrLatest(obj.Spec.Version), or.URL(), err))
	}
	revision := oc.Version + "@" + oc.Digest
	return &chartPlan{sourceRevision: revision, build: func(ctx context.Context) (*builtChart, error) {
		var verify *oci.VerifyOptions
		if v := obj.Spec.Verify; v != nil {
			if verify, err = cosignVerifyOptions(ctx, r.Client, r.TrustedRoot, obj.Namespace, v); err != nil {
				conditions.MarkFalse(obj, sourceVerified, reasonVerificationFailed, "%s", err)
				if _, ok := errors.AsType[*reconcile.StalledError](err); ok {
					return nil, err
				}
				return nil, reconcile.Fail(reasonVerificationFailed, err)
			}
		}
		pkg := filepath.Join(tmp, "chart.tgz")
		if _, err := or.Pull(ctx, oc, pkg, repo.OCIPullOptions{Verify: verify, MaxBytes: limits.maxChartBytes}); err != nil {
			if errors.Is(err, oci.ErrNoSignature) || errors.Is(err, oci.ErrUntrusted) {
				err = fmt.Errorf("signature verification of chart '%s' revision '%s' failed: %w", obj.Spec.Chart, revision, err)
				conditions.MarkFalse(obj, sourceVerified, reasonVerificationFailed, "%s", err)
				return nil, reconcile.Fail(reasonVerificationFailed, err)
			}
			return nil, reconcile.Fail(ociPullReason(err), fmt.Errorf("pulling chart '%s' revision '%s': %w", obj.Spec.Chart, revision, err))
		}
		if verify != nil {
			conditions.MarkTrue(obj, sourceVerified, reasonVerified, "verified signature of chart '%s' revision '%s'", obj.Spec.Chart, revision)
		}
		ch, err := chart.LoadArchiveFile(ctx, pkg, chart.LoadOptions{})
		if err != nil {
			return nil, reconcile.Fail(reasonChartPackageFailed, fmt.Errorf("loading chart '%s' revision '%s': %w", obj.Spec.Chart, revision, err))
		}
		return &builtChart{ch: ch, sourceRevision: revision}, nil
	}}, nil
}

// planFromArtifact resolves a chart in a directory of a GitRepository,
// OCIRepository or Bucket artifact: the revision is the artifact's; the
// build downloads it, loads the chart (never leaving the artifact) and
// builds its dependencies.
func (r *HelmChartReconciler) planFromArtifact(ctx context.Context, obj *sourcev1.HelmChart, rep *controllers.Reporter, tmp string) (*chartPlan, error) {
	if obj.Spec.Verify != nil {
		return nil, stallVerifyNotOCI()
	}
	dir, err := chartDir(obj.Spec.Chart)
	if err != nil {
		return nil, reconcile.Stall(reasonInvalidSpec, err)
	}
	var src sourcev1.Source
	switch obj.Spec.SourceRef.Kind {
	case sourcev1.GitRepositoryKind:
		src = &sourcev1.GitRepository{}
	case sourcev1.OCIRepositoryKind:
		src = &sourcev1.OCIRepository{}
	default:
		src = &sourcev1.Bucket{}
	}
	if err := r.getSource(ctx, obj, src); err != nil {
		return nil, err
	}
	art := src.GetArtifact()
	if art == nil {
		return nil, reconcile.Fail(reasonSourceUnavailable, fmt.Errorf("%s '%s/%s' has no artifact yet", obj.Spec.SourceRef.Kind, obj.Namespace, obj.Spec.SourceRef.Name))
	}
	a := *art
	return &chartPlan{sourceRevision: a.Revision, build: func(ctx context.Context) (*builtChart, error) {
		root := filepath.Join(tmp, "source")
		if _, err := r.Fetcher.Fetch(ctx, a, root); err != nil {
			return nil, reconcile.Fail(reasonSourceUnavailable, fmt.Errorf("fetching artifact of %s '%s' revision '%s': %w", obj.Spec.SourceRef.Kind, obj.Spec.SourceRef.Name, a.Revision, err))
		}
		ch, err := chart.LoadDir(ctx, root, dir, chart.LoadOptions{})
		if err != nil {
			return nil, reconcile.Fail(reasonChartPackageFailed, fmt.Errorf("loading chart '%s' of revision '%s': %w", dir, a.Revision, err))
		}
		deps := chart.DependencyOptions{
			HTTPRepository: func(ctx context.Context, url string) (*repo.Repository, error) {
				return r.dependencyRepository(ctx, obj.Namespace, url, rep)
			},
			OCIRepository: func(ctx context.Context, url string) (*repo.OCIRepository, error) {
				return r.dependencyOCIRepository(ctx, obj.Namespace, url, rep)
			},
		}
		if err := chart.BuildDependencies(ctx, ch, root, dir, deps); err != nil {
			return nil, reconcile.Fail(reasonChartPackageFailed, fmt.Errorf("building dependencies of chart '%s': %w", dir, err))
		}
		return &builtChart{ch: ch, root: root, sourceRevision: a.Revision}, nil
	}}, nil
}

// getSource reads the source spec.sourceRef names, in the chart's
// namespace.
func (r *HelmChartReconciler) getSource(ctx context.Context, obj *sourcev1.HelmChart, src client.Object) error {
	key := types.NamespacedName{Namespace: obj.Namespace, Name: obj.Spec.SourceRef.Name}
	if err := r.Client.Get(ctx, key, src); err != nil {
		if apierrors.IsNotFound(err) {
			return reconcile.Fail(reasonSourceUnavailable, fmt.Errorf("%s '%s' not found", obj.Spec.SourceRef.Kind, key))
		}
		return reconcile.Fail(reasonSourceUnavailable, fmt.Errorf("reading %s '%s': %w", obj.Spec.SourceRef.Kind, key, err))
	}
	return nil
}

// dependencyRepository returns, for a chart dependency's http(s)
// repository URL, the client of the HelmRepository of namespace with that
// URL (its credentials and TLS), or nil (anonymous) when there is none.
// Its Secrets' values are masked in rep.
func (r *HelmChartReconciler) dependencyRepository(ctx context.Context, namespace, url string, rep *controllers.Reporter) (*repo.Repository, error) {
	hr, err := r.repositoryWithURL(ctx, namespace, url, false)
	if err != nil || hr == nil {
		return nil, err
	}
	return helmHTTPRepository(ctx, r.Client, hr, rep, helmLimits{maxIndexBytes: r.MaxIndexSize, maxChartBytes: r.MaxChartSize})
}

// dependencyOCIRepository is dependencyRepository for oci:// URLs.
func (r *HelmChartReconciler) dependencyOCIRepository(ctx context.Context, namespace, url string, rep *controllers.Reporter) (*repo.OCIRepository, error) {
	hr, err := r.repositoryWithURL(ctx, namespace, url, true)
	if err != nil || hr == nil {
		return nil, err
	}
	return helmOCIRepository(ctx, r.Client, hr, rep, helmLimits{maxChartBytes: r.MaxChartSize})
}

func (r *HelmChartReconciler) repositoryWithURL(ctx context.Context, namespace, url string, isOCI bool) (*sourcev1.HelmRepository, error) {
	var l sourcev1.HelmRepositoryList
	if err := r.Client.List(ctx, &l, client.InNamespace(namespace)); err != nil {
		return nil, fmt.Errorf("listing HelmRepositories: %w", err)
	}
	want := strings.TrimSuffix(url, "/")
	for i := range l.Items {
		if hr := &l.Items[i]; hr.IsOCI() == isOCI && strings.TrimSuffix(hr.Spec.URL, "/") == want {
			return hr, nil
		}
	}
	return nil, nil
}

// checkChartName checks spec.chart as the name of a chart in a
// repository: one path element, so that it cannot name another
// repository of an OCI registry (pulled with this one's credentials).
func checkChartName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\\:@") ||
		strings.ContainsFunc(name, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return fmt.Errorf("spec.chart %q must be the name of a chart of the HelmRepository (no '/', ':', '@' or spaces)", name)
	}
	return nil
}

// chartDir checks spec.chart as a path inside a source artifact: relative,
// never climbing out with "..".
func chartDir(p string) (string, error) {
	if p == "" || strings.HasPrefix(p, "/") || strings.Contains(p, `\`) || filepath.IsAbs(p) {
		return "", fmt.Errorf("spec.chart %q must be a relative path inside the source", p)
	}
	for _, elem := range strings.Split(p, "/") {
		if elem == ".." {
			return "", fmt.Errorf("spec.chart %q must not climb out of the source with '..'", p)
		}
	}
	return path.Clean(p), nil
}

func constraintOrLatest(v string) string {
	if v == "" {
		return "*"
	}
	return v
}

// helmPullReason is the Ready reason of a failed chart download.
func helmPullReason(err error) string {
	if errors.Is(err, repo.ErrUnauthorized) {
		return reasonAuthFailed
	}
	return reasonChartPullFailed
}

// ociPullReason is the Ready reason of a failed registry request.
func ociPullReason(err error) string {
	if errors.Is(err, oci.ErrUnauthorized) {
		return reasonAuthFailed
	}
	return reasonChartPullFailed
}
