package ssa_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/ssa"
)

// selfSignedCert returns a TLS certificate for 127.0.0.1 and its PEM.
func selfSignedCert(t *testing.T) (tls.Certificate, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "ssa-test-webhook"},
		NotBefore:             time.Now().Add(-time.Minute),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// stampingWebhook is a mutating admission webhook that writes a fresh
// counter into an annotation of every object it sees: each write changes
// the object, whatever was applied.
type stampingWebhook struct {
	calls atomic.Int64
}

const stampAnnotation = "webhook.test.gitopskit.dev/seen"

func (w *stampingWebhook) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	var review admissionv1.AdmissionReview
	if err := json.NewDecoder(http.MaxBytesReader(rw, r.Body, 1<<20)).Decode(&review); err != nil || review.Request == nil {
		http.Error(rw, "bad review", http.StatusBadRequest)
		return
	}
	var obj metav1.PartialObjectMetadata
	if err := json.Unmarshal(review.Request.Object.Raw, &obj); err != nil {
		http.Error(rw, "bad object", http.StatusBadRequest)
		return
	}
	ann := map[string]string{}
	for k, v := range obj.Annotations {
		ann[k] = v
	}
	ann[stampAnnotation] = strconv.FormatInt(w.calls.Add(1), 10)
	patch, _ := json.Marshal([]map[string]any{{"op": "add", "path": "/metadata/annotations", "value": ann}})
	pt := admissionv1.PatchTypeJSONPatch
	review.Response = &admissionv1.AdmissionResponse{UID: review.Request.UID, Allowed: true, Patch: patch, PatchType: &pt}
	review.Request = nil
	_ = json.NewEncoder(rw).Encode(review)
}

// startWebhook serves the webhook over TLS on loopback and registers it for
// ConfigMaps labelled webhook=<label>, until the test ends.
func startWebhook(t *testing.T, ctx context.Context, label, ns string) *stampingWebhook {
	t.Helper()
	cert, caPEM := selfSignedCert(t)
	w := &stampingWebhook{}
	srv := httptest.NewUnstartedServer(w)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	url := srv.URL + "/mutate"
	fail := admissionregistrationv1.Fail
	none := admissionregistrationv1.SideEffectClassNone
	timeout := int32(5)
	env.Create(t, &admissionregistrationv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "stamp-" + label},
		Webhooks: []admissionregistrationv1.MutatingWebhook{{
			Name:                    "stamp.test.gitopskit.dev",
			ClientConfig:            admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: caPEM},
			Rules:                   []admissionregistrationv1.RuleWithOperations{{Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update}, Rule: admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"configmaps"}}}},
			ObjectSelector:          &metav1.LabelSelector{MatchLabels: map[string]string{"webhook": label}},
			SideEffects:             &none,
			FailurePolicy:           &fail,
			TimeoutSeconds:          &timeout,
			AdmissionReviewVersions: []string{"v1"},
		}},
	})
	// The API server picks the configuration up asynchronously: wait
	// until a dry-run create comes back stamped.
	probe := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "probe", Namespace: ns, Labels: map[string]string{"webhook": label}}}
	deadline := time.Now().Add(30 * time.Second)
	for {
		p := probe.DeepCopy()
		if err := env.Client().Create(ctx, p, client.DryRunAll); err == nil && p.Annotations[stampAnnotation] != "" {
			return w
		}
		if time.Now().After(deadline) {
			t.Fatal("the mutating webhook never became active")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestMutatingWebhookTakesTheSafePath(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	ns := env.Namespace(t)
	label := strings.TrimPrefix(ns, "testmutatingwebhooktakesthesafepath-")
	hook := startWebhook(t, ctx, label, ns)
	set := objects(t, `
apiVersion: v1
kind: ConfigMap
metadata: {name: stamped, labels: {webhook: `+label+`}}
data: {a: "1"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: stamped-too, labels: {webhook: `+label+`}}
data: {a: "2"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: plain}
data: {a: "3"}
`)
	m, _, rec := recordedManager(t, sharedSchemas(t))
	opts := ssa.ApplyOptions{DefaultNamespace: ns}
	if _, err := m.Apply(ctx, set, opts); err != nil {
		t.Fatal(err)
	}
	stamp := func(name string) string {
		cm := &corev1.ConfigMap{}
		if err := env.Client().Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, cm); err != nil {
			t.Fatal(err)
		}
		return cm.Annotations[stampAnnotation]
	}
	before := stamp("stamped")
	// The webhook changes the object on every write, so the API server's
	// answer is "configured", every time; only a dry-run can tell.
	rec.reset()
	calls := hook.calls.Load()
	cs, err := m.Apply(ctx, set, opts)
	if err != nil {
		t.Fatal(err)
	}
	got := actions(cs)
	for name, want := range map[string]ssa.Action{"stamped": ssa.ActionConfigured, "stamped-too": ssa.ActionConfigured, "plain": ssa.ActionUnchanged} {
		if a := got["ConfigMap/"+ns+"/"+name]; a != want {
			t.Errorf("%s: %s, want %s", name, a, want)
		}
	}
	if after := stamp("stamped"); after == before {
		t.Errorf("stamp unchanged (%s): the object was not applied", after)
	}
	if n := hook.calls.Load() - calls; n != 4 {
		t.Errorf("webhook called %d times, want 4: a dry-run and an apply per stamped object", n)
	}
	for _, q := range rec.objectRequests(set) {
		if strings.HasSuffix(q.Path, "/plain") {
			t.Errorf("the object no webhook matches was sent: %+v", q)
		}
	}
	// Without the local decision the answers are the same.
	cs, err = m.Apply(ctx, set, ssa.ApplyOptions{DefaultNamespace: ns, DisableLocalDecision: true})
	if err != nil {
		t.Fatal(err)
	}
	if a := actions(cs); a["ConfigMap/"+ns+"/stamped"] != ssa.ActionConfigured || a["ConfigMap/"+ns+"/plain"] != ssa.ActionUnchanged {
		t.Errorf("with the API server deciding: %v", a)
	}
}
