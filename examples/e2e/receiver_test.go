package e2e_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/events/receivers"
	"github.com/gitopskit/kit/git/gittest"
	"github.com/gitopskit/kit/runtime/conditions"

	"github.com/gitopskit/kit/examples/api/meta"
	notificationv1 "github.com/gitopskit/kit/examples/api/notification/v1"
	sourcev1 "github.com/gitopskit/kit/examples/api/source/v1"
	"github.com/gitopskit/kit/examples/internal/controller/notification"
)

// githubReceiver creates a GitHub Receiver (push events) for the
// GitRepository and its token Secret, waits until it is Ready, and
// returns its webhook path and token.
func (f *fixture) githubReceiver(name string, repo *sourcev1.GitRepository) (path, token string) {
	f.t.Helper()
	token = "e2e-token-" + f.ns + "-" + name
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name + "-token"},
		Data:       map[string][]byte{notificationv1.ReceiverTokenKey: []byte(token)},
	}
	rcv := &notificationv1.Receiver{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: notificationv1.ReceiverSpec{
			Type:      receivers.TypeGitHub,
			Events:    []string{"push"},
			SecretRef: meta.LocalObjectReference{Name: secret.Name},
			Resources: []notificationv1.CrossNamespaceObjectReference{{Kind: sourcev1.GitRepositoryKind, Name: repo.Name}},
		},
	}
	f.create(secret, rcv)
	f.eventually(rcv, func() bool { return conditions.IsReady(rcv) && rcv.Status.WebhookPath != "" },
		func() string { return conds(rcv.Status.Conditions) })
	path = rcv.Status.WebhookPath
	// The receiver server looks the path up in gitopsd's cache, which
	// may lag the API server a little.
	deadline := time.Now().Add(timeout)
	for {
		var l notificationv1.ReceiverList
		err := op.Manager().GetClient().List(context.Background(), &l, client.MatchingFields{notification.WebhookPathIndex: path})
		if err == nil && len(l.Items) == 1 && conditions.IsReady(&l.Items[0]) {
			return path, token
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("gitopsd's cache does not see Receiver %s Ready at its path (err=%v)", name, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// pushWebhook posts to gitopsd's receiver what GitHub sends after a push
// of commit to main, signed with token, and fails unless it is taken.
func (f *fixture) pushWebhook(path, token, commit string) {
	f.t.Helper()
	body := fmt.Appendf(nil, `{"ref":"refs/heads/main","after":%q,"repository":{"full_name":"org/app"}}`, commit)
	m := hmac.New(sha256.New, []byte(token))
	m.Write(body)
	req, err := http.NewRequest(http.MethodPost, "http://"+op.ReceiverAddr().String()+path, bytes.NewReader(body))
	if err != nil {
		f.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(m.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		f.t.Fatalf("webhook answered %d, want 200", resp.StatusCode)
	}
}

// TestReceiverAppliesAPush: a GitRepository polling every 10 minutes gets
// a new commit applied at once when a signed GitHub push webhook reaches
// gitopsd's receiver server.
func TestReceiverAppliesAPush(t *testing.T) {
	f := newFixture(t)
	srv := gittest.NewServer(t)
	repo := srv.InitRepository("app.git")
	c1 := repo.Commit("main", "app", map[string]string{"deploy/config.yaml": cm("config", "one")})
	src := gitRepository("app", srv.HTTPURL("app.git"))
	ks := kustomization("app", f.ns, src, "./deploy")
	f.create(src, ks)
	f.applied(ks, "main@sha1:"+c1)
	path, token := f.githubReceiver("github", src)

	c2 := repo.Commit("main", "change", map[string]string{"deploy/config.yaml": cm("config", "two")})
	f.pushWebhook(path, token, c2)
	f.applied(ks, "main@sha1:"+c2)
	if got := f.configMapData(f.ns, "config")["value"]; got != "two" {
		t.Errorf("config value = %q after the push, want two", got)
	}
}

// BenchmarkReceiverCommitToApplied measures commit-to-applied latency
// through gitopsd's receiver server: from a commit landing on the git
// server to the Kustomization being Ready with it applied, when
//
//   - webhook: a signed GitHub push event is posted to the receiver right
//     after the commit (it sets the reconcile request annotation);
//   - request: the reconcile request annotation is set on the
//     GitRepository directly, as BenchmarkCommitToApplied's request row.
//
// ms/applied is the mean latency, ms/trigger the part until the receiver
// answered (verified, annotation written) or the annotation was written.
func BenchmarkReceiverCommitToApplied(b *testing.B) {
	for _, webhook := range []bool{true, false} {
		name := "request"
		if webhook {
			name = "webhook"
		}
		b.Run(name, func(b *testing.B) {
			f := &fixture{t: b, ns: env.Namespace(b), c: env.Client()}
			srv := gittest.NewServer(b)
			repo := srv.InitRepository("app.git")
			c := repo.Commit("main", "init", map[string]string{"deploy/config.yaml": cm("config", "0")})
			src := gitRepository("app", srv.HTTPURL("app.git"))
			ks := kustomization("app", f.ns, src, "./deploy")
			f.create(src, ks)
			f.applied(ks, "main@sha1:"+c)
			path, token := f.githubReceiver("github", src)

			var total, hook time.Duration
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				c := repo.Commit("main", fmt.Sprint("change ", i), map[string]string{"deploy/config.yaml": cm("config", fmt.Sprint(i+1))})
				t0 := time.Now()
				if webhook {
					f.pushWebhook(path, token, c)
				} else {
					f.request(src)
				}
				hook += time.Since(t0)
				f.applied(ks, "main@sha1:"+c)
				total += time.Since(t0)
			}
			b.StopTimer()
			b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/applied")
			b.ReportMetric(float64(hook.Microseconds())/1000/float64(b.N), "ms/trigger")
		})
	}
}
