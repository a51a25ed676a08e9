package gitopsctl

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/events/receivers"
	"github.com/gitopskit/kit/runtime/conditions"

	"github.com/gitopskit/kit/examples/api/meta"
	notificationv1 "github.com/gitopskit/kit/examples/api/notification/v1"
)

// Receivers are listed with their webhook path (the URL to give the
// sender), reconciled, suspended and resumed; the token never shows.
func TestReceiver(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	ctx := context.Background()
	const token = "gitopsctl-receiver-token"
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "github-webhook"},
		Data:       map[string][]byte{notificationv1.ReceiverTokenKey: []byte(token)},
	}
	rcv := &notificationv1.Receiver{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "github"},
		Spec: notificationv1.ReceiverSpec{
			Type: receivers.TypeGitHub, SecretRef: meta.LocalObjectReference{Name: secret.Name},
			Resources: []notificationv1.CrossNamespaceObjectReference{{Kind: "GitRepository", Name: "app"}},
		},
	}
	for _, o := range []client.Object{secret, rcv} {
		if err := env.Client().Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(time.Minute)
	for {
		if err := env.Client().Get(ctx, client.ObjectKeyFromObject(rcv), rcv); err != nil {
			t.Fatal(err)
		}
		if conditions.IsReady(rcv) && rcv.Status.WebhookPath != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Receiver not Ready: %+v", rcv.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
	path := receivers.WebhookPath(token, rcv.Name, ns)
	c := newCtl(t)
	r := c.run("get", "receivers", "-n", ns, "-o", "wide")
	expect(t, r, ExitOK, "NAME", "TYPE", "WEBHOOK", "github", path)
	expect(t, c.run("reconcile", "receiver", "github", "-n", ns), ExitOK)
	expect(t, c.run("suspend", "receiver", "github", "-n", ns), ExitOK)
	r = c.run("export", "receiver", "github", "-n", ns)
	expect(t, r, ExitOK, "kind: Receiver", "type: github", "suspend: true")
	expect(t, c.run("resume", "receiver", "github", "-n", ns), ExitOK)
	for _, out := range []string{r.String(), c.run("get", "receivers", "-n", ns, "-o", "wide").String()} {
		if strings.Contains(out, token) {
			t.Errorf("the token is in gitopsctl's output:\n%s", out)
		}
	}
}
