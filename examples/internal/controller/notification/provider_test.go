package notification

import (
	"context"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/events/eventstest"
	"github.com/gitopskit/kit/runtime/conditions"
	"github.com/gitopskit/kit/runtime/reconcile"

	kustomizev1 "github.com/gitopskit/kit/examples/api/kustomize/v1"
	"github.com/gitopskit/kit/examples/api/meta"
	notificationv1 "github.com/gitopskit/kit/examples/api/notification/v1"
)

// TestProviderSecretChange checks that a changed Secret takes effect
// without touching the Provider: the next notification goes to the new
// address with the new headers, and the old address gets nothing more.
func TestProviderSecretChange(t *testing.T) {
	f := newFixture(t)
	s := f.secret("hook", map[string]string{"address": f.sink.URL() + "/old", "headers": "X-Team: blue\n"})
	p := &notificationv1.Provider{
		ObjectMeta: metav1.ObjectMeta{Name: "p"},
		Spec:       notificationv1.ProviderSpec{Type: "generic", SecretRef: &meta.LocalObjectReference{Name: "hook"}},
	}
	f.create(p)
	f.ready(p)
	f.ready(f.alert("a", "p", notificationv1.AlertSpec{EventSources: []notificationv1.CrossNamespaceObjectReference{{Kind: kustomizev1.KustomizationKind, Name: "*"}}}))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// The sink's requests by path: the hub's metrics count per Provider,
	// not per address.
	if err := testHub.Submit(ctx, event(f.ns, "app", "info", "first")); err != nil {
		t.Fatal(err)
	}
	if reqs, err := f.sink.Wait(ctx, 1); err != nil || reqs[0].Path != "/old" || reqs[0].Header.Get("X-Team") != "blue" {
		t.Fatalf("before the change: %v %v", paths(reqs), err)
	}
	s.StringData = map[string]string{"address": f.sink.URL() + "/new", "headers": "X-Team: green\n"}
	if err := f.c.Update(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	if err := testHub.Submit(ctx, event(f.ns, "app", "info", "second")); err != nil {
		t.Fatal(err)
	}
	reqs, err := f.sink.Wait(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(reqs) != 2 || reqs[0].Path != "/old" || reqs[1].Path != "/new" {
		t.Fatalf("requests went to %v, want /old then /new", paths(reqs))
	}
	if got := reqs[1].Header.Get("X-Team"); got != "green" {
		t.Errorf("header after the change = %q, want green", got)
	}
}

// TestProviderStatus checks the Provider's conditions: a missing Secret is
// Ready=False SecretNotFound until it exists (and a reconcile request
// reads it at once), an unusable Secret is InvalidConfig, and no secret
// value is ever in the status.
func TestProviderStatus(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	p := &notificationv1.Provider{
		ObjectMeta: metav1.ObjectMeta{Name: "p"},
		Spec:       notificationv1.ProviderSpec{Type: "slack", SecretRef: &meta.LocalObjectReference{Name: "slack"}},
	}
	f.create(p)
	f.waitFor(p, func() bool { return reason(p) == SecretNotFoundReason })
	if c := conditions.Get(p, conditions.Ready); !strings.Contains(c.Message, `"slack"`) {
		t.Errorf("SecretNotFound message does not name the Secret: %s", c.Message)
	}
	const hook = "https://hooks.slack.test/services/T0/B0/very-secret-path"
	f.secret("slack", map[string]string{"address": hook, "headers": "not: [a, map"})
	request(t, f.c, p)
	f.waitFor(p, func() bool { return reason(p) == InvalidConfigReason })
	if c := conditions.Get(p, conditions.Ready); strings.Contains(c.Message, "very-secret") || !strings.Contains(c.Message, "headers") {
		t.Errorf("InvalidConfig message: %s", c.Message)
	}

	s := &corev1.Secret{}
	if err := f.c.Get(ctx, client.ObjectKey{Namespace: f.ns, Name: "slack"}, s); err != nil {
		t.Fatal(err)
	}
	s.Data = map[string][]byte{"address": []byte("https://hooks.slack.test/services/very-secret-path")}
	if err := f.c.Update(ctx, s); err != nil {
		t.Fatal(err)
	}
	request(t, f.c, p)
	f.ready(p)
	if c := conditions.Get(p, conditions.Ready); strings.Contains(c.Message, "very-secret") {
		t.Errorf("Ready message carries the address: %s", c.Message)
	}

	// A type that needs what the Secret does not hold (generic-hmac
	// without a token) is InvalidConfig too.
	hmac := &notificationv1.Provider{
		ObjectMeta: metav1.ObjectMeta{Name: "hmac"},
		Spec:       notificationv1.ProviderSpec{Type: "generic-hmac", SecretRef: &meta.LocalObjectReference{Name: "slack"}},
	}
	f.create(hmac)
	f.waitFor(hmac, func() bool { return reason(hmac) == InvalidConfigReason })
	if c := conditions.Get(hmac, conditions.Ready); strings.Contains(c.Message, "very-secret") || !strings.Contains(c.Message, "token") {
		t.Errorf("generic-hmac without token: %s", c.Message)
	}
}

// TestProviderCertSecret checks certSecretRef: a CA that is not PEM is
// InvalidConfig, and with the sink's CA the Provider posts over HTTPS.
func TestProviderCertSecret(t *testing.T) {
	f := newFixture(t)
	bad := &notificationv1.Provider{
		ObjectMeta: metav1.ObjectMeta{Name: "bad"},
		Spec: notificationv1.ProviderSpec{Type: "generic", Address: "https://example.test/",
			CertSecretRef: &meta.LocalObjectReference{Name: "not-pem"}},
	}
	f.secret("not-pem", map[string]string{"ca.crt": "not a certificate"})
	f.create(bad)
	f.waitFor(bad, func() bool { return reason(bad) == InvalidConfigReason })
	if c := conditions.Get(bad, conditions.Ready); !strings.Contains(c.Message, "ca.crt") {
		t.Errorf("message does not name ca.crt: %s", c.Message)
	}

	tlsSink := eventstest.NewProviderSink(t, eventstest.WithTLS())
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tlsSink.Certificate().Raw})
	f.secret("ca", map[string]string{"ca.crt": string(ca)})
	good := &notificationv1.Provider{
		ObjectMeta: metav1.ObjectMeta{Name: "good"},
		Spec: notificationv1.ProviderSpec{Type: "generic", Address: tlsSink.URL() + "/tls",
			CertSecretRef: &meta.LocalObjectReference{Name: "ca"}},
	}
	f.create(good)
	f.ready(good)
	f.ready(f.alert("a", "good", notificationv1.AlertSpec{EventSources: []notificationv1.CrossNamespaceObjectReference{{Kind: kustomizev1.KustomizationKind, Name: "*"}}}))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := testHub.Submit(ctx, event(f.ns, "app", "error", "over https")); err != nil {
		t.Fatal(err)
	}
	if reqs, err := tlsSink.Wait(ctx, 1); err != nil || reqs[0].Path != "/tls" {
		t.Fatalf("HTTPS delivery: %v %v", paths(reqs), err)
	}
}

func reason(obj interface{ GetConditions() []metav1.Condition }) string {
	for _, c := range obj.GetConditions() {
		if c.Type == conditions.Ready {
			return c.Reason
		}
	}
	return ""
}

// request sets a new reconcile request on obj.
func request(t *testing.T, c client.Client, obj client.Object) {
	t.Helper()
	patch := client.MergeFrom(obj.DeepCopyObject().(client.Object))
	a := obj.GetAnnotations()
	if a == nil {
		a = map[string]string{}
	}
	a[reconcile.RequestedAtAnnotation] = time.Now().Format(time.RFC3339Nano)
	obj.SetAnnotations(a)
	if err := c.Patch(context.Background(), obj, patch); err != nil {
		t.Fatal(err)
	}
}

func paths(reqs []eventstest.Request) []string {
	out := make([]string, 0, len(reqs))
	for _, r := range reqs {
		out = append(out, r.Path)
	}
	return out
}
