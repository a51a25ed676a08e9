package source_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitopskit/kit/examples/api/meta"
	sourcev1 "github.com/gitopskit/kit/examples/api/source/v1"
	"github.com/gitopskit/kit/helmutil/helmtest"
	"github.com/gitopskit/kit/runtime/conditions"
)

// Credentials of the test chart repositories.
const (
	helmUser     = "chart-reader"
	helmPassword = "helm-repo-pass-0451"
)

// A default HelmRepository stores its index.yaml as it is: the revision is
// the index's sha256, the artifact's bytes are the index's; a re-check of
// an unchanged index stores nothing and records no event; a new chart in
// the repository is a new revision. Basic auth and TLS come from Secrets.
func TestHelmRepositoryIndexArtifact(t *testing.T) {
	t.Parallel()
	h, events := newHelmHarness(t, helmLimits{})
	srv := helmtest.NewServer(t, t.TempDir(), helmtest.WithTLS(), helmtest.WithBasicAuth(helmUser, helmPassword))
	srv.AddChart(t, helmtest.WriteChart(t, t.TempDir(), helmtest.Chart{Name: "app", Version: "1.0.0"}))
	h.secret("auth", map[string]string{"username": helmUser, "password": helmPassword})
	h.secret("tls", map[string]string{"ca.crt": string(caOf(t, srv))})

	obj := helmRepository("charts", srv.URL(), func(s *sourcev1.HelmRepositorySpec) {
		s.SecretRef = &meta.LocalObjectReference{Name: "auth"}
		s.CertSecretRef = &meta.LocalObjectReference{Name: "tls"}
	})
	h.create(obj)
	h.ready(obj)

	index := readBytes(t, filepath.Join(srv.Dir(), "index.yaml"))
	sum := sha256.Sum256(index)
	want := "sha256:" + hex.EncodeToString(sum[:])
	if obj.Status.Artifact.Revision != want || string(obj.Status.Artifact.Digest) != want {
		t.Fatalf("artifact revision %q digest %q, want both %q", obj.Status.Artifact.Revision, obj.Status.Artifact.Digest, want)
	}
	if obj.Status.URL != obj.Status.Artifact.URL || !strings.HasPrefix(obj.Status.URL, h.artifacts.URL()+"/helmrepository/"+h.ns+"/charts/") {
		t.Errorf("status.url %q, artifact url %q", obj.Status.URL, obj.Status.Artifact.URL)
	}
	if !conditions.IsTrue(obj, meta.ArtifactInStorageCondition) || obj.Status.ObservedGeneration != obj.Generation {
		t.Errorf("conditions %s, observedGeneration %d", describe(obj), obj.Status.ObservedGeneration)
	}
	file := filepath.Join(t.TempDir(), "index.yaml")
	if err := fetchFile(obj.Status.Artifact, file); err != nil {
		t.Fatal(err)
	}
	if string(readBytes(t, file)) != string(index) {
		t.Error("the stored artifact is not the repository's index.yaml")
	}
	if n := events.count("Normal NewArtifact"); n != 1 {
		t.Errorf("%d NewArtifact events, want 1", n)
	}

	// Unchanged index: nothing stored, no event.
	first := obj.Status.Artifact.DeepCopy()
	h.requestObject(obj, "again")
	h.ready(obj)
	if obj.Status.Artifact.Revision != first.Revision || !obj.Status.Artifact.LastUpdateTime.Equal(&first.LastUpdateTime) {
		t.Errorf("unchanged index stored again: %+v, was %+v", obj.Status.Artifact, first)
	}
	if n := events.count("Normal NewArtifact"); n != 1 {
		t.Errorf("%d NewArtifact events after an unchanged index, want 1", n)
	}

	// A new chart version: a new revision and one more event.
	srv.AddChart(t, helmtest.WriteChart(t, t.TempDir(), helmtest.Chart{Name: "app", Version: "1.1.0"}))
	h.requestObject(obj, "new-chart")
	h.eventually(obj, func() bool { return conditions.IsReady(obj) && obj.Status.Artifact.Revision != first.Revision })
	if n := events.count("Normal NewArtifact"); n != 2 {
		t.Errorf("%d NewArtifact events after a new index, want 2", n)
	}
	for _, e := range events.all() {
		if strings.Contains(e, helmPassword) || strings.Contains(e, base64.StdEncoding.EncodeToString([]byte(helmUser+":"+helmPassword))) {
			t.Errorf("an event holds the credentials: %s", e)
		}
	}
}

// A HelmRepository of type oci has no artifact: it is Ready with Flux's
// message, and holds the configuration its charts pull with.
func TestHelmRepositoryOCIType(t *testing.T) {
	t.Parallel()
	h, _ := newHelmHarness(t, helmLimits{})
	obj := helmRepository("oci", "oci://registry.example.com/charts", func(s *sourcev1.HelmRepositorySpec) { s.Type = sourcev1.HelmRepositoryTypeOCI })
	h.create(obj)
	h.ready(obj)
	if c := conditions.Get(obj, conditions.Ready); c.Message != "Helm repository is of type oci" || c.Reason != "Succeeded" {
		t.Errorf("Ready %s: %s", c.Reason, c.Message)
	}
	if obj.Status.Artifact != nil || obj.Status.URL != "" {
		t.Errorf("an oci repository has an artifact: %+v %q", obj.Status.Artifact, obj.Status.URL)
	}
}

// echoServer answers every request with 401 and the request, headers
// included, in its body and in a header, as a hostile or careless server
// would.
func echoServer(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		dump, _ := httputil.DumpRequest(r, false)
		w.Header().Set("X-Echo", strings.ReplaceAll(string(dump), "\r\n", " | "))
		w.Header().Set("WWW-Authenticate", `Basic realm="`+r.Header.Get("Authorization")+`"`)
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write(dump)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// Bad repositories give Ready=False with a reason and a message naming the
// repository, never the credentials, and are retried: an unreachable
// host, refused credentials (from a server echoing the request back), an
// index over the size limit, an index that does not parse; a Secret
// without the keys is an authentication failure.
func TestHelmRepositoryFailures(t *testing.T) {
	t.Parallel()
	h, events := newHelmHarness(t, helmLimits{maxIndex: 16 << 10})
	h.secret("auth", map[string]string{"username": helmUser, "password": helmPassword})
	h.secret("empty", map[string]string{"other": "x"})

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()

	large := t.TempDir()
	f, err := os.Create(filepath.Join(large, "index.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := helmtest.WriteLargeIndex(f, helmtest.LargeIndexOptions{Bytes: 64 << 10}); err != nil {
		t.Fatal(err)
	}
	f.Close()
	bad := t.TempDir()
	if err := os.WriteFile(filepath.Join(bad, "index.yaml"), []byte("apiVersion: v1\nentries:\n  app: [\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name, url, secret, reason, msg string
	}{
		{"unreachable", closed, "", "FetchFailed", "connection refused"},
		{"echo", echoServer(t), "auth", "AuthenticationFailed", "401"},
		{"too-large", helmtest.NewServer(t, large).URL(), "", "FetchFailed", "limit exceeded"},
		{"invalid", helmtest.NewServer(t, bad).URL(), "", "IndexationFailed", "index line 3"},
		{"no-keys", closed, "empty", "AuthenticationFailed", "secret"},
	} {
		obj := helmRepository(tc.name, tc.url, func(s *sourcev1.HelmRepositorySpec) {
			if tc.secret != "" {
				s.SecretRef = &meta.LocalObjectReference{Name: tc.secret}
			}
		})
		h.create(obj)
		msg := h.notReady(obj, tc.msg)
		if c := conditions.Get(obj, conditions.Ready); c.Reason != tc.reason {
			t.Errorf("%s: reason %s, want %s (%s)", tc.name, c.Reason, tc.reason, msg)
		}
		if conditions.IsTrue(obj, conditions.Stalled) {
			t.Errorf("%s: stalled, want retried: %s", tc.name, describe(obj))
		}
		if obj.Status.Artifact != nil {
			t.Errorf("%s: an artifact was stored", tc.name)
		}
		if strings.Contains(msg, helmPassword) || strings.Contains(msg, base64.StdEncoding.EncodeToString([]byte(helmUser+":"+helmPassword))) {
			t.Errorf("%s: the message holds the credentials: %s", tc.name, msg)
		}
	}
	for _, e := range events.all() {
		if strings.Contains(e, helmPassword) || strings.Contains(e, base64.StdEncoding.EncodeToString([]byte(helmUser+":"+helmPassword))) {
			t.Errorf("an event holds the credentials: %s", e)
		}
	}
	if events.count("Warning AuthenticationFailed") == 0 {
		t.Errorf("no AuthenticationFailed warning among %d events", len(events.all()))
	}
}
