package source_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/gitopskit/kit/artifact"
	"github.com/gitopskit/kit/artifact/artifacttest"
	"github.com/gitopskit/kit/artifact/fetch"
	sourcev1 "github.com/gitopskit/kit/examples/api/source/v1"
	"github.com/gitopskit/kit/examples/internal/controller"
	"github.com/gitopskit/kit/examples/internal/controller/source"
	"github.com/gitopskit/kit/examples/internal/metricstest"
	"github.com/gitopskit/kit/helmutil/chart"
	"github.com/gitopskit/kit/helmutil/helmtest"
	"github.com/gitopskit/kit/helmutil/repo"
	"github.com/gitopskit/kit/runtime/metrics"
)

// helmLimits are the limits a Helm harness's reconcilers run with.
type helmLimits struct {
	maxIndex, maxChart int64
}

// newHelmHarness runs the GitRepository, OCIRepository, Bucket,
// HelmRepository and HelmChart reconcilers (sharing one index cache, as gitopsd does) in a manager of
// their own over the test's namespace, storing into an artifact server of
// their own, with their events collected.
func newHelmHarness(t *testing.T, l helmLimits) (*harness, *eventLog) {
	t.Helper()
	ns := env.Namespace(t)
	srv := artifacttest.NewServer(t)
	mgr, err := ctrl.NewManager(env.Config(), ctrl.Options{
		Scheme:                 env.Scheme(),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Cache:                  cache.Options{DefaultNamespaces: map[string]cache.Config{ns: {}}},
		Client:                 client.Options{Cache: &client.CacheOptions{DisableFor: controller.UncachedObjects()}},
		Controller:             config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	rec := metrics.NewRecorder(metrics.WithScheme(env.Scheme()))
	if err := rec.Register(reg); err != nil {
		t.Fatal(err)
	}
	events := newEventLog(t)
	indexes := repo.NewCache(64<<20, time.Minute)
	setups := []interface{ SetupWithManager(ctrl.Manager) error }{
		&source.GitRepositoryReconciler{Client: mgr.GetClient(), Storage: srv.Storage(), Metrics: rec, Events: events.recorder},
		&source.OCIRepositoryReconciler{Client: mgr.GetClient(), Storage: srv.Storage(), Metrics: rec, Events: events.recorder},
		&source.BucketReconciler{Client: mgr.GetClient(), Storage: srv.Storage(), Metrics: rec, Events: events.recorder},
		&source.HelmRepositoryReconciler{Client: mgr.GetClient(), Storage: srv.Storage(), IndexCache: indexes,
			MaxIndexSize: l.maxIndex, Metrics: rec, Events: events.recorder},
		&source.HelmChartReconciler{Client: mgr.GetClient(), Storage: srv.Storage(), IndexCache: indexes,
			Fetcher:      fetch.New(fetch.WithRetries(1), fetch.WithBackoff(10*time.Millisecond, 50*time.Millisecond)),
			MaxIndexSize: l.maxIndex, MaxChartSize: l.maxChart, Metrics: rec, Events: events.recorder},
	}
	for _, s := range setups {
		if err := s.SetupWithManager(mgr); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
		if err := metricstest.NoPanics(reg); err != nil {
			t.Error(err)
		}
	})
	return &harness{t: t, ns: ns, c: env.Client(), artifacts: srv, metrics: reg}, events
}

func helmRepository(name, url string, mutate ...func(*sourcev1.HelmRepositorySpec)) *sourcev1.HelmRepository {
	obj := &sourcev1.HelmRepository{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       sourcev1.HelmRepositorySpec{URL: url, Interval: metav1.Duration{Duration: time.Hour}},
	}
	for _, m := range mutate {
		m(&obj.Spec)
	}
	return obj
}

func helmChart(name, chartName, kind, source string, mutate ...func(*sourcev1.HelmChartSpec)) *sourcev1.HelmChart {
	obj := &sourcev1.HelmChart{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: sourcev1.HelmChartSpec{
			Chart:     chartName,
			SourceRef: sourcev1.LocalHelmChartSourceReference{Kind: kind, Name: source},
			Interval:  metav1.Duration{Duration: time.Hour},
		},
	}
	for _, m := range mutate {
		m(&obj.Spec)
	}
	return obj
}

// requestObject annotates obj with a reconcile request v and waits until it is
// handled.
func (h *harness) requestObject(obj interface {
	client.Object
	GetLastHandledReconcileAt() string
}, v string) {
	h.t.Helper()
	h.update(obj, func() {
		a := obj.GetAnnotations()
		if a == nil {
			a = map[string]string{}
		}
		a["reconcile.gitopskit.dev/requestedAt"] = v
		obj.SetAnnotations(a)
	})
	deadline := time.Now().Add(time.Minute)
	for {
		if err := h.c.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
			h.t.Fatal(err)
		}
		if obj.GetLastHandledReconcileAt() == v {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("%s: request %q not handled", obj.GetName(), v)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// loadChartArtifact downloads the packaged chart of a HelmChart and loads
// it, failing the test when it does not load.
func loadChartArtifact(t *testing.T, obj *sourcev1.HelmChart) (name, version string, values string) {
	t.Helper()
	if obj.Status.Artifact == nil {
		t.Fatal("no artifact")
	}
	file := filepath.Join(t.TempDir(), "chart.tgz")
	if err := fetch.New().Download(context.Background(), *obj.Status.Artifact, file); err != nil {
		t.Fatal(err)
	}
	ch, err := chart.LoadArchiveFile(context.Background(), file, chart.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range ch.Raw {
		if f.Name == "values.yaml" {
			values = string(f.Data)
		}
	}
	return ch.Metadata.Name, ch.Metadata.Version, values
}

func readBytes(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// all returns the events recorded so far.
func (l *eventLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

// caOf returns, PEM-encoded, the certificate that anchors the chain the
// TLS chart repository srv presents.
func caOf(t *testing.T, srv *helmtest.Server) []byte {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: srv.TLSConfig()}}
	resp, err := c.Get(srv.URL() + "/index.yaml")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	chain := resp.TLS.PeerCertificates
	return pemCert(chain[len(chain)-1].Raw)
}

// fetchFile downloads the artifact a into file, checking its digest.
func fetchFile(a *artifact.Artifact, file string) error {
	return fetch.New().Download(context.Background(), *a, file)
}
