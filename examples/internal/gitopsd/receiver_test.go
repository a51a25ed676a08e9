package gitopsd

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/gitopskit/kit/runtime/conditions"
	"github.com/gitopskit/kit/runtime/reconcile"
	"github.com/gitopskit/kit/runtime/testenv"

	kustomizev1 "github.com/gitopskit/kit/examples/api/kustomize/v1"
	"github.com/gitopskit/kit/examples/api/meta"
	notificationv1 "github.com/gitopskit/kit/examples/api/notification/v1"
	sourcev1 "github.com/gitopskit/kit/examples/api/source/v1"
	"github.com/gitopskit/kit/examples/internal/controller/notification"
)

// trustedLabel marks the namespaces whose Receivers may reach other
// namespaces (--cross-namespace-selector of the test's gitopsd).
const trustedLabel = "receivers.gitopskit.dev/trusted"

// hookEnv is a control plane and a gitopsd with its receiver server on a
// loopback port.
type hookEnv struct {
	env *testenv.Environment
	c   client.Client
	url string // http://127.0.0.1:<port>
	log *syncBuffer
	op  *Operator // the gitopsd serving url

	mu     sync.Mutex
	tokens []string // every token the tests made, none of which may leak
}

// syncBuffer is a log destination safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startHookEnv starts a control plane with gitopsd's CRDs and a gitopsd
// whose cross-namespace policy lets only trustedLabel namespaces reach
// others, logging at debug level into a buffer.
func startHookEnv(t *testing.T) *hookEnv {
	t.Helper()
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
	opts.CrossNamespaceSelector = trustedLabel + "=true"
	h.op = h.run(t, opts)
	h.url = "http://" + h.op.ReceiverAddr().String()
	return h
}

// testOptions are gitopsd's options for a test: loopback ports, no
// metrics or health endpoints, debug logs into log.
func testOptions(t *testing.T, log io.Writer) Options {
	opts := DefaultOptions()
	opts.StoragePath = t.TempDir()
	opts.StorageAddr = "127.0.0.1:0"
	opts.ReceiverAddr = "127.0.0.1:0"
	opts.Controller.MetricsAddr = "0"
	opts.Controller.HealthAddr = "0"
	opts.Controller.LogFormat = "json"
	opts.Controller.LogLevel = "debug"
	opts.Controller.LogOutput = log
	return opts
}

// run starts a gitopsd with opts until the test ends, and waits for its
// caches.
func (h *hookEnv) run(t *testing.T, opts Options) *Operator {
	t.Helper()
	op, err := New(h.env.Config(), opts, skipNameValidation)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- op.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-stopped; err != nil {
			t.Errorf("gitopsd stopped: %v", err)
		}
	})
	if !op.Manager().GetCache().WaitForCacheSync(ctx) {
		t.Fatal("gitopsd's caches did not sync")
	}
	return op
}

// skipNameValidation lets several gitopsds run in one test process
// (controller names are otherwise unique per process).
func skipNameValidation(o *manager.Options) { o.Controller.SkipNameValidation = ptr.To(true) }

// namespace creates a namespace, labelled trusted when asked.
func (h *hookEnv) namespace(t *testing.T, trusted bool) string {
	t.Helper()
	ns := h.env.Namespace(t)
	if trusted {
		h.setTrusted(t, ns, true)
	}
	return ns
}

func (h *hookEnv) setTrusted(t *testing.T, ns string, trusted bool) {
	t.Helper()
	var n corev1.Namespace
	if err := h.c.Get(context.Background(), client.ObjectKey{Name: ns}, &n); err != nil {
		t.Fatal(err)
	}
	if n.Labels == nil {
		n.Labels = map[string]string{}
	}
	if trusted {
		n.Labels[trustedLabel] = "true"
	} else {
		delete(n.Labels, trustedLabel)
	}
	if err := h.c.Update(context.Background(), &n); err != nil {
		t.Fatal(err)
	}
}

// newToken returns a fresh random token, remembered for the leak check.
func (h *hookEnv) newToken() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	tok := "tok-" + hex.EncodeToString(b)
	h.mu.Lock()
	h.tokens = append(h.tokens, tok)
	h.mu.Unlock()
	return tok
}

// secret creates (or replaces the data of) the token Secret name.
func (h *hookEnv) secret(t *testing.T, ns, name, token string) {
	t.Helper()
	ctx := context.Background()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Data: map[string][]byte{"token": []byte(token)}}
	err := h.c.Create(ctx, s)
	if apierrors.IsAlreadyExists(err) {
		err = h.c.Update(ctx, s)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// receiver creates a Receiver of the type with its token Secret and
// returns it with the token; mutate changes its spec before creation.
func (h *hookEnv) receiver(t *testing.T, ns, name, typ string, mutate func(*notificationv1.ReceiverSpec), resources ...notificationv1.CrossNamespaceObjectReference) (*notificationv1.Receiver, string) {
	t.Helper()
	token := h.newToken()
	h.secret(t, ns, name+"-token", token)
	r := &notificationv1.Receiver{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: notificationv1.ReceiverSpec{
			Type:      typ,
			Resources: resources,
			SecretRef: meta.LocalObjectReference{Name: name + "-token"},
		},
	}
	if mutate != nil {
		mutate(&r.Spec)
	}
	if err := h.c.Create(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	return r, token
}

// ready waits until the Receiver is Ready at its generation with its
// webhook path published, and until the receiver server's cache sees it
// so (as its lookup does), and returns the path.
func (h *hookEnv) ready(t *testing.T, r *notificationv1.Receiver) string {
	t.Helper()
	h.eventually(t, r, "Ready with a webhook path", func() bool { return readyWithPath(r) })
	path := r.Status.WebhookPath
	deadline := time.Now().Add(time.Minute)
	for {
		var l notificationv1.ReceiverList
		err := h.op.Manager().GetClient().List(context.Background(), &l, client.MatchingFields{notification.WebhookPathIndex: path})
		if err == nil && len(l.Items) == 1 && readyWithPath(&l.Items[0]) && l.Items[0].Generation == r.Generation {
			return path
		}
		if time.Now().After(deadline) {
			t.Fatalf("Receiver %s/%s: gitopsd's cache does not see it Ready at %s (err=%v, %d found)", r.Namespace, r.Name, path, err, len(l.Items))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// readyWithPath reports whether r is Ready at its generation with a
// webhook path.
func readyWithPath(r *notificationv1.Receiver) bool {
	c := conditions.Get(r, conditions.Ready)
	return c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == r.Generation && r.Status.WebhookPath != ""
}

// notReady waits until the Receiver is Ready=False with the reason at its
// generation, and returns the condition's message.
func (h *hookEnv) notReady(t *testing.T, r *notificationv1.Receiver, reason string) string {
	t.Helper()
	var msg string
	h.eventually(t, r, "Ready=False/"+reason, func() bool {
		c := conditions.Get(r, conditions.Ready)
		if c == nil || c.Status != metav1.ConditionFalse || c.Reason != reason || c.ObservedGeneration != r.Generation {
			return false
		}
		msg = c.Message
		return true
	})
	return msg
}

// eventually re-reads obj until cond holds, for up to a minute.
func (h *hookEnv) eventually(t *testing.T, obj client.Object, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		err := h.c.Get(context.Background(), client.ObjectKeyFromObject(obj), obj)
		if err == nil && cond() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%T %s/%s: not %s after a minute (err=%v): %+v", obj, obj.GetNamespace(), obj.GetName(), what, err, obj)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// post sends a webhook to the path and returns the status code.
func (h *hookEnv) post(t *testing.T, base, path string, header http.Header, body []byte) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// requestedAt returns the object's reconcile request annotation.
func (h *hookEnv) requestedAt(t *testing.T, obj client.Object) string {
	t.Helper()
	if err := h.c.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
		t.Fatal(err)
	}
	return obj.GetAnnotations()[reconcile.RequestedAtAnnotation]
}

// gitRepository creates a suspended GitRepository (its reconciler's work
// is not under test here: only the request annotation is).
func (h *hookEnv) gitRepository(t *testing.T, ns, name string, labels map[string]string) *sourcev1.GitRepository {
	t.Helper()
	g := &sourcev1.GitRepository{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels},
		Spec: sourcev1.GitRepositorySpec{
			URL:      "https://git.example.invalid/" + name,
			Interval: metav1.Duration{Duration: time.Hour},
			Suspend:  true,
		},
	}
	if err := h.c.Create(context.Background(), g); err != nil {
		t.Fatal(err)
	}
	return g
}

// kustomization creates a suspended Kustomization with the labels.
func (h *hookEnv) kustomization(t *testing.T, ns, name string, labels map[string]string) *kustomizev1.Kustomization {
	t.Helper()
	k := &kustomizev1.Kustomization{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels},
		Spec: kustomizev1.KustomizationSpec{
			SourceRef: kustomizev1.CrossNamespaceSourceReference{Kind: sourcev1.GitRepositoryKind, Name: "app"},
			Interval:  metav1.Duration{Duration: time.Hour},
			Suspend:   true,
		},
	}
	if err := h.c.Create(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	return k
}

func gitRepositoryRef(name, ns string) notificationv1.CrossNamespaceObjectReference {
	return notificationv1.CrossNamespaceObjectReference{Kind: sourcev1.GitRepositoryKind, Name: name, Namespace: ns}
}

// pushBody is a GitHub push event.
var pushBody = []byte(`{"ref":"refs/heads/main","after":"0123456789abcdef0123456789abcdef01234567","repository":{"full_name":"org/app"}}`)

// hmacHex is the hex HMAC-SHA256 of body with key.
func hmacHex(key string, body []byte) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// githubHeader is what GitHub sends with an event signed with key.
func githubHeader(event, key string, body []byte) http.Header {
	return http.Header{
		"Content-Type":        {"application/json"},
		"X-Github-Event":      {event},
		"X-Hub-Signature-256": {"sha256=" + hmacHex(key, body)},
	}
}

// TestReceiverServer runs webhooks through gitopsd's receiver server
// against a real API server: the Receiver reconciler publishes the path,
// the server verifies the request and annotates the resources.
func TestReceiverServer(t *testing.T) {
	h := startHookEnv(t)
	t.Run("cases", func(t *testing.T) {
		t.Run("github push annotates a GitRepository and Kustomizations by label", func(t *testing.T) { h.testGitHub(t) })
		t.Run("refused webhooks annotate nothing", func(t *testing.T) { h.testRefused(t) })
		t.Run("generic-hmac", func(t *testing.T) { h.testGenericHMAC(t) })
		t.Run("a missing resource", func(t *testing.T) { h.testMissingResource(t) })
		t.Run("events and metrics", func(t *testing.T) { h.testEventsAndMetrics(t) })
		t.Run("a client that never finishes its headers", func(t *testing.T) { h.testSlowClient(t) })
		t.Run("gitlab", func(t *testing.T) { h.testGitLab(t) })
		t.Run("suspended", func(t *testing.T) { h.testSuspended(t) })
		t.Run("token missing, then created", func(t *testing.T) { h.testTokenMissing(t) })
		t.Run("token rotated", func(t *testing.T) { h.testTokenRotated(t) })
		t.Run("invalid resources", func(t *testing.T) { h.testInvalidResources(t) })
		t.Run("cross-namespace policy", func(t *testing.T) { h.testCrossNamespace(t) })
		t.Run("a replica that is not the leader serves webhooks", func(t *testing.T) { h.testNotLeader(t) })
		t.Run("disabled", func(t *testing.T) {
			t.Parallel()
			opts := testOptions(t, h.log)
			opts.ReceiverAddr = ""
			op, err := New(h.env.Config(), opts, skipNameValidation)
			if err != nil {
				t.Fatal(err)
			}
			if a := op.ReceiverAddr(); a != nil {
				t.Errorf("ReceiverAddr = %v with --receiver-addr empty, want none", a)
			}
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			_ = op.Start(ctx) // releases the artifact listener
		})
	})
	t.Run("no token in statuses, events or logs", func(t *testing.T) { h.testNoLeaks(t) })
}

// TestReceiverFlags: --receiver-addr defaults to Flux's :9292, empty
// disables the server, and a value that is not host:port is refused
// naming the flag.
func TestReceiverFlags(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args    []string
		want    string
		invalid bool
	}{
		{nil, ":9292", false},
		{[]string{"--receiver-addr=127.0.0.1:9393"}, "127.0.0.1:9393", false},
		{[]string{"--receiver-addr="}, "", false},
		{[]string{"--receiver-addr=9292"}, "9292", true},
	} {
		opts := DefaultOptions()
		opts.StoragePath = "/data"
		fs := flag.NewFlagSet("gitopsd", flag.ContinueOnError)
		opts.BindFlags(fs)
		if err := fs.Parse(tc.args); err != nil {
			t.Fatal(err)
		}
		if opts.ReceiverAddr != tc.want {
			t.Errorf("%q: ReceiverAddr = %q, want %q", tc.args, opts.ReceiverAddr, tc.want)
		}
		err := opts.Validate()
		if tc.invalid != (err != nil) || (err != nil && !strings.Contains(err.Error(), "--receiver-addr")) {
			t.Errorf("%q: Validate = %v, want invalid %v naming --receiver-addr", tc.args, err, tc.invalid)
		}
	}
}
