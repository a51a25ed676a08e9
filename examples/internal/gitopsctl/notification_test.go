package gitopsctl

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/examples/api/meta"
	notificationv1 "github.com/gitopskit/kit/examples/api/notification/v1"
)

// Providers and Alerts are listed (Flux's alert-provider name too),
// reconciled, suspended, resumed and exported like the other kinds.
func TestProviderAndAlert(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	ctx := context.Background()
	for _, o := range []client.Object{
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "hook"}, StringData: map[string]string{"address": "https://chat.example.test/hook/secret-path"}},
		&notificationv1.Provider{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "chat"}, Spec: notificationv1.ProviderSpec{
			Type: "slack", Channel: "#gitops", SecretRef: &meta.LocalObjectReference{Name: "hook"},
		}},
		&notificationv1.Alert{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "on-call"}, Spec: notificationv1.AlertSpec{
			ProviderRef: meta.LocalObjectReference{Name: "chat"}, EventSeverity: "error",
			EventSources: []notificationv1.CrossNamespaceObjectReference{{Kind: "Kustomization", Name: "*"}},
		}},
	} {
		if err := env.Client().Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	c := newCtl(t)
	expect(t, c.run("reconcile", "alert-provider", "chat", "-n", ns), ExitOK, "Provider "+ns+"/chat reconciled")
	expect(t, c.run("reconcile", "alert", "on-call", "-n", ns), ExitOK, "Alert "+ns+"/on-call reconciled")
	r := c.run("get", "providers", "-n", ns, "-o", "wide")
	expect(t, r, ExitOK, "NAME", "TYPE", "CHANNEL", "chat", "slack", "#gitops", "True")
	r = c.run("get", "alerts", "-n", ns, "-o", "wide")
	expect(t, r, ExitOK, "PROVIDER", "SEVERITY", "on-call", "chat", "error", "True")
	expect(t, c.run("suspend", "alert", "on-call", "-n", ns), ExitOK, "Alert "+ns+"/on-call suspended")
	expect(t, c.run("export", "alert", "on-call", "-n", ns), ExitOK, "kind: Alert", "suspend: true", "eventSeverity: error")
	expect(t, c.run("resume", "alert", "on-call", "-n", ns), ExitOK, "Alert "+ns+"/on-call reconciled")
}
