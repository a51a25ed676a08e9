package source_test

import (
	"context"
	"encoding/base64"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/gitopskit/kit/artifact/artifacttest"
	"github.com/gitopskit/kit/artifact/buckettest"
	"github.com/gitopskit/kit/artifact/fetch"
	kustomizev1 "github.com/gitopskit/kit/examples/api/kustomize/v1"
	"github.com/gitopskit/kit/examples/api/meta"
	sourcev1 "github.com/gitopskit/kit/examples/api/source/v1"
	"github.com/gitopskit/kit/examples/internal/controller"
	"github.com/gitopskit/kit/examples/internal/controller/kustomize"
	"github.com/gitopskit/kit/examples/internal/controller/source"
	"github.com/gitopskit/kit/examples/internal/metricstest"
	"github.com/gitopskit/kit/runtime/conditions"
	"github.com/gitopskit/kit/runtime/metrics"
	"github.com/gitopskit/kit/runtime/reconcile"
)

// Credentials of the test S3 servers. The session token holds characters
// that URL and XML encodings change.
const (
	s3AccessKey    = "AKIAGITOPSDBUCKET01"
	s3SecretKey    = "bucket-secret-key/with+signs="
	s3SessionToken = "session+token/of=a&bucket"
)

// newBucketHarness runs a Bucket reconciler (and, withKustomize, a
// Kustomization reconciler) in a manager of its own over the test's
// namespace, storing into an artifact server of its own. Its client knows
// the Kustomization kind too.
func newBucketHarness(t *testing.T, withKustomize bool) (*harness, *eventLog) {
	t.Helper()
	ns := env.Namespace(t)
	srv := artifacttest.NewServer(t)
	scheme := newScheme()
	if err := kustomizev1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	mgr, err := ctrl.NewManager(env.Config(), ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Cache:                  cache.Options{DefaultNamespaces: map[string]cache.Config{ns: {}}},
		Client:                 client.Options{Cache: &client.CacheOptions{DisableFor: controller.UncachedObjects()}},
		Controller:             config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	rec := metrics.NewRecorder(metrics.WithScheme(scheme))
	if err := rec.Register(reg); err != nil {
		t.Fatal(err)
	}
	events := newEventLog(t)
	r := &source.BucketReconciler{Client: mgr.GetClient(), Storage: srv.Storage(), Metrics: rec, Events: events.recorder}
	if err := r.SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	if withKustomize {
		k := &kustomize.KustomizationReconciler{
			Client: mgr.GetClient(), Config: env.Config(), Metrics: rec,
			Fetcher: fetch.New(fetch.WithRetries(1), fetch.WithBackoff(10*time.Millisecond, 50*time.Millisecond)),
		}
		if err := k.SetupWithManager(mgr); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
		if err := metricstest.NoPanics(reg); err != nil {
			t.Error(err)
		}
	})
	c, err := client.New(env.Config(), client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, ns: ns, c: c, artifacts: srv, metrics: reg}, events
}

// eventLog collects the events a FakeRecorder records.
type eventLog struct {
	recorder *record.FakeRecorder
	mu       sync.Mutex
	lines    []string
}

func newEventLog(t *testing.T) *eventLog {
	l := &eventLog{recorder: record.NewFakeRecorder(64)}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case e := <-l.recorder.Events:
				l.mu.Lock()
				l.lines = append(l.lines, e)
				l.mu.Unlock()
			case <-done:
				return
			}
		}
	}()
	t.Cleanup(func() { close(done) })
	return l
}

// count returns how many events start with prefix ("Normal NewArtifact").
func (l *eventLog) count(prefix string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, e := range l.lines {
		if strings.HasPrefix(e, prefix) {
			n++
		}
	}
	return n
}

// s3Server is a test S3 server requiring the test credentials, with a
// bucket "configs".
func s3Server(t *testing.T, opts ...buckettest.Option) *buckettest.Server {
	t.Helper()
	srv := buckettest.NewServer(t, append([]buckettest.Option{
		buckettest.WithCredentials(s3AccessKey, s3SecretKey), buckettest.WithSessionToken(s3SessionToken),
	}, opts...)...)
	srv.CreateBucket(t, "configs")
	return srv
}

// s3Secret creates the Secret of the test credentials.
func (h *harness) s3Secret(name, accessKey, secretKey, token string) {
	h.t.Helper()
	h.secret(name, map[string]string{"accesskey": accessKey, "secretkey": secretKey, "sessiontoken": token})
}

func bucketObject(name string, srv *buckettest.Server, mutate ...func(*sourcev1.BucketSpec)) *sourcev1.Bucket {
	obj := &sourcev1.Bucket{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: sourcev1.BucketSpec{
			BucketName: "configs",
			Endpoint:   srv.Endpoint(),
			Region:     srv.Region(),
			Insecure:   !strings.HasPrefix(srv.URL(), "https://"),
			SecretRef:  &meta.LocalObjectReference{Name: "s3"},
			Interval:   metav1.Duration{Duration: time.Hour},
		},
	}
	for _, m := range mutate {
		m(&obj.Spec)
	}
	return obj
}

// requestBucket sets the reconcile request annotation to v and waits until
// it was handled and the object is Ready.
func (h *harness) requestBucket(obj *sourcev1.Bucket, v string) {
	h.t.Helper()
	h.update(obj, func() {
		if obj.Annotations == nil {
			obj.Annotations = map[string]string{}
		}
		obj.Annotations[reconcile.RequestedAtAnnotation] = v
	})
	h.eventually(obj, func() bool { return obj.Status.LastHandledReconcileAt == v && conditions.IsReady(obj) })
}

// bucketFiles lists the regular files below dir, by slash path, with content.
func bucketFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		out[filepath.ToSlash(rel)] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func keysOf(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// A Bucket's folder is packaged with the ignore rules applied (.sourceignore
// objects, spec.ignore, the defaults); an unchanged bucket costs one
// listing and no download; a changed object gives a new revision, which a
// Kustomization applies; a change of spec.ignore gives a new revision too.
func TestBucketSyncAndApply(t *testing.T) {
	t.Parallel()
	h, events := newBucketHarness(t, true)
	srv := s3Server(t)
	srv.PutObjects(t, "configs", map[string]string{
		"apps/prod/kustomization.yaml": "resources: [cm.yaml]\n",
		"apps/prod/cm.yaml":            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: from-bucket}\ndata: {v: '1'}\n",
		"apps/prod/.sourceignore":      "*.md\n",
		"apps/prod/README.md":          "left out by .sourceignore\n",
		"apps/prod/draft.yaml":         "left out by spec.ignore\n",
		"apps/prod/logo.png":           "left out by default\n",
		"apps/staging/cm.yaml":         "outside the prefix\n",
	})
	h.s3Secret("s3", s3AccessKey, s3SecretKey, s3SessionToken)
	obj := bucketObject("configs", srv, func(s *sourcev1.BucketSpec) {
		s.Prefix = "apps/prod/"
		s.Ignore = ptr.To("draft.yaml\n")
	})
	h.create(obj)
	h.ready(obj)
	a := obj.Status.Artifact
	if !strings.HasPrefix(a.Revision, "sha256:") || len(a.Revision) != len("sha256:")+64 || obj.Status.URL != a.URL {
		t.Fatalf("artifact %+v, status url %q", a, obj.Status.URL)
	}
	got := bucketFiles(t, fetchArtifact(t, a))
	if want := []string{"apps/prod/.sourceignore", "apps/prod/cm.yaml", "apps/prod/kustomization.yaml"}; strings.Join(keysOf(got), ",") != strings.Join(want, ",") {
		t.Fatalf("artifact holds %v, want %v", keysOf(got), want)
	}
	if obj.Status.ObservedIgnore == nil || *obj.Status.ObservedIgnore != "draft.yaml\n" {
		t.Errorf("observedIgnore %v", obj.Status.ObservedIgnore)
	}
	if c := conditions.Get(obj, meta.ArtifactInStorageCondition); c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("ArtifactInStorage: %s", describe(obj))
	}
	newArtifact := "Normal NewArtifact stored artifact for revision '" + a.Revision + "'"
	if n := events.count(newArtifact); n != 1 {
		t.Errorf("%d %q events, want 1", n, newArtifact)
	}

	ks := &kustomizev1.Kustomization{
		ObjectMeta: metav1.ObjectMeta{Name: "from-bucket"},
		Spec: kustomizev1.KustomizationSpec{
			SourceRef:       kustomizev1.CrossNamespaceSourceReference{Kind: sourcev1.BucketKind, Name: obj.Name},
			Path:            "./apps/prod",
			Interval:        metav1.Duration{Duration: time.Hour},
			Prune:           true,
			TargetNamespace: h.ns,
		},
	}
	h.create(ks)
	cmValue := func() string {
		var cm corev1.ConfigMap
		if err := h.c.Get(context.Background(), key(h.ns, "from-bucket"), &cm); err != nil {
			return ""
		}
		return cm.Data["v"]
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(time.Minute)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not reached; kustomization %s", what, describe(ks))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	waitFor("ConfigMap v=1 applied", func() bool { return cmValue() == "1" })

	// Unchanged: one listing, no download, the same artifact.
	srv.ResetRequests()
	h.requestBucket(obj, "unchanged")
	if obj.Status.Artifact.Revision != a.Revision || !obj.Status.Artifact.LastUpdateTime.Equal(&a.LastUpdateTime) {
		t.Errorf("unchanged bucket re-stored: %+v, was %+v", obj.Status.Artifact, a)
	}
	if reqs := srv.Requests(); len(reqs) != 1 || reqs[0].Op != "ListObjects" {
		var ops []string
		for _, r := range reqs {
			ops = append(ops, r.Op+" "+r.Key)
		}
		t.Errorf("an unchanged bucket cost %v, want one listing", ops)
	}
	if n := events.count("Normal NewArtifact"); n != 1 {
		t.Errorf("%d NewArtifact events after an unchanged re-check, want still 1", n)
	}

	// An ignored object changes: same revision, nothing downloaded.
	srv.PutObject(t, "configs", "apps/prod/README.md", []byte("new notes\n"))
	srv.ResetRequests()
	h.requestBucket(obj, "ignored-changed")
	if obj.Status.Artifact.Revision != a.Revision || srv.Count("GetObject") != 0 {
		t.Errorf("an ignored object moved the revision (%s → %s) or was downloaded (%d)", a.Revision, obj.Status.Artifact.Revision, srv.Count("GetObject"))
	}

	// A selected object changes: a new revision, applied.
	srv.PutObject(t, "configs", "apps/prod/cm.yaml", []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: from-bucket}\ndata: {v: '2'}\n"))
	h.requestBucket(obj, "changed")
	second := obj.Status.Artifact.DeepCopy()
	if second.Revision == a.Revision {
		t.Fatal("a changed object did not change the revision")
	}
	waitFor("ConfigMap v=2 applied", func() bool { return cmValue() == "2" })
	if n := events.count("Normal NewArtifact stored artifact for revision '" + second.Revision + "'"); n != 1 {
		t.Errorf("%d NewArtifact events for the new revision, want 1", n)
	}
	h.eventually(ks, func() bool { return ks.Status.LastAppliedRevision == second.Revision })

	// spec.ignore now keeps draft.yaml: the selection, so the revision,
	// changes.
	h.update(obj, func() { obj.Spec.Ignore = nil })
	h.eventually(obj, func() bool {
		return conditions.IsReady(obj) && obj.Status.Artifact.Revision != second.Revision && obj.Status.ObservedIgnore == nil
	})
	if _, ok := bucketFiles(t, fetchArtifact(t, obj.Status.Artifact))["apps/prod/draft.yaml"]; !ok {
		t.Error("draft.yaml not in the artifact once spec.ignore was dropped")
	}

	// Deleting the Bucket removes its artifacts.
	if err := h.c.Delete(context.Background(), ks); err != nil {
		t.Fatal(err)
	}
	h.gone(ks)
	if err := h.c.Delete(context.Background(), obj); err != nil {
		t.Fatal(err)
	}
	h.gone(obj)
	if h.artifacts.Storage().Exists(*obj.Status.Artifact) {
		t.Error("the artifact outlived its Bucket")
	}
}

// Refused credentials, a missing bucket, a missing Secret key and hostile
// keys give Ready=False with a clear message and no secret in it.
func TestBucketFailures(t *testing.T) {
	t.Parallel()
	h, _ := newBucketHarness(t, false)
	srv := s3Server(t)
	srv.PutObject(t, "configs", "cm.yaml", []byte("a: b\n"))
	hostile := s3Server(t)
	hostile.PutObject(t, "configs", "ok.yaml", []byte("ok"))
	hostile.PutObject(t, "configs", "../../escape.yaml", []byte("pwned"))
	echo := s3Server(t, buckettest.WithEcho())

	h.s3Secret("s3", s3AccessKey, s3SecretKey, s3SessionToken)
	h.s3Secret("wrong-secret", s3AccessKey, "not-the-bucket-secret-key", s3SessionToken)
	h.secret("no-secretkey", map[string]string{"accesskey": s3AccessKey})
	secretValues := []string{s3AccessKey, s3SecretKey, s3SessionToken, "not-the-bucket-secret-key", url.QueryEscape(s3SessionToken), url.QueryEscape(s3SecretKey)}

	for _, tc := range []struct {
		name   string
		obj    *sourcev1.Bucket
		reason string
		parts  []string
	}{
		{"wrong-secret", bucketObject("wrong-secret", srv, func(s *sourcev1.BucketSpec) { s.SecretRef.Name = "wrong-secret" }),
			"AuthenticationFailed", []string{"bucket 'configs' at '" + srv.Endpoint() + "'", "403 Forbidden: SignatureDoesNotMatch"}},
		{"anonymous", bucketObject("anonymous", srv, func(s *sourcev1.BucketSpec) { s.SecretRef = nil }),
			"AuthenticationFailed", []string{"AccessDenied"}},
		{"missing-bucket", bucketObject("missing-bucket", srv, func(s *sourcev1.BucketSpec) { s.BucketName = "no-such-bucket" }),
			"FetchFailed", []string{"bucket 'no-such-bucket'", "404 Not Found: NoSuchBucket: The specified bucket does not exist"}},
		{"missing-key", bucketObject("missing-key", srv, func(s *sourcev1.BucketSpec) { s.SecretRef.Name = "no-secretkey" }),
			"AuthenticationFailed", []string{"key 'secretkey' is missing"}},
		{"missing-secret", bucketObject("missing-secret", srv, func(s *sourcev1.BucketSpec) { s.SecretRef.Name = "nowhere" }),
			"AuthenticationFailed", []string{"secret '" + h.ns + "/nowhere' not found"}},
		{"hostile-keys", bucketObject("hostile-keys", hostile),
			"FetchFailed", []string{"unsafe object key", `"../../escape.yaml"`}},
		{"echo", bucketObject("echo", echo),
			"FetchFailed", []string{"InvalidRequest", "Authorization: AWS4-HMAC-SHA256 Credential=***", "X-Amz-Security-Token: ***"}},
		{"plain-http-refused", bucketObject("plain-http-refused", srv, func(s *sourcev1.BucketSpec) { s.Insecure = false }),
			"FetchFailed", []string{"HTTP response to HTTPS client"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := *h
			h.t = t
			h.create(tc.obj)
			msg := h.notReady(tc.obj, tc.parts...)
			if c := conditions.Get(tc.obj, conditions.Ready); c.Reason != tc.reason {
				t.Errorf("reason %s, want %s (%s)", c.Reason, tc.reason, msg)
			}
			for _, s := range secretValues {
				for _, c := range tc.obj.Status.Conditions {
					if strings.Contains(c.Message, s) {
						t.Errorf("condition %s quotes a secret: %s", c.Type, c.Message)
					}
				}
			}
			if tc.obj.Status.Artifact != nil {
				t.Errorf("artifact %+v", tc.obj.Status.Artifact)
			}
			t.Log(msg)
		})
	}
	if n := hostile.Count("GetObject"); n != 0 {
		t.Errorf("%d downloads from the bucket with a hostile key", n)
	}
	if _, err := os.Stat(filepath.Join(os.TempDir(), "escape.yaml")); err == nil {
		t.Error("escape.yaml written outside")
	}
}

// TLS through spec.certSecretRef (the CA and a client certificate), and a
// proxy through spec.proxySecretRef whose password never shows.
func TestBucketTLSAndProxy(t *testing.T) {
	t.Parallel()
	h, _ := newBucketHarness(t, false)
	srv := s3Server(t, buckettest.WithClientCertificates())
	srv.PutObject(t, "configs", "cm.yaml", []byte("a: b\n"))
	h.s3Secret("s3", s3AccessKey, s3SecretKey, s3SessionToken)
	certPEM, keyPEM := srv.ClientCertificatePEM()
	h.secret("tls", map[string]string{"ca.crt": string(srv.CACertPEM()), "tls.crt": string(certPEM), "tls.key": string(keyPEM)})
	h.secret("ca-only", map[string]string{"ca.crt": string(srv.CACertPEM())})

	obj := bucketObject("mtls", srv, func(s *sourcev1.BucketSpec) { s.CertSecretRef = &meta.LocalObjectReference{Name: "tls"} })
	h.create(obj)
	h.ready(obj)

	noCert := bucketObject("no-client-cert", srv, func(s *sourcev1.BucketSpec) { s.CertSecretRef = &meta.LocalObjectReference{Name: "ca-only"} })
	h.create(noCert)
	h.notReady(noCert, "listing bucket 'configs'")

	noCA := bucketObject("system-roots", srv)
	h.create(noCA)
	h.notReady(noCA, "certificate signed by unknown authority")

	// Through a proxy: the right credentials reach the bucket; wrong ones
	// are refused by a proxy quoting the Proxy-Authorization it got.
	plain := s3Server(t)
	plain.PutObject(t, "configs", "cm.yaml", []byte("a: b\n"))
	p := newProxy(t, "proxyuser", "bucket-proxy-password")
	h.secret("proxy", map[string]string{"address": p.url, "username": "proxyuser", "password": "bucket-proxy-password"})
	h.secret("bad-proxy", map[string]string{"address": p.url, "username": "proxyuser", "password": "wrong-proxy-password"})
	viaProxy := bucketObject("via-proxy", plain, func(s *sourcev1.BucketSpec) { s.ProxySecretRef = &meta.LocalObjectReference{Name: "proxy"} })
	h.create(viaProxy)
	h.ready(viaProxy)
	if p.served.Load() == 0 || plain.Count("ListObjects") == 0 {
		t.Errorf("proxy served %d requests, the bucket %d listings", p.served.Load(), plain.Count("ListObjects"))
	}
	badProxy := bucketObject("bad-proxy", plain, func(s *sourcev1.BucketSpec) { s.ProxySecretRef = &meta.LocalObjectReference{Name: "bad-proxy"} })
	h.create(badProxy)
	msg := h.notReady(badProxy, "407", "got Basic ***")
	for _, s := range []string{"wrong-proxy-password", base64.StdEncoding.EncodeToString([]byte("proxyuser:wrong-proxy-password"))} {
		if strings.Contains(msg, s) {
			t.Errorf("message quotes the proxy credentials: %s", msg)
		}
	}
	t.Log(msg)
}

// A suspended Bucket is not reconciled until it is resumed.
func TestBucketSuspend(t *testing.T) {
	t.Parallel()
	h, _ := newBucketHarness(t, false)
	srv := s3Server(t)
	h.s3Secret("s3", s3AccessKey, s3SecretKey, s3SessionToken)
	obj := bucketObject("suspended-then-resumed", srv, func(s *sourcev1.BucketSpec) { s.Suspend = true })
	h.create(obj)
	time.Sleep(500 * time.Millisecond)
	if err := h.c.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
		t.Fatal(err)
	}
	if obj.Status.Artifact != nil || conditions.Get(obj, conditions.Ready) != nil {
		t.Errorf("a suspended Bucket was reconciled: %s", describe(obj))
	}
	h.update(obj, func() { obj.Spec.Suspend = false })
	h.ready(obj)
}
