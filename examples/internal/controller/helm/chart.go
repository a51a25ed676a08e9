package helm

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"sync"

	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/artifact"
	"github.com/gitopskit/kit/helmutil/chart"
	"github.com/gitopskit/kit/runtime/acl"
	"github.com/gitopskit/kit/runtime/reconcile"

	helmv1 "github.com/gitopskit/kit/examples/api/helm/v1"
	sourcev1 "github.com/gitopskit/kit/examples/api/source/v1"
)

// Labels gitopsd puts on the HelmChart it makes from spec.chart, naming
// the HelmRelease that owns it (an owner reference cannot cross
// namespaces).
const (
	OwnerNameLabel      = "helm.gitopskit.dev/name"
	OwnerNamespaceLabel = "helm.gitopskit.dev/namespace"
)

// DefaultMaxChartSize bounds a chart package's download, and its
// uncompressed files, unless HelmReleaseReconciler.MaxChartSize says
// otherwise.
const DefaultMaxChartSize int64 = 50 << 20

// chartSource returns the source of the HelmRelease's chart: the HelmChart
// made from spec.chart (created or updated here), or the HelmChart or
// OCIRepository of spec.chartRef.
func (r *HelmReleaseReconciler) chartSource(ctx context.Context, obj *helmv1.HelmRelease) (sourcev1.Source, error) {
	if obj.Spec.Chart != nil {
		return r.ensureHelmChart(ctx, obj)
	}
	ref := obj.Spec.ChartRef
	if ref == nil {
		return nil, reconcile.Stall(InvalidSpecReason, errors.New("one of spec.chart and spec.chartRef must be set"))
	}
	if ref.APIVersion != "" && ref.APIVersion != sourcev1.GroupVersion.String() {
		return nil, reconcile.Stall(InvalidSpecReason, fmt.Errorf("chartRef apiVersion %q is not supported, want %s", ref.APIVersion, sourcev1.GroupVersion))
	}
	ns := ref.Namespace
	if ns == "" {
		ns = obj.Namespace
	}
	if err := r.checkACL(ctx, obj, "chartRef", ns); err != nil {
		return nil, err
	}
	var src sourcev1.Source
	switch ref.Kind {
	case sourcev1.HelmChartKind:
		src = &sourcev1.HelmChart{}
	case sourcev1.OCIRepositoryKind:
		src = &sourcev1.OCIRepository{}
	default:
		return nil, reconcile.Stall(InvalidSpecReason, fmt.Errorf("chartRef kind %q is not supported", ref.Kind))
	}
	if err := r.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: ref.Name}, src); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, reconcile.Fail(ArtifactFailedReason, fmt.Errorf("%s '%s/%s' not found", ref.Kind, ns, ref.Name))
		}
		return nil, fmt.Errorf("reading %s '%s/%s': %w", ref.Kind, ns, ref.Name, err)
	}
	next := ""
	if ref.Kind == sourcev1.HelmChartKind {
		next = ns + "/" + ref.Name
	}
	// Moved from spec.chart to chartRef: the HelmChart made before goes
	// (deleteHelmChart leaves alone one gitopsd did not make for obj).
	if prev := obj.Status.HelmChart; prev != "" && prev != next {
		if err := r.deleteHelmChart(ctx, obj, prev); err != nil {
			return nil, err
		}
	}
	obj.Status.HelmChart = next
	return src, nil
}

// checkACL refuses a reference into another namespace the policy does not
// let the HelmRelease reach.
func (r *HelmReleaseReconciler) checkACL(ctx context.Context, obj *helmv1.HelmRelease, field, ns string) error {
	if err := r.ACL.Check(ctx, r.Client, obj.Namespace, ns); err != nil {
		if errors.Is(err, acl.ErrAccessDenied) {
			return reconcile.Stall(AccessDeniedReason, fmt.Errorf("%s in namespace %s: %w", field, ns, err))
		}
		return err
	}
	return nil
}

// helmChartKey is where the HelmChart of spec.chart lives.
func helmChartKey(obj *helmv1.HelmRelease) types.NamespacedName {
	ns := obj.Spec.Chart.Spec.SourceRef.Namespace
	if ns == "" {
		ns = obj.Namespace
	}
	return types.NamespacedName{Namespace: ns, Name: obj.HelmChartName()}
}

// ensureHelmChart creates or updates the HelmChart of spec.chart, named
// <namespace>-<name> in the namespace of its sourceRef, as Flux does.
func (r *HelmReleaseReconciler) ensureHelmChart(ctx context.Context, obj *helmv1.HelmRelease) (sourcev1.Source, error) {
	key := helmChartKey(obj)
	if err := r.checkACL(ctx, obj, "chart.spec.sourceRef", key.Namespace); err != nil {
		return nil, err
	}
	// A HelmChart made before, elsewhere (the source moved namespace), is
	// gitopsd's to delete.
	if prev := obj.Status.HelmChart; prev != "" && prev != key.String() {
		if err := r.deleteHelmChart(ctx, obj, prev); err != nil {
			return nil, err
		}
	}
	want := desiredHelmChart(obj, key)
	hc := &sourcev1.HelmChart{}
	err := r.Client.Get(ctx, key, hc)
	switch {
	case apierrors.IsNotFound(err):
		if err := r.Client.Create(ctx, want); err != nil {
			return nil, fmt.Errorf("creating HelmChart '%s': %w", key, err)
		}
		hc = want
	case err != nil:
		return nil, fmt.Errorf("reading HelmChart '%s': %w", key, err)
	default:
		if hc.Labels[OwnerNameLabel] != obj.Name || hc.Labels[OwnerNamespaceLabel] != obj.Namespace {
			return nil, reconcile.Stall(InvalidSpecReason, fmt.Errorf("HelmChart '%s' exists and belongs to no HelmRelease %s/%s", key, obj.Namespace, obj.Name))
		}
		if !reflect.DeepEqual(hc.Spec, want.Spec) || !subset(want.Labels, hc.Labels) || !subset(want.Annotations, hc.Annotations) {
			hc.Spec = want.Spec
			hc.Labels = merged(hc.Labels, want.Labels)
			hc.Annotations = merged(hc.Annotations, want.Annotations)
			if err := r.Client.Update(ctx, hc); err != nil {
				return nil, fmt.Errorf("updating HelmChart '%s': %w", key, err)
			}
		}
	}
	obj.Status.HelmChart = key.String()
	return hc, nil
}

// desiredHelmChart is the HelmChart spec.chart describes.
func desiredHelmChart(obj *helmv1.HelmRelease, key types.NamespacedName) *sourcev1.HelmChart {
	t := obj.Spec.Chart
	hc := &sourcev1.HelmChart{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}
	if t.ObjectMeta != nil {
		hc.Labels, hc.Annotations = maps.Clone(t.ObjectMeta.Labels), maps.Clone(t.ObjectMeta.Annotations)
	}
	if hc.Labels == nil {
		hc.Labels = map[string]string{}
	}
	hc.Labels[OwnerNameLabel], hc.Labels[OwnerNamespaceLabel] = obj.Name, obj.Namespace
	interval := obj.Spec.Interval
	if t.Spec.Interval != nil {
		interval = *t.Spec.Interval
	}
	hc.Spec = sourcev1.HelmChartSpec{
		Chart: t.Spec.Chart, Version: t.Spec.Version,
		SourceRef:         sourcev1.LocalHelmChartSourceReference{APIVersion: t.Spec.SourceRef.APIVersion, Kind: t.Spec.SourceRef.Kind, Name: t.Spec.SourceRef.Name},
		Interval:          interval,
		ReconcileStrategy: t.Spec.ReconcileStrategy,
		ValuesFiles:       t.Spec.ValuesFiles, IgnoreMissingValuesFiles: t.Spec.IgnoreMissingValuesFiles,
		Verify: t.Spec.Verify.DeepCopy(),
	}
	if hc.Spec.Version == "" {
		hc.Spec.Version = "*"
	}
	if hc.Spec.ReconcileStrategy == "" {
		hc.Spec.ReconcileStrategy = sourcev1.ReconcileStrategyChartVersion
	}
	return hc
}

// deleteHelmChart deletes the HelmChart key ("namespace/name") when it is
// the one gitopsd made for obj.
func (r *HelmReleaseReconciler) deleteHelmChart(ctx context.Context, obj *helmv1.HelmRelease, key string) error {
	ns, name, ok := cut(key)
	if !ok {
		return nil
	}
	hc := &sourcev1.HelmChart{}
	if err := r.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, hc); err != nil {
		return client.IgnoreNotFound(err)
	}
	if hc.Labels[OwnerNameLabel] != obj.Name || hc.Labels[OwnerNamespaceLabel] != obj.Namespace {
		return nil
	}
	if err := r.Client.Delete(ctx, hc); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting HelmChart '%s': %w", key, err)
	}
	return nil
}

func cut(key string) (ns, name string, ok bool) {
	for i := range len(key) {
		if key[i] == '/' {
			return key[:i], key[i+1:], i > 0 && i < len(key)-1
		}
	}
	return "", "", false
}

func subset(want, have map[string]string) bool {
	for k, v := range want {
		if hv, ok := have[k]; !ok || hv != v {
			return false
		}
	}
	return true
}

func merged(have, want map[string]string) map[string]string {
	if have == nil {
		have = map[string]string{}
	}
	maps.Copy(have, want)
	return have
}

// chartCache keeps loaded charts by artifact digest, so that a HelmRelease
// whose chart did not change is not downloaded and loaded again on every
// reconcile, and many HelmReleases of one chart share one load. Charts are
// never modified (helmutil/release gives Helm's actions a copy).
type chartCache struct {
	mu     sync.Mutex
	charts map[string]*chartv2.Chart
	order  []string
	max    int
}

func (c *chartCache) get(digest string) *chartv2.Chart {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.charts[digest]
}

func (c *chartCache) put(digest string, ch *chartv2.Chart) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.charts == nil {
		c.charts = map[string]*chartv2.Chart{}
	}
	if _, ok := c.charts[digest]; ok {
		return
	}
	for len(c.order) >= max(c.max, 1) {
		delete(c.charts, c.order[0])
		c.order = c.order[1:]
	}
	c.charts[digest] = ch
	c.order = append(c.order, digest)
}

// loadChart downloads the chart package of art (its digest verified by
// artifact/fetch) and loads it within the size limit, or returns the
// chart loaded before from the same digest.
func (r *HelmReleaseReconciler) loadChart(ctx context.Context, art *artifact.Artifact) (*chartv2.Chart, error) {
	if ch := r.charts.get(string(art.Digest)); ch != nil {
		return ch, nil
	}
	limit := r.maxChartSize()
	if art.Size != nil && *art.Size > limit {
		return nil, reconcile.Fail(ArtifactFailedReason, fmt.Errorf("the chart artifact of revision %s is %d bytes, over the limit of %d", art.Revision, *art.Size, limit))
	}
	tmp, err := os.MkdirTemp("", "helmrelease-")
	if err != nil {
		return nil, fmt.Errorf("creating a temporary folder: %w", err)
	}
	defer os.RemoveAll(tmp)
	file := filepath.Join(tmp, "chart.tgz")
	if err := r.Fetcher.Download(ctx, *art, file); err != nil {
		return nil, reconcile.Fail(ArtifactFailedReason, fmt.Errorf("fetching the chart artifact of revision %s: %w", art.Revision, err))
	}
	fi, err := os.Stat(file)
	if err != nil {
		return nil, err
	}
	if fi.Size() > limit {
		return nil, reconcile.Fail(ArtifactFailedReason, fmt.Errorf("the chart artifact of revision %s is %d bytes, over the limit of %d", art.Revision, fi.Size(), limit))
	}
	ch, err := chart.LoadArchiveFile(ctx, file, chart.LoadOptions{MaxBytes: limit})
	if err != nil {
		return nil, reconcile.Fail(ChartLoadFailedReason, fmt.Errorf("loading the chart of revision %s: %w", art.Revision, err))
	}
	r.charts.put(string(art.Digest), ch)
	return ch, nil
}

func (r *HelmReleaseReconciler) maxChartSize() int64 {
	if r.MaxChartSize > 0 {
		return r.MaxChartSize
	}
	return DefaultMaxChartSize
}
