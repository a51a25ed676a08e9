package e2e_test

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/git/gittest"
)

// Every reconciler tells what it did in Kubernetes Events, as kubectl
// describe shows them: a new artifact, an applied revision with what
// changed, a failure naming its reason.
func TestEventsOfEachOutcome(t *testing.T) {
	f := newFixture(t)
	srv := gittest.NewServer(t)
	repo := srv.InitRepository("app.git")
	c1 := repo.Commit("main", "app", map[string]string{"deploy/a.yaml": cm("a", "one")})
	src := gitRepository("app", srv.HTTPURL("app.git"))
	ks := kustomization("app", f.ns, src, "./deploy")
	f.create(src, ks)
	f.applied(ks, "main@sha1:"+c1)

	c2 := repo.Commit("main", "break", map[string]string{"deploy/bad.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: [oops\n"})
	f.request(src)
	f.waitEvent(t, "Kustomization", "app", corev1.EventTypeWarning, "BuildFailed", "main@sha1:"+c2)

	for _, want := range []struct{ kind, typ, reason, text string }{
		{"GitRepository", corev1.EventTypeNormal, "NewArtifact", "main@sha1:" + c1},
		{"Kustomization", corev1.EventTypeNormal, "ReconciliationSucceeded", "1 created"},
	} {
		f.waitEvent(t, want.kind, "app", want.typ, want.reason, want.text)
	}
}

// waitEvent waits for an Event of the object with the type and reason and
// a message containing text.
func (f *fixture) waitEvent(t *testing.T, kind, name, typ, reason, text string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var seen []string
	for time.Now().Before(deadline) {
		list := &corev1.EventList{}
		if err := env.Client().List(context.Background(), list, client.InNamespace(f.ns)); err != nil {
			t.Fatal(err)
		}
		seen = seen[:0]
		for _, e := range list.Items {
			if e.InvolvedObject.Kind != kind || e.InvolvedObject.Name != name {
				continue
			}
			seen = append(seen, e.Type+" "+e.Reason+": "+e.Message)
			if e.Type == typ && e.Reason == reason && strings.Contains(e.Message, text) {
				return
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("no %s %s event of %s/%s mentioning %q; events:\n%s", typ, reason, kind, name, text, strings.Join(seen, "\n"))
}
