package image

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	imagev1 "github.com/gitopskit/kit/examples/api/image/v1"
	"github.com/gitopskit/kit/examples/api/meta"
	"github.com/gitopskit/kit/oci/ocitest"
	"github.com/gitopskit/kit/runtime/conditions"
)

// A scan lists the repository's tags into the TagStore, without the
// default exclusion's .sig tags or the tags of a custom exclusionList;
// status has the canonical name, the count, the ten highest tags and a
// revision that changes exactly when the tags do.
func TestImageRepositoryScan(t *testing.T) {
	h := newHarness(t)
	reg := ocitest.New(t)
	want := []string{"latest"}
	for i := range 12 {
		tag := fmt.Sprintf("v1.%d.0", i)
		pushImage(t, reg, "app", tag)
		want = append(want, tag)
	}
	pushImage(t, reg, "app", "v1.0.0.sig")
	pushImage(t, reg, "app", "latest")
	slices.Sort(want)

	obj := imageRepository("app", reg, "app")
	h.create(obj)
	h.waitReady(obj)
	if obj.Spec.ExclusionList == nil || obj.Spec.ExclusionList[0] != imagev1.DefaultExclusion {
		t.Errorf("spec.exclusionList defaulted to %q, want [%q]", obj.Spec.ExclusionList, imagev1.DefaultExclusion)
	}
	res := obj.Status.LastScanResult
	if obj.Status.CanonicalImageName != reg.Repo("app") || res == nil || res.TagCount != len(want) {
		t.Fatalf("status: %+v %+v", obj.Status, res)
	}
	if res.Revision != tagsRevision(want) {
		t.Errorf("revision %s, want the digest of the sorted tags %s", res.Revision, tagsRevision(want))
	}
	top := slices.Clone(want)
	slices.Reverse(top)
	if !slices.Equal(res.LatestTags, top[:10]) {
		t.Errorf("latestTags %v, want %v", res.LatestTags, top[:10])
	}
	got, rev, ok := h.tags.Get(obj.UID)
	if !ok || rev != res.Revision || !slices.Equal(got, want) {
		t.Errorf("the store holds %v (%s, %v), want %v", got, rev, ok, want)
	}
	if msg := conditions.Get(obj, conditions.Ready).Message; msg != "successful scan: found 13 tags" {
		t.Errorf("Ready message %q", msg)
	}
	h.waitEvent("Normal Scanned found 13 tags")

	// A rescan of the same tags keeps the revision; a new tag changes it.
	h.request(obj)
	if obj.Status.LastScanResult.Revision != res.Revision {
		t.Errorf("revision changed without a new tag")
	}
	if n := len(h.events.matching("Normal Scanned")); n != 1 {
		t.Errorf("%d Scanned events after a rescan of the same tags, want 1", n)
	}
	pushImage(t, reg, "app", "v2.0.0")
	h.request(obj)
	if obj.Status.LastScanResult.Revision == res.Revision || obj.Status.LastScanResult.TagCount != 14 {
		t.Errorf("after a new tag: %+v", obj.Status.LastScanResult)
	}

	// A custom exclusion list replaces the default one (signature tags
	// are still left out).
	custom := imageRepository("custom", reg, "app", func(s *imagev1.ImageRepositorySpec) {
		s.ExclusionList = []string{`^v1\.1`, `^latest$`}
	})
	h.create(custom)
	h.waitReady(custom)
	got, _, _ = h.tags.Get(custom.UID)
	if want := []string{"v1.0.0", "v1.2.0", "v1.3.0", "v1.4.0", "v1.5.0", "v1.6.0", "v1.7.0", "v1.8.0", "v1.9.0", "v2.0.0"}; !slices.Equal(got, want) {
		t.Errorf("with exclusionList: %v, want %v", got, want)
	}

	// Deleting the object forgets its tags.
	if err := h.c.Delete(context.Background(), custom); err != nil {
		t.Fatal(err)
	}
	h.eventually("the store to forget the deleted repository", func() bool {
		_, _, ok := h.tags.Get(custom.UID)
		return !ok
	})
}

// An exclusion that is not a regular expression stalls the object; an
// image with a tag or a scheme is refused by the API server already (see
// config's TestImageFieldValidation), and by the reconciler when it gets
// through.
func TestImageRepositoryInvalidSpec(t *testing.T) {
	h := newHarness(t)
	reg := ocitest.New(t)
	obj := imageRepository("bad-regex", reg, "app", func(s *imagev1.ImageRepositorySpec) { s.ExclusionList = []string{"(unclosed"} })
	h.create(obj)
	c := h.waitNotReady(obj, reasonInvalidExclusion)
	if !conditions.IsTrue(obj, conditions.Stalled) || !strings.Contains(c.Message, "spec.exclusionList") || !strings.Contains(c.Message, "(unclosed") {
		t.Errorf("conditions: %+v", obj.Status.Conditions)
	}
	for _, image := range []string{"example.com/app:v1", "oci://example.com/app", "example.com/app@sha256:0", "example.com/"} {
		if _, err := canonicalImage(image); err == nil {
			t.Errorf("canonicalImage(%q) accepted", image)
		}
	}
	for in, want := range map[string]string{
		"nginx":               "index.docker.io/library/nginx",
		"org/app":             "index.docker.io/org/app",
		"docker.io/org/app":   "index.docker.io/org/app",
		"localhost/app":       "localhost/app",
		"127.0.0.1:5000/a/b":  "127.0.0.1:5000/a/b",
		"ghcr.io/org/app/sub": "ghcr.io/org/app/sub",
	} {
		if got, err := canonicalImage(in); err != nil || got != want {
			t.Errorf("canonicalImage(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// echoRegistry answers every request with 401, a Basic challenge and the
// request's headers in the body, as a hostile or misconfigured registry
// might.
func echoRegistry(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("WWW-Authenticate", `Basic realm="echo"`)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		var b strings.Builder
		for k, v := range r.Header {
			fmt.Fprintf(&b, "%s=%s ", k, strings.Join(v, ","))
		}
		fmt.Fprintf(w, `{"errors":[{"code":"UNAUTHORIZED","message":"denied: %s"}]}`, strings.ReplaceAll(b.String(), `"`, `'`))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// Refused credentials are Ready=False AuthenticationFailed; the password
// and its basic-auth encoding appear in no condition and no event, though
// the registry echoes them.
func TestImageRepositoryCredentialsNeverShown(t *testing.T) {
	h := newHarness(t)
	srv := echoRegistry(t)
	host := strings.TrimPrefix(srv.URL, "http://")
	const user, password = "robot", "s3cr3t-registry-password"
	basic := base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
	cfg := fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, host, basic)
	h.create(&corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "creds"},
		Type:       corev1.SecretTypeDockerConfigJson,
		Data:       map[string][]byte{corev1.DockerConfigJsonKey: []byte(cfg)},
	})
	obj := &imagev1.ImageRepository{
		ObjectMeta: metav1.ObjectMeta{Name: "echo"},
		Spec: imagev1.ImageRepositorySpec{
			Image: host + "/app", Insecure: true, Interval: metav1.Duration{Duration: 1e12},
			SecretRef: &meta.LocalObjectReference{Name: "creds"},
		},
	}
	h.create(obj)
	c := h.waitNotReady(obj, reasonAuthFailed)
	h.waitEvent("Warning " + reasonAuthFailed)
	everything := fmt.Sprintf("%+v\n%s", obj.Status, h.events.all())
	for _, secret := range []string{password, basic} {
		if strings.Contains(everything, secret) {
			t.Fatalf("the credentials appear in the status or an event:\n%s", everything)
		}
	}
	if !strings.Contains(c.Message, host+"/app") {
		t.Errorf("the message does not name the image: %s", c.Message)
	}
}
