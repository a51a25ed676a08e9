package gitopsd

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/git/gittest"
	"github.com/gitopskit/kit/runtime/conditions"
	"github.com/gitopskit/kit/runtime/testenv"

	imagev1 "github.com/gitopskit/kit/examples/api/image/v1"
	sourcev1 "github.com/gitopskit/kit/examples/api/source/v1"
)

// gitopsd's GitRepository and ImageUpdateAutomation reconcilers share one
// git cache, under <storage-path>/.git-cache: an automation run over a
// revision the GitRepository fetched asks the server for no objects at
// all (one reference listing, no pack).
func TestGitCacheShared(t *testing.T) {
	scheme, err := NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	env, err := testenv.Start(testenv.WithScheme(scheme), testenv.WithCRDPaths("../../config/crd/bases"))
	if err != nil {
		t.Fatalf("starting the control plane: %v", err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stopping the control plane: %v", err)
		}
	})
	h := &hookEnv{env: env, c: env.Client(), log: &syncBuffer{}}
	opts := testOptions(t, h.log)
	h.run(t, opts)

	var packs atomic.Int64
	count := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/git-upload-pack") {
				packs.Add(1)
			}
			next.ServeHTTP(w, r)
		})
	}
	srv := gittest.NewServer(t, gittest.WithMiddleware(count))
	repo := srv.InitRepository("config.git")
	head := repo.Commit("main", "init", map[string]string{"clusters/prod/app.yaml": "image: example.com/app:v1\n"})

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ns := env.Namespace(t)
	gr := &sourcev1.GitRepository{
		ObjectMeta: metav1.ObjectMeta{Name: "config", Namespace: ns},
		Spec: sourcev1.GitRepositorySpec{
			URL: srv.HTTPURL("config.git"), Interval: metav1.Duration{Duration: time.Hour},
			Reference: &sourcev1.GitRepositoryRef{Branch: "main"},
		},
	}
	if err := h.c.Create(ctx, gr); err != nil {
		t.Fatal(err)
	}
	waitReady(ctx, t, h.c, gr)
	if n := packs.Load(); n != 1 {
		t.Fatalf("the GitRepository fetched %d packs, want 1", n)
	}
	cached, _ := filepath.Glob(filepath.Join(opts.StoragePath, DefaultGitCacheDir, "repositories", "*.git"))
	if len(cached) != 1 {
		t.Fatalf("git cache repositories under the storage: %v", cached)
	}

	auto := &imagev1.ImageUpdateAutomation{
		ObjectMeta: metav1.ObjectMeta{Name: "apps", Namespace: ns},
		Spec: imagev1.ImageUpdateAutomationSpec{
			SourceRef: imagev1.CrossNamespaceSourceReference{Kind: sourcev1.GitRepositoryKind, Name: "config"},
			GitSpec: &imagev1.GitSpec{
				Checkout: &imagev1.GitCheckoutSpec{Reference: imagev1.GitCheckoutReference{Branch: "main"}},
				Commit:   imagev1.CommitSpec{Author: imagev1.CommitUser{Name: "bot", Email: "bot@example.com"}},
			},
			Interval: metav1.Duration{Duration: time.Hour},
		},
	}
	if err := h.c.Create(ctx, auto); err != nil {
		t.Fatal(err)
	}
	waitReady(ctx, t, h.c, auto)
	if auto.Status.ObservedSourceRevision != "main@sha1:"+head {
		t.Errorf("the automation checked out %q", auto.Status.ObservedSourceRevision)
	}
	if n := packs.Load(); n != 1 {
		t.Errorf("%d packs fetched after the automation ran, want the GitRepository's one only", n)
	}
}

// waitReady polls obj until it is Ready=True at its generation.
func waitReady(ctx context.Context, t *testing.T, c client.Client, obj interface {
	client.Object
	conditions.Getter
}) {
	t.Helper()
	for {
		if err := c.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			t.Fatal(err)
		}
		if r := conditions.Get(obj, conditions.Ready); r != nil && r.Status == metav1.ConditionTrue && r.ObservedGeneration == obj.GetGeneration() {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s never Ready: %+v", obj.GetName(), obj.GetConditions())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
