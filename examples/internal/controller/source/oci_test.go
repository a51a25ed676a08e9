package source_test

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/examples/api/meta"
	sourcev1 "github.com/gitopskit/kit/examples/api/source/v1"
	"github.com/gitopskit/kit/oci"
	"github.com/gitopskit/kit/oci/ocitest"
	"github.com/gitopskit/kit/runtime/conditions"
)

func ociRepository(name string, reg *ocitest.Registry, repo string, mutate ...func(*sourcev1.OCIRepositorySpec)) *sourcev1.OCIRepository {
	obj := &sourcev1.OCIRepository{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: sourcev1.OCIRepositorySpec{
			URL:      "oci://" + reg.Repo(repo),
			Insecure: !strings.HasPrefix(reg.URL(), "https://"),
			Interval: metav1.Duration{Duration: time.Hour},
		},
	}
	for _, m := range mutate {
		m(&obj.Spec)
	}
	return obj
}

// push pushes a folder holding app.yaml with content to ref and returns the
// manifest digest.
func push(t *testing.T, reg *ocitest.Registry, ref, content string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "app.yaml"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := oci.NewClient(reg.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	digest, err := c.Push(context.Background(), ref, dir, oci.PushOptions{Source: "https://example.com/app.git", Revision: "main@sha1:0123"})
	if err != nil {
		t.Fatal(err)
	}
	return digest
}

// A tag, a semver range (with a filter) and a digest select what is pulled,
// with Flux revision strings; the artifact holds the layer's files and the
// manifest's annotations.
func TestOCIRepositoryReferences(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	reg := ocitest.New(t)
	d100 := push(t, reg, reg.Repo("app")+":v1.0.0", "v: 1.0.0\n")
	d110 := push(t, reg, reg.Repo("app")+":v1.1.0", "v: 1.1.0\n")
	d200 := push(t, reg, reg.Repo("app")+":v2.0.0", "v: 2.0.0\n")
	push(t, reg, reg.Repo("app")+":v1.2.0-rc.1", "v: 1.2.0-rc.1\n")
	dLatest := push(t, reg, reg.Repo("app")+":latest", "v: latest\n")

	tests := []struct {
		name     string
		ref      *sourcev1.OCIRepositoryRef
		revision string
		content  string
	}{
		{"tag", &sourcev1.OCIRepositoryRef{Tag: "v1.0.0"}, "v1.0.0@" + d100, "v: 1.0.0\n"},
		{"latest", nil, "latest@" + dLatest, "v: latest\n"},
		{"semver", &sourcev1.OCIRepositoryRef{SemVer: ">=1.0.0"}, "v2.0.0@" + d200, "v: 2.0.0\n"},
		{"semver filter", &sourcev1.OCIRepositoryRef{SemVer: "*", SemverFilter: `^v1\.`}, "v1.1.0@" + d110, "v: 1.1.0\n"},
		{"semver beats tag", &sourcev1.OCIRepositoryRef{SemVer: "1.0.x", Tag: "v2.0.0"}, "v1.0.0@" + d100, "v: 1.0.0\n"},
		{"digest beats all", &sourcev1.OCIRepositoryRef{Digest: d110, SemVer: "*", Tag: "v2.0.0"}, d110, "v: 1.1.0\n"},
	}
	objs := make([]*sourcev1.OCIRepository, len(tests))
	for i, tc := range tests {
		objs[i] = ociRepository("ref-"+string(rune('a'+i)), reg, "app", func(s *sourcev1.OCIRepositorySpec) { s.Reference = tc.ref })
		h.create(objs[i])
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := *h
			h.t = t
			obj := objs[i]
			h.ready(obj)
			if got := obj.Status.Artifact.Revision; got != tc.revision {
				t.Errorf("revision = %q, want %q", got, tc.revision)
			}
			if got := readFile(t, fetchArtifact(t, obj.Status.Artifact), "app.yaml"); got != tc.content {
				t.Errorf("content = %q, want %q", got, tc.content)
			}
			if obj.Status.URL == "" || obj.Status.URL != obj.Status.Artifact.URL {
				t.Errorf("status.url = %q, want the artifact's URL %q", obj.Status.URL, obj.Status.Artifact.URL)
			}
			if got := obj.Status.Artifact.Metadata[oci.AnnotationSource]; got != "https://example.com/app.git" {
				t.Errorf("metadata %s = %q", oci.AnnotationSource, got)
			}
			want := sourcev1.OCILayerSelector{MediaType: oci.ContentMediaType, Operation: sourcev1.OCILayerExtract}
			if obj.Status.ObservedLayerSelector == nil || *obj.Status.ObservedLayerSelector != want {
				t.Errorf("observedLayerSelector = %+v", obj.Status.ObservedLayerSelector)
			}
			if problems := conditions.Check(obj); len(problems) > 0 {
				t.Errorf("conditions break the conventions: %v", problems)
			}
		})
	}
}

// A new push to the tag, seen through a reconcile request, gives a new
// artifact; a request for an unchanged tag keeps the stored one.
func TestOCIRepositoryNewRevision(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	reg := ocitest.New(t)
	push(t, reg, reg.Repo("app")+":stable", "v: 1\n")
	obj := ociRepository("app", reg, "app", func(s *sourcev1.OCIRepositorySpec) {
		s.Reference = &sourcev1.OCIRepositoryRef{Tag: "stable"}
	})
	h.create(obj)
	h.ready(obj)
	first := obj.Status.Artifact.DeepCopy()

	request := func(v string) {
		h.update(obj, func() {
			if obj.Annotations == nil {
				obj.Annotations = map[string]string{}
			}
			obj.Annotations["reconcile.gitopskit.dev/requestedAt"] = v
		})
		h.eventually(obj, func() bool { return obj.Status.LastHandledReconcileAt == v && conditions.IsReady(obj) })
	}
	request("unchanged")
	if obj.Status.Artifact.Revision != first.Revision || !obj.Status.Artifact.LastUpdateTime.Equal(&first.LastUpdateTime) {
		t.Errorf("unchanged tag re-stored: %+v, was %+v", obj.Status.Artifact, first)
	}

	d2 := push(t, reg, reg.Repo("app")+":stable", "v: 2\n")
	request("changed")
	if got, want := obj.Status.Artifact.Revision, "stable@"+d2; got != want {
		t.Fatalf("revision = %q, want %q", got, want)
	}
	if got := readFile(t, fetchArtifact(t, obj.Status.Artifact), "app.yaml"); got != "v: 2\n" {
		t.Errorf("content = %q", got)
	}
}

// Cosign signatures by a key in the Secret verify; an unsigned artifact and
// one signed by another key are refused.
func TestOCIRepositoryVerification(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	reg := ocitest.New(t)
	signer, stranger := ocitest.NewSigner(t), ocitest.NewSigner(t)
	d := push(t, reg, reg.Repo("signed")+":v1", "signed\n")
	reg.Sign(t, signer, reg.Repo("signed")+"@"+d)
	push(t, reg, reg.Repo("unsigned")+":v1", "unsigned\n")
	ds := push(t, reg, reg.Repo("stranger")+":v1", "stranger\n")
	reg.Sign(t, stranger, reg.Repo("stranger")+"@"+ds)
	h.secret("cosign", map[string]string{"cosign.pub": string(signer.PublicKeyPEM()), "README": "not a key"})

	verified := func(s *sourcev1.OCIRepositorySpec) {
		s.Reference = &sourcev1.OCIRepositoryRef{Tag: "v1"}
		s.Verify = &sourcev1.OCIRepositoryVerification{Provider: "cosign", SecretRef: &meta.LocalObjectReference{Name: "cosign"}}
	}
	t.Run("signed", func(t *testing.T) {
		h := *h
		h.t = t
		obj := ociRepository("signed", reg, "signed", verified)
		h.create(obj)
		h.ready(obj)
		if !conditions.IsTrue(obj, meta.SourceVerifiedCondition) {
			t.Errorf("SourceVerified not True: %s", describe(obj))
		}
	})
	for _, name := range []string{"unsigned", "stranger"} {
		t.Run(name, func(t *testing.T) {
			h := *h
			h.t = t
			obj := ociRepository(name, reg, name, verified)
			h.create(obj)
			h.notReady(obj, "signature verification")
			if !conditions.IsFalse(obj, meta.SourceVerifiedCondition) {
				t.Errorf("SourceVerified not False: %s", describe(obj))
			}
			if obj.Status.Artifact != nil {
				t.Errorf("unverified artifact stored: %+v", obj.Status.Artifact)
			}
		})
	}
}

// A registry behind basic auth over TLS is read with a docker config Secret
// and a CA Secret; without the Secret the message names it.
func TestOCIRepositoryAuth(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	reg := ocitest.New(t, ocitest.WithTLS(), ocitest.WithBasicAuth("robot", "reg-pass-123"))
	d := push(t, reg, reg.Repo("private")+":v1", "private\n")

	cfg, err := json.Marshal(map[string]any{"auths": map[string]any{
		reg.Host(): map[string]string{"username": "robot", "password": "reg-pass-123"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	h.create(&corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "regcred"},
		Type:       corev1.SecretTypeDockerConfigJson,
		Data:       map[string][]byte{corev1.DockerConfigJsonKey: cfg},
	})
	h.create(&corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "regca"},
		Data:       map[string][]byte{"ca.crt": caPEM(t, reg)},
	})
	authed := func(secret string) func(s *sourcev1.OCIRepositorySpec) {
		return func(s *sourcev1.OCIRepositorySpec) {
			s.Reference = &sourcev1.OCIRepositoryRef{Tag: "v1"}
			s.SecretRef = &meta.LocalObjectReference{Name: secret}
			s.CertSecretRef = &meta.LocalObjectReference{Name: "regca"}
		}
	}
	t.Run("docker config", func(t *testing.T) {
		h := *h
		h.t = t
		obj := ociRepository("private", reg, "private", authed("regcred"))
		h.create(obj)
		h.ready(obj)
		if got, want := obj.Status.Artifact.Revision, "v1@"+d; got != want {
			t.Errorf("revision = %q, want %q", got, want)
		}
	})
	t.Run("missing secret", func(t *testing.T) {
		h := *h
		h.t = t
		obj := ociRepository("no-creds", reg, "private", authed("absent"))
		h.create(obj)
		h.notReady(obj, "secret '"+h.ns+"/absent' not found")
	})
	t.Run("no secret at all", func(t *testing.T) {
		h := *h
		h.t = t
		obj := ociRepository("anonymous", reg, "private", func(s *sourcev1.OCIRepositorySpec) {
			s.Reference = &sourcev1.OCIRepositoryRef{Tag: "v1"}
			s.CertSecretRef = &meta.LocalObjectReference{Name: "regca"}
		})
		h.create(obj)
		msg := h.notReady(obj, "authentication required")
		if r := conditions.Get(obj, conditions.Ready).Reason; r != "AuthenticationFailed" {
			t.Errorf("reason = %q, want AuthenticationFailed", r)
		}
		if strings.Contains(msg, "reg-pass-123") {
			t.Errorf("message leaks the password: %q", msg)
		}
	})
}

// caPEM returns the PEM of the CA the registry's certificate chains to.
func caPEM(t *testing.T, reg *ocitest.Registry) []byte {
	t.Helper()
	resp, err := reg.HTTPClient().Get(reg.URL() + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	chain := resp.TLS.PeerCertificates
	return pemCert(chain[len(chain)-1].Raw)
}

// The copy operation stores the selected layer as it is.
func TestOCIRepositoryCopyLayer(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	reg := ocitest.New(t)
	push(t, reg, reg.Repo("app")+":v1", "copied\n")
	c, err := oci.NewClient(reg.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	md, err := c.Pull(context.Background(), reg.Repo("app")+":v1", filepath.Join(t.TempDir(), "layer"), oci.PullOptions{Copy: true})
	if err != nil {
		t.Fatal(err)
	}
	obj := ociRepository("app", reg, "app", func(s *sourcev1.OCIRepositorySpec) {
		s.Reference = &sourcev1.OCIRepositoryRef{Tag: "v1"}
		s.LayerSelector = &sourcev1.OCILayerSelector{MediaType: oci.ContentMediaType, Operation: sourcev1.OCILayerCopy}
	})
	h.create(obj)
	h.ready(obj)
	if got, want := string(obj.Status.Artifact.Digest), md.Layer.Digest.String(); got != want {
		t.Errorf("artifact digest = %s, want the layer's %s", got, want)
	}
	if got := readFile(t, fetchArtifact(t, obj.Status.Artifact), "app.yaml"); got != "copied\n" {
		t.Errorf("content = %q", got)
	}
}

// Specs that can never work are Stalled with a clear message.
func TestOCIRepositoryInvalidSpec(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	reg := ocitest.New(t)
	tests := []struct {
		name, want string
		mutate     func(*sourcev1.OCIRepositorySpec)
	}{
		{"semver", "invalid semver range", func(s *sourcev1.OCIRepositorySpec) {
			s.Reference = &sourcev1.OCIRepositoryRef{SemVer: "not a range"}
		}},
		{"tag in url", "must not hold a tag", func(s *sourcev1.OCIRepositorySpec) { s.URL += ":v1" }},
		{"credentials in url", "must hold neither credentials", func(s *sourcev1.OCIRepositorySpec) {
			s.URL = "oci://user:url-pass-123@" + reg.Repo("app")
		}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := *h
			h.t = t
			obj := ociRepository("bad-"+string(rune('a'+i)), reg, "app", tc.mutate)
			h.create(obj)
			msg := h.notReady(obj, tc.want)
			if !conditions.IsTrue(obj, conditions.Stalled) {
				t.Errorf("not Stalled: %s", describe(obj))
			}
			if strings.Contains(msg, "url-pass-123") {
				t.Errorf("message leaks the URL password: %q", msg)
			}
		})
	}
}

func pemCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// Deleting the object removes its artifacts from storage, and its series
// from the metrics.
func TestOCIRepositoryDeletion(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	reg := ocitest.New(t)
	push(t, reg, reg.Repo("app")+":latest", "v: 1\n")
	obj := ociRepository("app", reg, "app")
	h.create(obj)
	h.ready(obj)
	const kind = sourcev1.OCIRepositoryKind
	h.wantMetric("gitopskit_reconcile_condition", series(obj, kind, "type", "Ready", "status", "True"), 1)
	h.eventuallyMetric("gitopskit_reconcile_duration_seconds", series(obj, kind), func(n float64, found bool) bool { return found && n >= 1 })
	path, err := h.artifacts.Storage().LocalPath(*obj.Status.Artifact)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.c.Delete(context.Background(), obj); err != nil {
		t.Fatal(err)
	}
	h.gone(obj)
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("artifact still in storage after deletion: %v", err)
	}
	h.wantNoMetrics(obj, kind)
}

// Keyless signatures verify against the trusted_root.json of the Secret
// for a matching identity; a signer outside matchOIDCIdentity is refused,
// saying why, and nothing is stored.
func TestOCIRepositoryKeylessVerification(t *testing.T) {
	t.Parallel()
	const (
		workflow = "https://github.com/org/app/.github/workflows/release.yaml@refs/heads/main"
		actions  = "https://token.actions.githubusercontent.com"
	)
	h := newHarness(t)
	reg := ocitest.New(t, ocitest.WithReferrersAPI())
	signer := ocitest.NewKeylessSigner(t, workflow, actions)
	d := push(t, reg, reg.Repo("app")+":v1", "keyless\n")
	reg.SignKeyless(t, signer, reg.Repo("app")+"@"+d)
	h.create(&corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "sigstore"},
		Data:       map[string][]byte{"trusted_root.json": signer.TrustedRootJSON()},
	})
	keyless := func(subject string) func(s *sourcev1.OCIRepositorySpec) {
		return func(s *sourcev1.OCIRepositorySpec) {
			s.Reference = &sourcev1.OCIRepositoryRef{Tag: "v1"}
			s.Verify = &sourcev1.OCIRepositoryVerification{
				Provider:  "cosign",
				SecretRef: &meta.LocalObjectReference{Name: "sigstore"},
				MatchOIDCIdentity: []sourcev1.OIDCIdentityMatch{{
					Issuer:  `^https://token\.actions\.githubusercontent\.com$`,
					Subject: subject,
				}},
			}
		}
	}
	t.Run("matching identity", func(t *testing.T) {
		h := *h
		h.t = t
		obj := ociRepository("trusted", reg, "app", keyless(`^https://github\.com/org/app/\.github/workflows/release\.yaml@refs/heads/main$`))
		h.create(obj)
		h.ready(obj)
		c := conditions.Get(obj, meta.SourceVerifiedCondition)
		if c == nil || c.Status != metav1.ConditionTrue || c.ObservedGeneration != obj.Generation {
			t.Fatalf("SourceVerified not True for this generation: %s", describe(obj))
		}
		if !strings.Contains(c.Message, "v1@"+d) {
			t.Errorf("SourceVerified message does not name the revision: %q", c.Message)
		}
		if got := readFile(t, fetchArtifact(t, obj.Status.Artifact), "app.yaml"); got != "keyless\n" {
			t.Errorf("content = %q", got)
		}
	})
	t.Run("other identity", func(t *testing.T) {
		h := *h
		h.t = t
		obj := ociRepository("untrusted", reg, "app", keyless(`^https://github\.com/evil/`))
		h.create(obj)
		msg := h.notReady(obj, "signature verification of revision 'v1@"+d+"' failed", "github\\.com/evil/")
		t.Logf("message: %s", msg)
		c := conditions.Get(obj, meta.SourceVerifiedCondition)
		if c == nil || c.Status != metav1.ConditionFalse || c.Reason != "VerificationFailed" {
			t.Errorf("SourceVerified not False/VerificationFailed: %s", describe(obj))
		}
		if obj.Status.Artifact != nil {
			t.Errorf("unverified artifact stored: %+v", obj.Status.Artifact)
		}
		// Nothing under the object's key anywhere in storage.
		err := filepath.WalkDir(h.artifacts.Storage().Root(), func(path string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.Contains(filepath.ToSlash(path), "/"+h.ns+"/untrusted/") {
				t.Errorf("stored for an unverified revision: %s", path)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

// A suspended object is not fetched (its registry sees no request) until
// resumed, and its suspension shows in the metrics.
func TestOCIRepositorySuspend(t *testing.T) {
	t.Parallel()
	const kind = sourcev1.OCIRepositoryKind
	h := newHarness(t)
	reg, other := ocitest.New(t), ocitest.New(t)
	d := push(t, reg, reg.Repo("app")+":latest", "v: 1\n")
	push(t, other, other.Repo("app")+":latest", "v: other\n")
	before := reg.Requests()
	suspended := ociRepository("suspended", reg, "app", func(s *sourcev1.OCIRepositorySpec) { s.Suspend = true })
	h.create(suspended)
	// One worker takes objects in order: once the later object is Ready,
	// the suspended one has been seen and skipped.
	later := ociRepository("later", other, "app")
	h.create(later)
	h.ready(later)
	if err := h.c.Get(context.Background(), client.ObjectKeyFromObject(suspended), suspended); err != nil {
		t.Fatal(err)
	}
	if len(suspended.Finalizers) > 0 || len(suspended.Status.Conditions) > 0 || suspended.Status.Artifact != nil {
		t.Fatalf("suspended object was reconciled: finalizers %v, %s", suspended.Finalizers, describe(suspended))
	}
	if n := reg.Requests() - before; n != 0 {
		t.Fatalf("the registry of the suspended object served %d requests", n)
	}
	h.wantMetric("gitopskit_suspend_status", series(suspended, kind), 1)

	h.update(suspended, func() { suspended.Spec.Suspend = false })
	h.ready(suspended)
	if got, want := suspended.Status.Artifact.Revision, "latest@"+d; got != want {
		t.Errorf("revision = %q, want %q", got, want)
	}
	if reg.Requests() == before {
		t.Error("resumed object fetched nothing")
	}
	h.wantMetric("gitopskit_suspend_status", series(suspended, kind), 0)
}

// spec.timeout bounds a pull: a registry that stops answering makes the
// reconcile give up with Ready=False saying the deadline passed (it does
// not hang), and the object recovers once the registry answers again.
func TestOCIRepositoryTimeout(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	var stall atomic.Bool
	release := make(chan struct{})
	reg := ocitest.New(t, ocitest.WithMiddleware(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if stall.Load() && strings.Contains(req.URL.Path, "/manifests/") {
				select {
				case <-req.Context().Done(): // the client gave up
				case <-release: // the test is over
				}
				return
			}
			next.ServeHTTP(w, req)
		})
	}))
	t.Cleanup(func() { close(release) }) // runs before the registry closes
	d := push(t, reg, reg.Repo("app")+":v1", "v: 1\n")
	stall.Store(true)

	obj := ociRepository("slow", reg, "app", func(s *sourcev1.OCIRepositorySpec) {
		s.Reference = &sourcev1.OCIRepositoryRef{Tag: "v1"}
		s.Timeout = &metav1.Duration{Duration: time.Second}
	})
	h.create(obj)
	msg := h.notReady(obj, "resolving '"+reg.Repo("app")+":v1'", "timed out after 1s (spec.timeout)", "deadline exceeded")
	t.Logf("message: %s", msg)
	if conditions.IsTrue(obj, conditions.Stalled) {
		t.Errorf("a timeout should be retried, not stalled: %s", describe(obj))
	}
	if obj.Status.Artifact != nil {
		t.Errorf("artifact stored: %+v", obj.Status.Artifact)
	}

	stall.Store(false)
	h.ready(obj) // the retry after the failure
	if got, want := obj.Status.Artifact.Revision, "v1@"+d; got != want {
		t.Errorf("revision = %q, want %q", got, want)
	}
}
