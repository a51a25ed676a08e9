package gitopsd

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/gitopskit/kit/events/receivers"
	"github.com/gitopskit/kit/runtime/conditions"

	kustomizev1 "github.com/gitopskit/kit/examples/api/kustomize/v1"
	"github.com/gitopskit/kit/examples/api/meta"
	notificationv1 "github.com/gitopskit/kit/examples/api/notification/v1"
	"github.com/gitopskit/kit/examples/internal/controller/notification"
	"github.com/gitopskit/kit/examples/internal/metricstest"
)

// testGitHub: a signed push annotates the named GitRepository and every
// Kustomization with the labels (name "*"), not the others; a ping is
// answered and annotates nothing.
func (h *hookEnv) testGitHub(t *testing.T) {
	t.Parallel()
	ns := h.namespace(t, false)
	repo := h.gitRepository(t, ns, "app", nil)
	web := h.kustomization(t, ns, "web", map[string]string{"team": "web"})
	api := h.kustomization(t, ns, "api", map[string]string{"team": "web"})
	other := h.kustomization(t, ns, "other", map[string]string{"team": "db"})
	r, token := h.receiver(t, ns, "github", receivers.TypeGitHub,
		func(s *notificationv1.ReceiverSpec) { s.Events = []string{"push"} },
		gitRepositoryRef("app", ""),
		notificationv1.CrossNamespaceObjectReference{Kind: kustomizev1.KustomizationKind, Name: "*", MatchLabels: map[string]string{"team": "web"}},
	)
	path := h.ready(t, r)
	if want := receivers.WebhookPath(token, r.Name, ns); path != want {
		t.Fatalf("status.webhookPath = %q, want %q (events/receivers.WebhookPath)", path, want)
	}

	if code := h.post(t, h.url, path, githubHeader("ping", token, []byte(`{"zen":"hi"}`)), []byte(`{"zen":"hi"}`)); code != http.StatusOK {
		t.Errorf("ping: %d, want 200", code)
	}
	if got := h.requestedAt(t, repo); got != "" {
		t.Errorf("a ping annotated the GitRepository: %q", got)
	}

	if code := h.post(t, h.url, path, githubHeader("push", token, pushBody), pushBody); code != http.StatusOK {
		t.Fatalf("signed push: %d, want 200", code)
	}
	for _, o := range []client.Object{repo, web, api} {
		if h.requestedAt(t, o) == "" {
			t.Errorf("%T %s was not asked to reconcile", o, o.GetName())
		}
	}
	if got := h.requestedAt(t, other); got != "" {
		t.Errorf("Kustomization other (labels team=db) was annotated: %q", got)
	}
}

// testRefused: a bad signature (401), a SHA-1 signature alone (401), an
// unknown path (404), another method (405), a body over 3 MiB (413), an
// event outside spec.events (202) annotate nothing.
func (h *hookEnv) testRefused(t *testing.T) {
	t.Parallel()
	ns := h.namespace(t, false)
	repo := h.gitRepository(t, ns, "app", nil)
	r, token := h.receiver(t, ns, "github", receivers.TypeGitHub,
		func(s *notificationv1.ReceiverSpec) { s.Events = []string{"push"} }, gitRepositoryRef("app", ""))
	path := h.ready(t, r)

	big := make([]byte, receivers.DefaultMaxBodyBytes+1)
	copy(big, pushBody)
	sha1Only := http.Header{"X-Github-Event": {"push"}, "X-Hub-Signature": {"sha1=" + strings.Repeat("0", 40)}}
	for _, tc := range []struct {
		name   string
		path   string
		header http.Header
		body   []byte
		want   int
	}{
		{"bad signature", path, githubHeader("push", "a guess", pushBody), pushBody, http.StatusUnauthorized},
		{"no signature", path, http.Header{"X-Github-Event": {"push"}}, pushBody, http.StatusUnauthorized},
		{"sha1 signature only", path, sha1Only, pushBody, http.StatusUnauthorized},
		{"signature of another body", path, githubHeader("push", token, []byte(`{}`)), pushBody, http.StatusUnauthorized},
		{"unknown path", receivers.PathPrefix + strings.Repeat("0", 64), githubHeader("push", token, pushBody), pushBody, http.StatusNotFound},
		{"the path of another namespace", receivers.WebhookPath(token, r.Name, "default"), githubHeader("push", token, pushBody), pushBody, http.StatusNotFound},
		{"oversized body", path, githubHeader("push", token, big), big, http.StatusRequestEntityTooLarge},
		{"event not in spec.events", path, githubHeader("issues", token, pushBody), pushBody, http.StatusAccepted},
		{"unreadable payload", path, githubHeader("push", token, []byte(`[1]`)), []byte(`[1]`), http.StatusBadRequest},
	} {
		if code := h.post(t, h.url, tc.path, tc.header, tc.body); code != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, code, tc.want)
		}
	}
	resp, err := http.Get(h.url + path)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d, want 405", resp.StatusCode)
	}
	if got := h.requestedAt(t, repo); got != "" {
		t.Errorf("a refused webhook annotated the GitRepository: %q", got)
	}
}

// testMissingResource: a named resource that does not exist fails the
// webhook (500, so the sender retries) after the others were annotated.
func (h *hookEnv) testMissingResource(t *testing.T) {
	t.Parallel()
	ns := h.namespace(t, false)
	repo := h.gitRepository(t, ns, "app", nil)
	r, _ := h.receiver(t, ns, "generic", receivers.TypeGeneric, nil, gitRepositoryRef("absent", ""), gitRepositoryRef("app", ""))
	path := h.ready(t, r)
	if code := h.post(t, h.url, path, nil, []byte(`{}`)); code != http.StatusInternalServerError {
		t.Errorf("a missing resource: %d, want 500", code)
	}
	if h.requestedAt(t, repo) == "" {
		t.Error("the existing GitRepository was not asked to reconcile")
	}
}

// testSlowClient: a client that never finishes its headers is
// disconnected (the server's header timeout), not held forever.
func (h *hookEnv) testSlowClient(t *testing.T) {
	t.Parallel()
	conn, err := net.Dial("tcp", strings.TrimPrefix(h.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("POST /hook/0 HTTP/1.1\r\nHost: gitopsd\r\nX-Slow: ")); err != nil {
		t.Fatal(err)
	}
	// Well beyond receivers.ReadHeaderTimeout; a server without one would
	// keep the connection until this deadline.
	if err := conn.SetReadDeadline(time.Now().Add(4 * receivers.ReadHeaderTimeout)); err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(conn)
	var nerr net.Error
	if errors.As(err, &nerr) && nerr.Timeout() {
		t.Fatalf("the server kept a connection with unfinished headers open for %s", 4*receivers.ReadHeaderTimeout)
	}
}

// testGenericHMAC: X-Signature sha256 (and sha512) verified, a wrong key
// refused.
func (h *hookEnv) testGenericHMAC(t *testing.T) {
	t.Parallel()
	ns := h.namespace(t, false)
	repo := h.gitRepository(t, ns, "app", nil)
	r, token := h.receiver(t, ns, "hmac", receivers.TypeGenericHMAC, nil, gitRepositoryRef("app", ""))
	path := h.ready(t, r)
	body := []byte(`{"anything":"at all"}`)
	if code := h.post(t, h.url, path, http.Header{"X-Signature": {"sha256=" + hmacHex("wrong", body)}}, body); code != http.StatusUnauthorized {
		t.Errorf("wrong key: %d, want 401", code)
	}
	if got := h.requestedAt(t, repo); got != "" {
		t.Fatalf("a wrong key annotated the GitRepository: %q", got)
	}
	if code := h.post(t, h.url, path, http.Header{"X-Signature": {"sha256=" + hmacHex(token, body)}}, body); code != http.StatusOK {
		t.Fatalf("signed: %d, want 200", code)
	}
	if h.requestedAt(t, repo) == "" {
		t.Error("the GitRepository was not asked to reconcile")
	}
}

// testGitLab: X-Gitlab-Token checked, X-Gitlab-Event filtered by
// spec.events.
func (h *hookEnv) testGitLab(t *testing.T) {
	t.Parallel()
	ns := h.namespace(t, false)
	repo := h.gitRepository(t, ns, "app", nil)
	r, token := h.receiver(t, ns, "gitlab", receivers.TypeGitLab,
		func(s *notificationv1.ReceiverSpec) { s.Events = []string{"Push Hook", "Tag Push Hook"} }, gitRepositoryRef("app", ""))
	path := h.ready(t, r)
	body := []byte(`{"ref":"refs/heads/main","checkout_sha":"0123456789abcdef0123456789abcdef01234567","project":{"path_with_namespace":"group/app"}}`)
	header := func(event, tok string) http.Header {
		return http.Header{"X-Gitlab-Event": {event}, "X-Gitlab-Token": {tok}}
	}
	if code := h.post(t, h.url, path, header("Push Hook", "not the token"), body); code != http.StatusUnauthorized {
		t.Errorf("wrong token: %d, want 401", code)
	}
	if code := h.post(t, h.url, path, header("Merge Request Hook", token), body); code != http.StatusAccepted {
		t.Errorf("merge request event: %d, want 202", code)
	}
	if got := h.requestedAt(t, repo); got != "" {
		t.Fatalf("a refused or filtered webhook annotated the GitRepository: %q", got)
	}
	if code := h.post(t, h.url, path, header("Push Hook", token), body); code != http.StatusOK {
		t.Fatalf("push: %d, want 200", code)
	}
	if h.requestedAt(t, repo) == "" {
		t.Error("the GitRepository was not asked to reconcile")
	}
}

// testSuspended: a suspended Receiver answers 503, as Flux's, and
// triggers nothing; resumed, it works again.
func (h *hookEnv) testSuspended(t *testing.T) {
	t.Parallel()
	ns := h.namespace(t, false)
	repo := h.gitRepository(t, ns, "app", nil)
	r, token := h.receiver(t, ns, "github", receivers.TypeGitHub, nil, gitRepositoryRef("app", ""))
	path := h.ready(t, r)
	setSuspend := func(v bool) {
		t.Helper()
		patch := client.MergeFrom(r.DeepCopy())
		r.Spec.Suspend = v
		if err := h.c.Patch(context.Background(), r, patch); err != nil {
			t.Fatal(err)
		}
	}
	setSuspend(true)
	// The server reads the Receiver from gitopsd's cache: wait for it to
	// see the suspension, with unsigned webhooks (401 until then: the
	// lookup comes before the signature).
	deadline := time.Now().Add(time.Minute)
	for h.post(t, h.url, path, githubHeader("push", "unsigned", pushBody), pushBody) != http.StatusServiceUnavailable {
		if time.Now().After(deadline) {
			t.Fatal("a suspended Receiver still takes webhooks")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code := h.post(t, h.url, path, githubHeader("push", token, pushBody), pushBody); code != http.StatusServiceUnavailable {
		t.Errorf("signed push to a suspended Receiver: %d, want 503", code)
	}
	if got := h.requestedAt(t, repo); got != "" {
		t.Fatalf("a suspended Receiver annotated the GitRepository: %q", got)
	}
	setSuspend(false)
	h.ready(t, r)
	deadline = time.Now().Add(time.Minute)
	for h.post(t, h.url, path, githubHeader("push", token, pushBody), pushBody) != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatal("a resumed Receiver does not take webhooks")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if h.requestedAt(t, repo) == "" {
		t.Error("the GitRepository was not asked to reconcile")
	}
}

// testEventsAndMetrics: the Receiver reconciler records a Normal event
// when it publishes a path, a Warning with the reason when it cannot, and
// the runtime/metrics series of every Receiver.
func (h *hookEnv) testEventsAndMetrics(t *testing.T) {
	t.Parallel()
	ns := h.namespace(t, false)
	ok, _ := h.receiver(t, ns, "ok", receivers.TypeGeneric, nil, gitRepositoryRef("app", ""))
	h.ready(t, ok)
	broken := &notificationv1.Receiver{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "broken"},
		Spec: notificationv1.ReceiverSpec{
			Type: receivers.TypeGeneric, Resources: []notificationv1.CrossNamespaceObjectReference{gitRepositoryRef("app", "")},
			SecretRef: meta.LocalObjectReference{Name: "absent"},
		},
	}
	if err := h.c.Create(context.Background(), broken); err != nil {
		t.Fatal(err)
	}
	h.notReady(t, broken, notification.TokenNotFoundReason)
	for _, want := range []struct{ name, typ, reason, text string }{
		{"ok", corev1.EventTypeNormal, conditions.SucceededReason, "webhook path published in status.webhookPath"},
		{"broken", corev1.EventTypeWarning, notification.TokenNotFoundReason, "absent"},
	} {
		deadline := time.Now().Add(time.Minute)
		for !h.hasEvent(t, ns, want.name, want.typ, want.reason, want.text) {
			if time.Now().After(deadline) {
				t.Fatalf("no %s event %s for Receiver %s containing %q", want.typ, want.reason, want.name, want.text)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	deadline := time.Now().Add(time.Minute)
	for {
		fs, err := metricstest.Gather(ctrlmetrics.Registry)
		if err != nil {
			t.Fatal(err)
		}
		okReady, _ := fs.Value("gitopskit_reconcile_condition", map[string]string{
			"kind": notificationv1.ReceiverKind, "name": "ok", "namespace": ns, "type": conditions.Ready, "status": "True"})
		brokenFalse, _ := fs.Value("gitopskit_reconcile_condition", map[string]string{
			"kind": notificationv1.ReceiverKind, "name": "broken", "namespace": ns, "type": conditions.Ready, "status": "False"})
		if okReady == 1 && brokenFalse == 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Receiver series: ok Ready=True %v, broken Ready=False %v; want 1 and 1", okReady, brokenFalse)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// hasEvent reports whether the Receiver has an Event of the type and
// reason whose message contains text.
func (h *hookEnv) hasEvent(t *testing.T, ns, name, typ, reason, text string) bool {
	t.Helper()
	var evs corev1.EventList
	if err := h.c.List(context.Background(), &evs, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	for _, e := range evs.Items {
		if e.InvolvedObject.Kind == notificationv1.ReceiverKind && e.InvolvedObject.Name == name &&
			e.Type == typ && e.Reason == reason && strings.Contains(e.Message, text) {
			return true
		}
	}
	return false
}

// testTokenMissing: no Secret is Ready=False TokenNotFound with no path;
// once the Secret exists the Receiver becomes Ready (retried).
func (h *hookEnv) testTokenMissing(t *testing.T) {
	t.Parallel()
	ns := h.namespace(t, false)
	r := &notificationv1.Receiver{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "github"},
		Spec: notificationv1.ReceiverSpec{
			Type: receivers.TypeGitHub, Resources: []notificationv1.CrossNamespaceObjectReference{gitRepositoryRef("app", "")},
			SecretRef: meta.LocalObjectReference{Name: "missing"},
		},
	}
	if err := h.c.Create(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	msg := h.notReady(t, r, notification.TokenNotFoundReason)
	if !strings.Contains(msg, "missing") || r.Status.WebhookPath != "" {
		t.Errorf("message %q should name the Secret, path %q should be empty", msg, r.Status.WebhookPath)
	}
	h.secret(t, ns, "missing", h.newToken())
	h.ready(t, r)
}

// testTokenRotated: a new token, picked up on a reconcile request, moves
// the path; the old path is unknown.
func (h *hookEnv) testTokenRotated(t *testing.T) {
	t.Parallel()
	ns := h.namespace(t, false)
	repo := h.gitRepository(t, ns, "app", nil)
	r, token := h.receiver(t, ns, "github", receivers.TypeGitHub, nil, gitRepositoryRef("app", ""))
	oldPath := h.ready(t, r)
	newToken := h.newToken()
	h.secret(t, ns, "github-token", newToken)
	// The Secret is not watched: until the next reconcile the old path
	// fails the lookup's own check of the token.
	if code := h.post(t, h.url, oldPath, githubHeader("push", token, pushBody), pushBody); code != http.StatusNotFound {
		t.Errorf("old path after the rotation: %d, want 404", code)
	}
	request := client.RawPatch("application/merge-patch+json",
		[]byte(`{"metadata":{"annotations":{"reconcile.gitopskit.dev/requestedAt":"rotated"}}}`))
	if err := h.c.Patch(context.Background(), r, request); err != nil {
		t.Fatal(err)
	}
	newPath := receivers.WebhookPath(newToken, r.Name, ns)
	h.eventually(t, r, "at the new path", func() bool { return r.Status.WebhookPath == newPath })
	deadline := time.Now().Add(time.Minute)
	for h.post(t, h.url, newPath, githubHeader("push", newToken, pushBody), pushBody) != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatal("the new path does not take webhooks")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if h.requestedAt(t, repo) == "" {
		t.Error("the GitRepository was not asked to reconcile")
	}
	if code := h.post(t, h.url, oldPath, githubHeader("push", token, pushBody), pushBody); code != http.StatusNotFound {
		t.Errorf("old path: %d, want 404", code)
	}
}

// testInvalidResources: a resource the API server lets through but
// gitopsd does not serve — a version it does not have, a kind of another
// of its groups — stalls the Receiver with the resource named, and
// publishes no path. (Other groups' apiVersions and "*" without labels are
// refused by the API server: config's TestReceiverFieldValidation.)
func (h *hookEnv) testInvalidResources(t *testing.T) {
	t.Parallel()
	ns := h.namespace(t, false)
	for name, ref := range map[string]notificationv1.CrossNamespaceObjectReference{
		"version":    {APIVersion: "source.gitopskit.dev/v9", Kind: "GitRepository", Name: "app"},
		"wrong-kind": {APIVersion: "source.gitopskit.dev/v1", Kind: kustomizev1.KustomizationKind, Name: "app"},
	} {
		r, _ := h.receiver(t, ns, name, receivers.TypeGeneric, nil, gitRepositoryRef("ok", ""), ref)
		msg := h.notReady(t, r, notification.InvalidSpecReason)
		if !strings.Contains(msg, "spec.resources[1]") || !conditions.IsTrue(r, conditions.Stalled) || r.Status.WebhookPath != "" {
			t.Errorf("%s: message %q should name spec.resources[1]; stalled %v; path %q", name, msg, conditions.IsTrue(r, conditions.Stalled), r.Status.WebhookPath)
		}
	}
}

// testCrossNamespace: under --cross-namespace-selector, a Receiver of a
// trusted namespace reaches another namespace; one of an untrusted
// namespace is AccessDenied with no path; and a trusted namespace that
// loses its label is refused at once by the server, whatever the
// Receiver's status still says.
func (h *hookEnv) testCrossNamespace(t *testing.T) {
	t.Parallel()
	target := h.namespace(t, false)
	trusted := h.namespace(t, true)
	untrusted := h.namespace(t, false)
	repo := h.gitRepository(t, target, "app", nil)
	local := h.gitRepository(t, trusted, "local", nil)

	denied, _ := h.receiver(t, untrusted, "reach", receivers.TypeGeneric, nil, gitRepositoryRef("app", target))
	msg := h.notReady(t, denied, notification.AccessDeniedReason)
	if !strings.Contains(msg, untrusted) || !strings.Contains(msg, target) || denied.Status.WebhookPath != "" {
		t.Errorf("denied Receiver: message %q should name both namespaces; path %q should be empty", msg, denied.Status.WebhookPath)
	}

	r, _ := h.receiver(t, trusted, "reach", receivers.TypeGeneric, nil, gitRepositoryRef("local", ""), gitRepositoryRef("app", target))
	path := h.ready(t, r)
	if code := h.post(t, h.url, path, nil, []byte(`{}`)); code != http.StatusOK {
		t.Fatalf("trusted namespace: %d, want 200", code)
	}
	first := h.requestedAt(t, repo)
	if first == "" || h.requestedAt(t, local) == "" {
		t.Fatal("the trusted Receiver's resources were not asked to reconcile")
	}

	h.setTrusted(t, trusted, false)
	// The policy reads the Namespace uncached: refused at once.
	if code := h.post(t, h.url, path, nil, []byte(`{}`)); code != http.StatusInternalServerError {
		t.Errorf("namespace no longer trusted: %d, want 500", code)
	}
	if got := h.requestedAt(t, repo); got != first {
		t.Errorf("the other namespace's GitRepository was annotated again (%q → %q) after the label was removed", first, got)
	}
	if h.requestedAt(t, local) == "" {
		t.Error("the Receiver's own namespace should still be reachable")
	}
}

// testNotLeader: a gitopsd replica that never becomes the leader (another
// holds the Lease) reconciles nothing but serves webhooks, from its own
// cache; stopping it closes its port.
func (h *hookEnv) testNotLeader(t *testing.T) {
	t.Parallel()
	ns := h.namespace(t, false)
	ctx := context.Background()
	lease := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "receiver-test"},
		Spec: coordinationv1.LeaseSpec{
			HolderIdentity:       ptr.To("another-replica"),
			LeaseDurationSeconds: ptr.To[int32](3600),
			AcquireTime:          &metav1.MicroTime{Time: time.Now()},
			RenewTime:            &metav1.MicroTime{Time: time.Now()},
		},
	}
	if err := h.c.Create(ctx, lease); err != nil {
		t.Fatal(err)
	}
	opts := testOptions(t, h.log)
	opts.Controller.LeaderElection = true
	opts.Controller.LeaderElectionID = "receiver-test"
	opts.Controller.LeaderElectionNamespace = ns
	opts.Controller.WatchNamespaces = []string{ns}
	opts.CrossNamespaceSelector = trustedLabel + "=true"
	// The test's gitopsd is the leader of its own Lease and reconciles
	// the Receiver; this one only serves.
	follower, err := New(h.env.Config(), opts, skipNameValidation)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	stopped := make(chan error, 1)
	go func() { stopped <- follower.Start(runCtx) }()
	var once sync.Once
	var stopErr error
	stop := func() error {
		once.Do(func() { cancel(); stopErr = <-stopped })
		return stopErr
	}
	t.Cleanup(func() { _ = stop() })
	base := "http://" + follower.ReceiverAddr().String()

	repo := h.gitRepository(t, ns, "app", nil)
	r, token := h.receiver(t, ns, "github", receivers.TypeGitHub, nil, gitRepositoryRef("app", ""))
	path := h.ready(t, r)
	deadline := time.Now().Add(time.Minute)
	for h.post(t, base, path, githubHeader("push", token, pushBody), pushBody) != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatal("the follower does not serve the webhook")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if h.requestedAt(t, repo) == "" {
		t.Error("the GitRepository was not asked to reconcile")
	}
	select {
	case <-follower.Manager().Elected():
		t.Fatal("the follower became the leader: the test proves nothing")
	default:
	}

	if err := stop(); err != nil {
		t.Errorf("the follower stopped with %v", err)
	}
	if _, err := http.Post(base+path, "application/json", strings.NewReader("{}")); err == nil {
		t.Error("the follower's receiver port still answers after it stopped")
	}
}

// testNoLeaks: no token the tests made is in any Receiver's status, any
// Event, or gitopsd's debug log.
func (h *hookEnv) testNoLeaks(t *testing.T) {
	ctx := context.Background()
	var rs notificationv1.ReceiverList
	if err := h.c.List(ctx, &rs); err != nil {
		t.Fatal(err)
	}
	var evs corev1.EventList
	if err := h.c.List(ctx, &evs); err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, r := range rs.Items {
		for _, c := range r.Status.Conditions {
			texts = append(texts, c.Message)
		}
	}
	for _, e := range evs.Items {
		texts = append(texts, e.Message, e.Reason)
		for _, v := range e.Annotations {
			texts = append(texts, v)
		}
	}
	log := h.log.String()
	if !strings.Contains(log, "webhook") {
		t.Fatalf("the log holds no webhook line; the check would prove nothing:\n%s", log)
	}
	texts = append(texts, log)
	all := strings.Join(texts, "\n")
	// Paths: not in Events (they reach the hub) nor in the log.
	paths := 0
	for _, r := range rs.Items {
		if p := r.Status.WebhookPath; p != "" {
			paths++
			digest := strings.TrimPrefix(p, receivers.PathPrefix)
			if strings.Contains(all, digest) {
				t.Errorf("the webhook path of Receiver %s/%s appears in an event or the log", r.Namespace, r.Name)
			}
		}
	}
	if paths == 0 {
		t.Error("no Receiver has a path: the check would prove nothing")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.tokens) == 0 || len(rs.Items) == 0 {
		t.Fatal("no tokens or Receivers: the check would prove nothing")
	}
	for _, tok := range h.tokens {
		if strings.Contains(all, tok) {
			t.Errorf("token %s… appears in a status, an event or the log", tok[:8])
		}
	}
}
