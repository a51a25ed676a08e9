package image

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	imagev1 "github.com/gitopskit/kit/examples/api/image/v1"
	"github.com/gitopskit/kit/examples/api/meta"
	sourcev1 "github.com/gitopskit/kit/examples/api/source/v1"
	"github.com/gitopskit/kit/examples/internal/metricstest"
	"github.com/gitopskit/kit/git/gittest"
	"github.com/gitopskit/kit/oci/ocitest"
)

// series is the labels of obj's series of kind.
func series(obj client.Object, kind string, extra ...string) map[string]string {
	l := map[string]string{"kind": kind, "name": obj.GetName(), "namespace": obj.GetNamespace()}
	for i := 0; i+1 < len(extra); i += 2 {
		l[extra[i]] = extra[i+1]
	}
	return l
}

// wantMetric waits until the series has the value.
func (h *harness) wantMetric(name string, labels map[string]string, want float64) {
	h.t.Helper()
	h.eventually(fmt.Sprintf("%s%v = %v", name, labels, want), func() bool {
		fams, err := metricstest.Gather(h.metrics)
		if err != nil {
			h.t.Fatal(err)
		}
		v, ok := fams.Value(name, labels)
		return ok && v == want
	})
}

// The three kinds record runtime/metrics series (conditions, suspension),
// honour suspend with Suspended/Resumed events, and leave no series once
// deleted.
func TestImageLifecycle(t *testing.T) {
	f := newAutomationFixture(t, nil)
	h := f.h
	auto := automation("apps")
	h.create(auto)
	h.waitReady(auto)
	repo := &imagev1.ImageRepository{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: h.ns}}
	pol := &imagev1.ImagePolicy{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: h.ns}}
	objs := []struct {
		obj  client.Object
		kind string
	}{{repo, imagev1.ImageRepositoryKind}, {pol, imagev1.ImagePolicyKind}, {auto, imagev1.ImageUpdateAutomationKind}}
	for _, o := range objs {
		h.wantMetric("gitopskit_reconcile_condition", series(o.obj, o.kind, "type", "Ready", "status", "True"), 1)
		h.wantMetric("gitopskit_suspend_status", series(o.obj, o.kind), 0)
	}

	ctx := context.Background()
	patch := func(obj client.Object, suspend bool) {
		t.Helper()
		p := client.RawPatch(client.Merge.Type(), fmt.Appendf(nil, `{"spec":{"suspend":%v}}`, suspend))
		if err := h.c.Patch(ctx, obj, p); err != nil {
			t.Fatal(err)
		}
	}
	patch(repo, true)
	h.wantMetric("gitopskit_suspend_status", series(repo, imagev1.ImageRepositoryKind), 1)
	h.waitEvent("Normal Suspended reconciliation is suspended")
	pushImage(t, f.reg, "app", "v9.0.0")
	patch(repo, false)
	h.waitEvent("Normal Resumed reconciliation resumed")
	h.waitFor(pol, "the policy to follow the resumed scan", func() bool { return pol.Status.LatestRef != nil && pol.Status.LatestRef.Tag == "v9.0.0" })

	for _, o := range objs {
		if err := h.c.Delete(ctx, o.obj); err != nil {
			t.Fatal(err)
		}
	}
	for _, o := range objs {
		h.eventually("no series of the deleted "+o.kind, func() bool {
			fams, err := metricstest.Gather(h.metrics)
			if err != nil {
				t.Fatal(err)
			}
			return fams.Count(series(o.obj, o.kind)) == 0
		})
	}
}

// The git credentials of the GitRepository's secretRef are used for the
// clone and the push over HTTPS; a server echoing the request in a refusal
// leaves no password in a condition or an event.
func TestAutomationGitCredentials(t *testing.T) {
	const user, password = "bot", "git-push-password-123"
	var refuse atomicBool
	h := newHarness(t)
	srv := gittest.NewServer(t, gittest.WithTLS(), gittest.WithBasicAuth(user, password), gittest.WithMiddleware(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if refuse.get() {
				w.Header().Set("WWW-Authenticate", `Basic realm="echo"`)
				w.WriteHeader(http.StatusUnauthorized)
				fmt.Fprintf(w, "denied: %s %v\n", r.Header.Get("Authorization"), r.URL)
				return
			}
			next.ServeHTTP(w, r)
		})
	}))
	repo := srv.InitRepository("config.git")
	reg := ocitest.New(t)
	pushImage(t, reg, "app", "v1.0.0")
	repo.Commit("main", "init", map[string]string{"clusters/prod/deploy.yaml": "image: x:1 # {\"$imagepolicy\": \"" + h.ns + ":app\"}\n"})
	r := imageRepository("app", reg, "app")
	h.create(r)
	p := imagePolicy("app", "app", semverPolicy("*"))
	p.Labels = map[string]string{"automation": "yes"}
	h.create(p)
	h.waitReady(p)
	h.create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "git"}, Data: map[string][]byte{
		"username": []byte(user), "password": []byte(password), "ca.crt": srv.CA(),
	}})
	h.create(&sourcev1.GitRepository{
		ObjectMeta: metav1.ObjectMeta{Name: "config"},
		Spec: sourcev1.GitRepositorySpec{
			URL: srv.HTTPURL("config.git"), Interval: metav1.Duration{Duration: time.Hour},
			Reference: &sourcev1.GitRepositoryRef{Branch: "main"}, SecretRef: &meta.LocalObjectReference{Name: "git"},
		},
	})
	obj := automation("apps")
	h.create(obj)
	h.waitReady(obj)
	if obj.Status.LastPushCommit != repo.Resolve("refs/heads/main") {
		t.Fatalf("lastPushCommit %s, main %s", obj.Status.LastPushCommit, repo.Resolve("refs/heads/main"))
	}

	refuse.set(true)
	h.request(obj)
	basic := base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
	h.waitNotReady(obj, reasonGitFailed)
	h.waitEvent("Warning " + reasonGitFailed)
	everything := fmt.Sprintf("%+v\n%s", obj.Status, h.events.all())
	for _, secret := range []string{password, basic} {
		if strings.Contains(everything, secret) {
			t.Fatalf("the credentials appear in the status or an event:\n%s", everything)
		}
	}
}

// atomicBool is a flag shared with a server's handler.
type atomicBool struct{ v atomic.Bool }

func (b *atomicBool) get() bool  { return b.v.Load() }
func (b *atomicBool) set(v bool) { b.v.Store(v) }
