package source_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/crypto/ssh"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/gitopskit/kit/examples/api/meta"
	sourcev1 "github.com/gitopskit/kit/examples/api/source/v1"
	"github.com/gitopskit/kit/examples/internal/controller/source"
	"github.com/gitopskit/kit/git"
	"github.com/gitopskit/kit/git/gittest"
	"github.com/gitopskit/kit/git/verify"
	"github.com/gitopskit/kit/runtime/conditions"
	"github.com/gitopskit/kit/runtime/reconcile"
)

func gitRepository(name, url string, mutate ...func(*sourcev1.GitRepositorySpec)) *sourcev1.GitRepository {
	obj := &sourcev1.GitRepository{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: sourcev1.GitRepositorySpec{
			URL:      url,
			Interval: metav1.Duration{Duration: time.Hour},
		},
	}
	for _, m := range mutate {
		m(&obj.Spec)
	}
	return obj
}

func readFile(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A branch is packaged into an artifact served over HTTP; a new commit, seen
// through a reconcile request long before the interval, gives a new
// artifact; the request is recorded as handled.
func TestGitRepositoryBranchNewCommitAndRequest(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	srv := gittest.NewServer(t)
	repo := srv.InitRepository("app.git")
	c1 := repo.Commit("main", "init", map[string]string{"deploy/app.yaml": "v: 1\n"})

	obj := gitRepository("app", srv.HTTPURL("app.git"), func(s *sourcev1.GitRepositorySpec) {
		s.Reference = &sourcev1.GitRepositoryRef{Branch: "main"}
	})
	h.create(obj)
	h.ready(obj)

	if got, want := obj.Status.Artifact.Revision, "main@sha1:"+c1; got != want {
		t.Fatalf("revision = %q, want %q", got, want)
	}
	if !controllerutil.ContainsFinalizer(obj, source.Finalizer) {
		t.Errorf("finalizer missing: %v", obj.Finalizers)
	}
	if !conditions.IsTrue(obj, meta.ArtifactInStorageCondition) {
		t.Errorf("ArtifactInStorage not True: %s", describe(obj))
	}
	if !strings.HasPrefix(obj.Status.Artifact.URL, h.artifacts.URL()+"/gitrepository/"+h.ns+"/app/") {
		t.Errorf("artifact URL %q not under the storage base URL %q", obj.Status.Artifact.URL, h.artifacts.URL())
	}
	if problems := conditions.Check(obj); len(problems) > 0 {
		t.Errorf("conditions break the conventions: %v", problems)
	}
	dir := fetchArtifact(t, obj.Status.Artifact)
	if got := readFile(t, dir, "deploy/app.yaml"); got != "v: 1\n" {
		t.Errorf("artifact content = %q", got)
	}
	first := obj.Status.Artifact.DeepCopy()

	c2 := repo.Commit("main", "bump", map[string]string{"deploy/app.yaml": "v: 2\n"})
	h.update(obj, func() {
		if obj.Annotations == nil {
			obj.Annotations = map[string]string{}
		}
		obj.Annotations[reconcile.RequestedAtAnnotation] = "req-1"
	})
	h.eventually(obj, func() bool {
		return obj.Status.LastHandledReconcileAt == "req-1" && conditions.IsReady(obj)
	})
	if got, want := obj.Status.Artifact.Revision, "main@sha1:"+c2; got != want {
		t.Fatalf("after request: revision = %q, want %q", got, want)
	}
	if obj.Status.Artifact.Digest == first.Digest {
		t.Errorf("new revision has the old digest")
	}
	dir = fetchArtifact(t, obj.Status.Artifact)
	if got := readFile(t, dir, "deploy/app.yaml"); got != "v: 2\n" {
		t.Errorf("artifact content = %q", got)
	}
	// The previous artifact is kept for consumers still downloading it.
	if !h.artifacts.Storage().Exists(*first) {
		t.Errorf("previous artifact collected too early")
	}
	second := obj.Status.Artifact.DeepCopy()

	// A third revision, found by polling at the interval: the first
	// artifact is collected, the second kept.
	h.update(obj, func() { obj.Spec.Interval = metav1.Duration{Duration: time.Second} })
	h.ready(obj)
	if obj.Status.Artifact.Revision != second.Revision {
		t.Fatalf("revision changed without a commit: %s", obj.Status.Artifact.Revision)
	}
	c3 := repo.Commit("main", "again", map[string]string{"deploy/app.yaml": "v: 3\n"})
	h.eventually(obj, func() bool { return obj.Status.Artifact.Revision == "main@sha1:"+c3 })
	if h.artifacts.Storage().Exists(*first) {
		t.Errorf("artifact two revisions old not collected")
	}
	if !h.artifacts.Storage().Exists(*second) {
		t.Errorf("previous artifact collected too early")
	}
}

// An SSH remote is read with the identity and known_hosts of the Secret.
func TestGitRepositorySSH(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	srv := gittest.NewServer(t, gittest.WithSSH())
	c1 := srv.InitRepository("app.git").Commit("main", "init", map[string]string{"f": "over ssh"})
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	srv.AuthorizeKey(signer.PublicKey())
	h.secret("ssh", map[string]string{"identity": string(pem.EncodeToMemory(block)), "known_hosts": string(srv.KnownHosts())})
	obj := gitRepository("app", srv.SSHURL("app.git"), func(s *sourcev1.GitRepositorySpec) {
		s.SecretRef = &meta.LocalObjectReference{Name: "ssh"}
	})
	h.create(obj)
	h.ready(obj)
	if got, want := obj.Status.Artifact.Revision, "main@sha1:"+c1; got != want {
		t.Errorf("revision = %q, want %q", got, want)
	}
	if got := readFile(t, fetchArtifact(t, obj.Status.Artifact), "f"); got != "over ssh" {
		t.Errorf("content = %q", got)
	}
}

// Tags, semver ranges, commits and reference names select what is packaged,
// with Flux revision strings.
func TestGitRepositoryReferences(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	srv := gittest.NewServer(t)
	repo := srv.InitRepository("app.git")
	c1 := repo.Commit("main", "one", map[string]string{"f": "1"})
	repo.Tag("v1.0.0", c1)
	c2 := repo.Commit("main", "two", map[string]string{"f": "2"})
	repo.AnnotatedTag("v1.1.0", c2, "release", nil)
	c3 := repo.Commit("main", "three", map[string]string{"f": "3"})
	repo.Tag("v2.0.0", c3)
	c4 := repo.Commit("main", "four", map[string]string{"f": "4"})
	repo.SetReference("refs/pull/7/head", c2)

	tests := []struct {
		name     string
		ref      sourcev1.GitRepositoryRef
		revision string
		content  string
	}{
		{"tag", sourcev1.GitRepositoryRef{Tag: "v1.0.0"}, "v1.0.0@sha1:" + c1, "1"},
		{"semver", sourcev1.GitRepositoryRef{SemVer: ">=1.0.0 <2.0.0"}, "v1.1.0@sha1:" + c2, "2"},
		{"semver beats tag", sourcev1.GitRepositoryRef{SemVer: "2.x", Tag: "v1.0.0"}, "v2.0.0@sha1:" + c3, "3"},
		{"commit", sourcev1.GitRepositoryRef{Commit: c2}, "sha1:" + c2, "2"},
		{"commit on branch", sourcev1.GitRepositoryRef{Branch: "main", Commit: c3}, "main@sha1:" + c3, "3"},
		{"name", sourcev1.GitRepositoryRef{Name: "refs/pull/7/head"}, "refs/pull/7/head@sha1:" + c2, "2"},
		{"default branch", sourcev1.GitRepositoryRef{}, "main@sha1:" + c4, "4"},
	}
	for i, tc := range tests {
		obj := gitRepository("ref-"+string(rune('a'+i)), srv.HTTPURL("app.git"), func(s *sourcev1.GitRepositorySpec) {
			s.Reference = &tc.ref
		})
		h.create(obj)
		t.Run(tc.name, func(t *testing.T) {
			h := *h
			h.t = t
			h.ready(obj)
			if got := obj.Status.Artifact.Revision; got != tc.revision {
				t.Errorf("revision = %q, want %q", got, tc.revision)
			}
			if got := readFile(t, fetchArtifact(t, obj.Status.Artifact), "f"); got != tc.content {
				t.Errorf("content = %q, want %q", got, tc.content)
			}
		})
	}
}

// Ready=False with a message that says what is wrong, never a credential;
// a spec that can never work is Stalled instead of retried.
func TestGitRepositoryFailures(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	srv := gittest.NewServer(t)
	repo := srv.InitRepository("app.git")
	repo.Commit("main", "init", map[string]string{"f": "1"})
	private := gittest.NewServer(t, gittest.WithTLS(), gittest.WithBasicAuth("alice", "s3cret-pass"))
	private.InitRepository("app.git").Commit("main", "init", map[string]string{"f": "1"})

	t.Run("wrong branch", func(t *testing.T) {
		h := *h
		h.t = t
		obj := gitRepository("wrong-branch", srv.HTTPURL("app.git"), func(s *sourcev1.GitRepositorySpec) {
			s.Reference = &sourcev1.GitRepositoryRef{Branch: "nope"}
		})
		h.create(obj)
		msg := h.notReady(obj, "branch nope", git.ErrReferenceNotFound.Error())
		t.Logf("message: %s", msg)
		if !conditions.IsTrue(obj, conditions.Reconciling) || conditions.IsTrue(obj, conditions.Stalled) {
			t.Errorf("a missing branch should be retried: %s", describe(obj))
		}
	})
	t.Run("missing secret", func(t *testing.T) {
		h := *h
		h.t = t
		obj := gitRepository("missing-secret", private.HTTPURL("app.git"), func(s *sourcev1.GitRepositorySpec) {
			s.SecretRef = &meta.LocalObjectReference{Name: "absent-creds"}
		})
		h.create(obj)
		h.notReady(obj, "secret '"+h.ns+"/absent-creds' not found")
	})
	t.Run("missing key", func(t *testing.T) {
		h := *h
		h.t = t
		h.secret("half-creds", map[string]string{"username": "alice", "ca.crt": string(private.CA())})
		obj := gitRepository("missing-key", private.HTTPURL("app.git"), func(s *sourcev1.GitRepositorySpec) {
			s.SecretRef = &meta.LocalObjectReference{Name: "half-creds"}
		})
		h.create(obj)
		h.notReady(obj, "half-creds", "password")
	})
	t.Run("wrong password is masked", func(t *testing.T) {
		h := *h
		h.t = t
		h.secret("bad-creds", map[string]string{"username": "alice", "password": "wrong-pass-xyz", "ca.crt": string(private.CA())})
		obj := gitRepository("bad-creds", private.HTTPURL("app.git"), func(s *sourcev1.GitRepositorySpec) {
			s.SecretRef = &meta.LocalObjectReference{Name: "bad-creds"}
		})
		h.create(obj)
		msg := h.notReady(obj, "authentication")
		if r := conditions.Get(obj, conditions.Ready).Reason; r != "AuthenticationFailed" {
			t.Errorf("reason = %q, want AuthenticationFailed", r)
		}
		if strings.Contains(msg, "wrong-pass-xyz") {
			t.Errorf("message leaks the password: %q", msg)
		}
	})
	t.Run("credentials in URL are masked", func(t *testing.T) {
		h := *h
		h.t = t
		u := strings.Replace(srv.HTTPURL("missing.git"), "://", "://bob:url-pass-123@", 1)
		obj := gitRepository("url-creds", u)
		h.create(obj)
		h.eventually(obj, func() bool { return conditions.IsFalse(obj, conditions.Ready) })
		if msg := conditions.Get(obj, conditions.Ready).Message; strings.Contains(msg, "url-pass-123") {
			t.Errorf("message leaks the URL password: %q", msg)
		}
	})
	t.Run("credentials over plain http stall", func(t *testing.T) {
		h := *h
		h.t = t
		h.secret("plain-creds", map[string]string{"username": "alice", "password": "plain-pass-456"})
		obj := gitRepository("plain-creds", srv.HTTPURL("app.git"), func(s *sourcev1.GitRepositorySpec) {
			s.SecretRef = &meta.LocalObjectReference{Name: "plain-creds"}
		})
		h.create(obj)
		msg := h.notReady(obj, "http")
		t.Logf("message: %s", msg)
		if !conditions.IsTrue(obj, conditions.Stalled) {
			t.Errorf("credentials over plain http should stall: %s", describe(obj))
		}
		if strings.Contains(msg, "plain-pass-456") {
			t.Errorf("message leaks the password: %q", msg)
		}
	})
	t.Run("invalid semver stalls", func(t *testing.T) {
		h := *h
		h.t = t
		obj := gitRepository("bad-semver", srv.HTTPURL("app.git"), func(s *sourcev1.GitRepositorySpec) {
			s.Reference = &sourcev1.GitRepositoryRef{SemVer: "not a range"}
		})
		h.create(obj)
		h.notReady(obj, "invalid semver range")
		if !conditions.IsTrue(obj, conditions.Stalled) {
			t.Errorf("invalid semver should stall: %s", describe(obj))
		}
	})
}

// Basic auth and a private CA from the Secret open a private repository.
func TestGitRepositoryBasicAuth(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	srv := gittest.NewServer(t, gittest.WithTLS(), gittest.WithBasicAuth("alice", "s3cret-pass"))
	c1 := srv.InitRepository("app.git").Commit("main", "init", map[string]string{"f": "private"})
	h.secret("creds", map[string]string{"username": "alice", "password": "s3cret-pass", "ca.crt": string(srv.CA())})
	obj := gitRepository("private", srv.HTTPURL("app.git"), func(s *sourcev1.GitRepositorySpec) {
		s.SecretRef = &meta.LocalObjectReference{Name: "creds"}
	})
	h.create(obj)
	h.ready(obj)
	if got, want := obj.Status.Artifact.Revision, "main@sha1:"+c1; got != want {
		t.Errorf("revision = %q, want %q", got, want)
	}
	if got := readFile(t, fetchArtifact(t, obj.Status.Artifact), "f"); got != "private" {
		t.Errorf("content = %q", got)
	}
}

// A bearer token, and a TLS client certificate, from the Secret open a
// private repository over HTTPS with the server's CA; a wrong token and a
// missing client certificate are refused without leaking the secret.
func TestGitRepositoryBearerTokenAndClientCertificates(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	const token = "tok-3f9a8c1e"
	bearer := gittest.NewServer(t, gittest.WithTLS(), gittest.WithBearerToken(token))
	cb := bearer.InitRepository("app.git").Commit("main", "init", map[string]string{"f": "bearer"})
	mtls := gittest.NewServer(t, gittest.WithClientCertificates())
	cm := mtls.InitRepository("app.git").Commit("main", "init", map[string]string{"f": "mtls"})
	clientCert, clientKey := mtls.ClientCertificate()

	tests := []struct {
		name    string
		srv     *gittest.Server
		secret  map[string]string
		commit  string // "" when the fetch must fail
		content string
		want    []string // parts of the failure message
		reason  string
	}{
		{name: "bearer token", srv: bearer, commit: cb, content: "bearer",
			secret: map[string]string{"bearerToken": token, "ca.crt": string(bearer.CA())}},
		{name: "wrong bearer token", srv: bearer, reason: "AuthenticationFailed", want: []string{"authentication"},
			secret: map[string]string{"bearerToken": "tok-wrong-77e1", "ca.crt": string(bearer.CA())}},
		{name: "client certificate", srv: mtls, commit: cm, content: "mtls",
			secret: map[string]string{"ca.crt": string(mtls.CA()), "tls.crt": string(clientCert), "tls.key": string(clientKey)}},
		{name: "no client certificate", srv: mtls, want: []string{"tls: certificate required"},
			secret: map[string]string{"ca.crt": string(mtls.CA())}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := *h
			h.t = t
			name := "auth-" + string(rune('a'+i))
			h.secret(name, tc.secret)
			obj := gitRepository(name, tc.srv.HTTPURL("app.git"), func(s *sourcev1.GitRepositorySpec) {
				s.SecretRef = &meta.LocalObjectReference{Name: name}
			})
			h.create(obj)
			if tc.commit == "" {
				msg := h.notReady(obj, tc.want...)
				t.Logf("message: %s", msg)
				if r := conditions.Get(obj, conditions.Ready).Reason; tc.reason != "" && r != tc.reason {
					t.Errorf("reason = %q, want %q", r, tc.reason)
				}
				if strings.Contains(msg, "tok-") || strings.Contains(msg, "PRIVATE KEY") {
					t.Errorf("message leaks a secret: %q", msg)
				}
				if obj.Status.Artifact != nil {
					t.Errorf("artifact stored: %+v", obj.Status.Artifact)
				}
				return
			}
			h.ready(obj)
			if got, want := obj.Status.Artifact.Revision, "main@sha1:"+tc.commit; got != want {
				t.Errorf("revision = %q, want %q", got, want)
			}
			if got := readFile(t, fetchArtifact(t, obj.Status.Artifact), "f"); got != tc.content {
				t.Errorf("content = %q", got)
			}
		})
	}
}

func sshKey(t *testing.T) (ssh.Signer, string) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s, string(ssh.MarshalAuthorizedKey(s.PublicKey()))
}

// A commit signed by a trusted key verifies (SourceVerified=True); one
// signed by another key is refused and not packaged.
func TestGitRepositoryVerification(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	srv := gittest.NewServer(t)
	trusted, trustedPub := sshKey(t)
	other, _ := sshKey(t)
	good := srv.InitRepository("good.git")
	gc := good.Commit("main", "signed", map[string]string{"f": "1"}, gittest.Signed(verify.NewSSHSigner(trusted)))
	good.AnnotatedTag("v1.0.0", gc, "release", verify.NewSSHSigner(trusted))
	bad := srv.InitRepository("bad.git")
	bad.Commit("main", "signed by a stranger", map[string]string{"f": "1"}, gittest.Signed(verify.NewSSHSigner(other)))
	h.secret("keys", map[string]string{"author": trustedPub})

	verification := func(mode sourcev1.GitVerificationMode) func(*sourcev1.GitRepositorySpec) {
		return func(s *sourcev1.GitRepositorySpec) {
			s.Verification = &sourcev1.GitRepositoryVerification{Mode: mode, SecretRef: meta.LocalObjectReference{Name: "keys"}}
		}
	}
	t.Run("trusted head", func(t *testing.T) {
		h := *h
		h.t = t
		obj := gitRepository("good-head", srv.HTTPURL("good.git"), verification(sourcev1.VerifyHEAD))
		h.create(obj)
		h.ready(obj)
		if !conditions.IsTrue(obj, meta.SourceVerifiedCondition) {
			t.Errorf("SourceVerified not True: %s", describe(obj))
		}
		if m := obj.Status.SourceVerificationMode; m == nil || *m != sourcev1.VerifyHEAD {
			t.Errorf("sourceVerificationMode = %v, want HEAD", m)
		}
		// Verification turned off: the mode and the condition go.
		h.update(obj, func() { obj.Spec.Verification = nil })
		h.eventually(obj, func() bool {
			return conditions.IsReady(obj) && obj.Status.SourceVerificationMode == nil &&
				conditions.Get(obj, meta.SourceVerifiedCondition) == nil
		})
	})
	t.Run("trusted tag and head", func(t *testing.T) {
		h := *h
		h.t = t
		obj := gitRepository("good-tag", srv.HTTPURL("good.git"), verification(sourcev1.VerifyTagAndHEAD), func(s *sourcev1.GitRepositorySpec) {
			s.Reference = &sourcev1.GitRepositoryRef{Tag: "v1.0.0"}
		})
		h.create(obj)
		h.ready(obj)
		if got, want := obj.Status.Artifact.Revision, "v1.0.0@sha1:"+gc; got != want {
			t.Errorf("revision = %q, want %q", got, want)
		}
		if m := obj.Status.SourceVerificationMode; m == nil || *m != sourcev1.VerifyTagAndHEAD {
			t.Errorf("sourceVerificationMode = %v, want TagAndHEAD", m)
		}
	})
	t.Run("untrusted", func(t *testing.T) {
		h := *h
		h.t = t
		obj := gitRepository("bad", srv.HTTPURL("bad.git"), verification(sourcev1.VerifyHEAD))
		h.create(obj)
		h.notReady(obj, "signature verification", verify.ErrUnknownKey.Error())
		if !conditions.IsFalse(obj, meta.SourceVerifiedCondition) {
			t.Errorf("SourceVerified not False: %s", describe(obj))
		}
		if obj.Status.Artifact != nil {
			t.Errorf("unverified revision was packaged: %+v", obj.Status.Artifact)
		}
		if obj.Status.SourceVerificationMode != nil {
			t.Errorf("sourceVerificationMode = %s for an unverified revision", *obj.Status.SourceVerificationMode)
		}
	})
}

// spec.ignore and .sourceignore leave files out of the artifact.
func TestGitRepositoryIgnore(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	srv := gittest.NewServer(t)
	srv.InitRepository("app.git").Commit("main", "init", map[string]string{
		"deploy/app.yaml":    "app\n",
		"deploy/secret.yaml": "secret\n",
		"docs/notes.md":      "notes\n",
		".sourceignore":      "docs/\n",
	})
	ignore := "secret.yaml\n"
	obj := gitRepository("app", srv.HTTPURL("app.git"), func(s *sourcev1.GitRepositorySpec) { s.Ignore = &ignore })
	h.create(obj)
	h.ready(obj)
	dir := fetchArtifact(t, obj.Status.Artifact)
	var files []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			files = append(files, filepath.ToSlash(rel))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{".sourceignore", "deploy/app.yaml"}, files); diff != "" {
		t.Errorf("artifact files (-want +got):\n%s", diff)
	}
	if obj.Status.ObservedIgnore == nil || *obj.Status.ObservedIgnore != ignore {
		t.Errorf("observedIgnore = %v", obj.Status.ObservedIgnore)
	}
}

// A suspended object is left alone until resumed, and its suspension shows
// in the metrics.
func TestGitRepositorySuspend(t *testing.T) {
	t.Parallel()
	const kind = sourcev1.GitRepositoryKind
	h := newHarness(t)
	srv := gittest.NewServer(t)
	srv.InitRepository("app.git").Commit("main", "init", map[string]string{"f": "1"})
	suspended := gitRepository("suspended", srv.HTTPURL("app.git"), func(s *sourcev1.GitRepositorySpec) { s.Suspend = true })
	h.create(suspended)
	// One worker takes objects in order: once the later object is Ready,
	// the suspended one has been seen and skipped.
	later := gitRepository("later", srv.HTTPURL("app.git"))
	h.create(later)
	h.ready(later)
	if err := h.c.Get(context.Background(), client.ObjectKeyFromObject(suspended), suspended); err != nil {
		t.Fatal(err)
	}
	if len(suspended.Finalizers) > 0 || len(suspended.Status.Conditions) > 0 || suspended.Status.Artifact != nil {
		t.Fatalf("suspended object was reconciled: finalizers %v, %s", suspended.Finalizers, describe(suspended))
	}
	h.wantMetric("gitopskit_suspend_status", series(suspended, kind), 1)
	h.update(suspended, func() { suspended.Spec.Suspend = false })
	h.ready(suspended)
	h.wantMetric("gitopskit_suspend_status", series(suspended, kind), 0)
	h.wantMetric("gitopskit_reconcile_condition", series(suspended, kind, "type", "Ready", "status", "True"), 1)
}

// Deleting the object removes its artifacts from storage, and its series
// from the metrics.
func TestGitRepositoryDeletion(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	srv := gittest.NewServer(t)
	srv.InitRepository("app.git").Commit("main", "init", map[string]string{"f": "1"})
	obj := gitRepository("app", srv.HTTPURL("app.git"))
	h.create(obj)
	h.ready(obj)
	const kind = sourcev1.GitRepositoryKind
	h.wantMetric("gitopskit_reconcile_condition", series(obj, kind, "type", "Ready", "status", "True"), 1)
	h.wantMetric("gitopskit_reconcile_condition", series(obj, kind, "type", "Ready", "status", "False"), 0)
	h.wantMetric("gitopskit_reconcile_condition", series(obj, kind, "type", meta.ArtifactInStorageCondition, "status", "True"), 1)
	h.wantMetric("gitopskit_suspend_status", series(obj, kind), 0)
	h.eventuallyMetric("gitopskit_reconcile_duration_seconds", series(obj, kind), func(n float64, found bool) bool { return found && n >= 1 })
	path, err := h.artifacts.Storage().LocalPath(*obj.Status.Artifact)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
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

// A gitopsd that comes back behind another address (a new
// --storage-adv-addr, a renamed Service) finds artifacts in status that
// point at the old one: its next reconcile re-points them at the current
// storage URL, without storing anything new, so consumers recover.
func TestArtifactURLFollowsTheStorageAddress(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	srv := gittest.NewServer(t)
	srv.InitRepository("app.git").Commit("main", "init", map[string]string{"app.yaml": "v: 1\n"})
	obj := gitRepository("app", srv.HTTPURL("app.git"), func(s *sourcev1.GitRepositorySpec) {
		s.Reference = &sourcev1.GitRepositoryRef{Branch: "main"}
	})
	h.create(obj)
	h.ready(obj)
	want := obj.Status.Artifact.DeepCopy()

	stale := "http://gitopsd-old.gitopskit-system.svc.cluster.local./" + want.Path
	for range 10 {
		obj.Status.Artifact.URL = stale
		if err := h.c.Status().Update(context.Background(), obj); err == nil {
			break
		}
		if err := h.c.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
			t.Fatal(err)
		}
	}
	h.update(obj, func() {
		if obj.Annotations == nil {
			obj.Annotations = map[string]string{}
		}
		obj.Annotations[reconcile.RequestedAtAnnotation] = "moved"
	})
	h.eventually(obj, func() bool { return obj.Status.LastHandledReconcileAt == "moved" })
	if got := obj.Status.Artifact; got.URL != want.URL || got.Digest != want.Digest || got.Revision != want.Revision {
		t.Fatalf("artifact after the move: %+v, want %+v", got, want)
	}
	dir := fetchArtifact(t, obj.Status.Artifact)
	if got := readFile(t, dir, "app.yaml"); got != "v: 1\n" {
		t.Errorf("artifact content = %q", got)
	}
}
