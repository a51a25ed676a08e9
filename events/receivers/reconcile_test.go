package receivers_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gitopskit/kit/events/receivers"
	"github.com/gitopskit/kit/runtime/reconcile"
	"github.com/gitopskit/kit/runtime/testenv"
)

var env *testenv.Environment

func TestMain(m *testing.M) { testenv.Main(m, &env) }

func configMap(ns, name string, labels map[string]string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels}}
}

func requestedAt(t *testing.T, ns, name string) string {
	t.Helper()
	cm := &corev1.ConfigMap{}
	if err := env.Client().Get(t.Context(), types.NamespacedName{Namespace: ns, Name: name}, cm); err != nil {
		t.Fatal(err)
	}
	return cm.Annotations[reconcile.RequestedAtAnnotation]
}

func TestRequestReconcile(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	env.Create(t,
		configMap(ns, "app", nil),
		configMap(ns, "web-1", map[string]string{"tier": "web"}),
		configMap(ns, "web-2", map[string]string{"tier": "web"}),
		configMap(ns, "db", map[string]string{"tier": "db"}),
	)
	at := time.Date(2024, 5, 1, 12, 0, 0, 123, time.UTC)
	done, err := receivers.RequestReconcile(t.Context(), env.Client(), []receivers.Resource{
		{APIVersion: "v1", Kind: "ConfigMap", Name: "app", Namespace: ns},
		{APIVersion: "v1", Kind: "ConfigMap", Name: "*", Namespace: ns, MatchLabels: map[string]string{"tier": "web"}},
	}, at)
	if err != nil {
		t.Fatal(err)
	}
	if len(done) != 3 {
		t.Errorf("annotated %v", done)
	}
	for _, name := range []string{"app", "web-1", "web-2"} {
		if got := requestedAt(t, ns, name); got != "2024-05-01T12:00:00.000000123Z" {
			t.Errorf("%s: requestedAt %q", name, got)
		}
	}
	if got := requestedAt(t, ns, "db"); got != "" {
		t.Errorf("db was not selected, yet annotated %q", got)
	}

	_, err = receivers.RequestReconcile(t.Context(), env.Client(), []receivers.Resource{
		{Kind: "ConfigMap", Name: "app", Namespace: ns},
		{APIVersion: "v1", Kind: "ConfigMap", Name: "*", Namespace: ns},
		{APIVersion: "v1", Kind: "ConfigMap", Name: "missing", Namespace: ns},
		{APIVersion: "v1", Kind: "ConfigMap", Name: "db", Namespace: ns},
	}, at)
	if !errors.Is(err, receivers.ErrResource) {
		t.Errorf("err = %v, want ErrResource", err)
	}
	if got := requestedAt(t, ns, "db"); got == "" {
		t.Error("one bad resource stopped the others")
	}
}

// TestSignedPushReconciles: a GitHub push, signed as GitHub signs it,
// posted to the handler, sets the request annotation on the real API
// server; a bad signature changes nothing.
func TestSignedPushReconciles(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	env.Create(t, configMap(ns, "app", nil))
	f := &handlerFixture{}
	rcv := &receivers.Receiver{Type: receivers.TypeGitHub, Name: "gh", Namespace: ns, Token: token,
		Resources: []receivers.Resource{{APIVersion: "v1", Kind: "ConfigMap", Name: "app"}}}
	h := receivers.NewHandler(receivers.LookupFunc(func(_ context.Context, path string) (*receivers.Receiver, error) {
		if path == rcv.Path() {
			return rcv, nil
		}
		return nil, nil
	}), func(ctx context.Context, req *receivers.Request) error {
		_, err := receivers.RequestReconcile(ctx, env.Client(), req.Resources, time.Now())
		return err
	})
	f.srv = httptestServer(t, h)
	bad := hdr("X-Hub-Signature-256", sign256("guess", githubPush), "X-GitHub-Event", "push")
	if code, _ := f.post(t, rcv.Path(), bad, githubPush); code != http.StatusUnauthorized {
		t.Fatalf("bad signature: %d", code)
	}
	if got := requestedAt(t, ns, "app"); got != "" {
		t.Fatalf("a bad signature annotated the object: %q", got)
	}
	good := hdr("X-Hub-Signature-256", sign256(token, githubPush), "X-GitHub-Event", "push")
	if code, _ := f.post(t, rcv.Path(), good, githubPush); code != http.StatusOK {
		t.Fatalf("signed push: %d", code)
	}
	if got := requestedAt(t, ns, "app"); got == "" {
		t.Error("the signed push did not annotate the object")
	}
}
