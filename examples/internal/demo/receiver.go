package demo

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/events/receivers"
	"github.com/gitopskit/kit/runtime/conditions"

	"github.com/gitopskit/kit/examples/api/meta"
	notificationv1 "github.com/gitopskit/kit/examples/api/notification/v1"
	sourcev1 "github.com/gitopskit/kit/examples/api/source/v1"
)

// receiverName names the demo's Receiver and (with -token) its Secret.
const receiverName = "demo-github"

// changeWithWebhook creates a GitHub Receiver for the GitRepository (whose
// interval is still 10 minutes), pushes a commit and posts what GitHub
// would send after it — a push event signed with the Receiver's token —
// to gitopsd's receiver server, and shows the change applied.
func (d *demo) changeWithWebhook(ctx context.Context) (func() error, error) {
	token, err := randomToken()
	if err != nil {
		return nil, err
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: receiverName + "-token", Namespace: Namespace},
		Data:       map[string][]byte{notificationv1.ReceiverTokenKey: []byte(token)},
	}
	rcv := &notificationv1.Receiver{
		ObjectMeta: metav1.ObjectMeta{Name: receiverName, Namespace: Namespace},
		Spec: notificationv1.ReceiverSpec{
			Type:      receivers.TypeGitHub,
			Events:    []string{"push"},
			SecretRef: meta.LocalObjectReference{Name: secret.Name},
			Resources: []notificationv1.CrossNamespaceObjectReference{{Kind: sourcev1.GitRepositoryKind, Name: Name}},
		},
	}
	d.printf("\n→ creating Receiver %s/%s (github, events: push) for GitRepository %s, whose interval is 10m\n", Namespace, receiverName, Name)
	for _, o := range []client.Object{secret, rcv} {
		if err := d.c.Create(ctx, o); err != nil {
			return nil, err
		}
	}
	t0 := time.Now()
	if err := d.waitFor(ctx, rcv, &notificationv1.ReceiverList{}, func() bool {
		return conditions.IsReady(rcv) && rcv.Status.WebhookPath != ""
	}); err != nil {
		return nil, err
	}
	d.githubPath, d.githubToken = rcv.Status.WebhookPath, token
	d.printf("✓ Receiver %s Ready in %s: webhooks go to http://%s%s\n", receiverName, since(t0), d.receiverAddr, shortPath(rcv.Status.WebhookPath))

	d.printf("→ pushing a commit that changes app-config's greeting to \"hello, webhook\", then posting GitHub's push event\n")
	rev, err := d.push(ctx, "Greet webhooks", map[string][]byte{"config.yaml": configMap("hello, webhook")}, nil)
	if err != nil {
		return nil, err
	}
	pushed := time.Now()
	answered, err := d.postPushEvent(ctx, rcv.Status.WebhookPath, token, rev)
	if err != nil {
		return nil, err
	}
	if _, err := d.waitApplied(ctx, rev); err != nil {
		return nil, err
	}
	d.res.WebhookLatency = time.Since(pushed)
	if err := d.checkGreeting(ctx, "hello, webhook"); err != nil {
		return nil, err
	}
	d.printf("✓ %s applied %s after the push (webhook answered 200 in %s): app-config greeting is now \"hello, webhook\"\n",
		short(rev), round(d.res.WebhookLatency), round(answered))
	return nil, nil
}

// postPushEvent posts a GitHub push event of rev to the receiver's path,
// signed with token (X-Hub-Signature-256), and returns how long the
// receiver took to answer 200.
func (d *demo) postPushEvent(ctx context.Context, path, token, rev string) (time.Duration, error) {
	commit := rev[strings.LastIndex(rev, ":")+1:]
	body := fmt.Appendf(nil, `{"ref":"refs/heads/%s","after":%q,"repository":{"full_name":"demo/demo"}}`, branch, commit)
	m := hmac.New(sha256.New, []byte(token))
	m.Write(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+d.receiverAddr+path, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(m.Sum(nil)))
	// gitopsd's receiver finds the Receiver in its cache, which may lag
	// the status the demo read by a few milliseconds: until it catches
	// up it answers 404 (or 503), and a sender retries.
	deadline := time.Now().Add(d.opts.StepTimeout)
	for {
		req.Body = io.NopCloser(bytes.NewReader(body))
		t0 := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, fmt.Errorf("posting the push event: %w", err)
		}
		resp.Body.Close()
		took := time.Since(t0)
		switch {
		case resp.StatusCode == http.StatusOK:
			return took, nil
		case (resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusServiceUnavailable) && time.Now().Before(deadline):
			select {
			case <-ctx.Done():
				return 0, ctx.Err()
			case <-time.After(20 * time.Millisecond):
			}
		default:
			return 0, fmt.Errorf("the receiver answered the push event %d, want 200", resp.StatusCode)
		}
	}
}

// randomToken returns a fresh webhook token.
func randomToken() (string, error) {
	b := make([]byte, 20)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// shortPath abbreviates a webhook path: /hook/0123456789ab….
func shortPath(p string) string {
	if len(p) <= len(receivers.PathPrefix)+12 {
		return p
	}
	return p[:len(receivers.PathPrefix)+12] + "…"
}
