package gitopsctl

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/oci"
	"github.com/gitopskit/kit/oci/ocitest"
	"github.com/gitopskit/kit/runtime/conditions"

	imagev1 "github.com/gitopskit/kit/examples/api/image/v1"
	"github.com/gitopskit/kit/examples/api/meta"
)

// ImageRepositories and ImagePolicies are listed with their image, tag
// count and chosen tag, reconciled (a new tag is seen), suspended,
// exported and resumed against gitopsd's image reconcilers.
func TestImageKinds(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	ctx := context.Background()
	reg := ocitest.New(t)
	push := func(tag string) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "t"), []byte(tag), 0o644); err != nil {
			t.Fatal(err)
		}
		c, err := oci.NewClient(reg.ClientOptions()...)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Push(ctx, reg.Repo("app")+":"+tag, dir, oci.PushOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	push("1.0.0")
	repo := &imagev1.ImageRepository{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "app"},
		Spec:       imagev1.ImageRepositorySpec{Image: reg.Repo("app"), Insecure: true, Interval: metav1.Duration{Duration: time.Hour}},
	}
	pol := &imagev1.ImagePolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "app"},
		Spec: imagev1.ImagePolicySpec{
			ImageRepositoryRef: meta.LocalObjectReference{Name: "app"},
			Policy:             imagev1.ImagePolicyChoice{SemVer: &imagev1.SemVerPolicy{Range: "*"}},
		},
	}
	for _, o := range []client.Object{repo, pol} {
		if err := env.Client().Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(time.Minute)
	for {
		if err := env.Client().Get(ctx, client.ObjectKeyFromObject(pol), pol); err != nil {
			t.Fatal(err)
		}
		if conditions.IsReady(pol) && pol.Status.LatestRef != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ImagePolicy not Ready: %+v", pol.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
	c := newCtl(t)
	expect(t, c.run("get", "imagerepositories", "-n", ns, "-o", "wide"), ExitOK, "NAME", "IMAGE", "TAGS", "app", reg.Repo("app"))
	expect(t, c.run("get", "imagepolicy", "-n", ns), ExitOK, "app", "1.0.0")
	expect(t, c.run("get", "imgpol", "app", "-n", ns), ExitOK, "app")

	push("1.1.0")
	expect(t, c.run("reconcile", "imagerepository", "app", "-n", ns), ExitOK)
	deadline = time.Now().Add(time.Minute)
	for pol.Status.LatestRef.Tag != "1.1.0" {
		if time.Now().After(deadline) {
			t.Fatalf("the policy did not follow the new tag: %+v", pol.Status)
		}
		time.Sleep(20 * time.Millisecond)
		if err := env.Client().Get(ctx, client.ObjectKeyFromObject(pol), pol); err != nil {
			t.Fatal(err)
		}
	}
	expect(t, c.run("suspend", "imagerepo", "app", "-n", ns), ExitOK)
	r := c.run("export", "imagerepository", "app", "-n", ns)
	expect(t, r, ExitOK, "kind: ImageRepository", "suspend: true")
	if strings.Contains(r.String(), "status:") {
		t.Errorf("export carries the status:\n%s", r)
	}
	expect(t, c.run("resume", "imagerepository", "app", "-n", ns), ExitOK)
	expect(t, c.run("get", "imageupdateautomations", "-n", ns), ExitOK)
	expect(t, c.run("get", "iua", "-n", ns), ExitOK)
}

// convert --from-flux rewrites Flux's image kinds into gitopsd's,
// dropping and reporting the fields gitopsd lacks (spec.provider: no
// cloud workload identity), which fails the command.
func TestConvertFluxImageKinds(t *testing.T) {
	t.Parallel()
	c := newCtl(t)
	c.stdin = `apiVersion: image.toolkit.fluxcd.io/v1beta2
kind: ImageRepository
metadata: {name: app}
spec:
  image: ghcr.io/org/app
  interval: 5m
  provider: aws
---
apiVersion: image.toolkit.fluxcd.io/v1beta2
kind: ImagePolicy
metadata: {name: app}
spec:
  imageRepositoryRef: {name: app}
  policy: {semver: {range: 1.x}}
---
apiVersion: image.toolkit.fluxcd.io/v1beta2
kind: ImageUpdateAutomation
metadata: {name: apps}
spec:
  interval: 10m
  sourceRef: {kind: GitRepository, name: config}
  git:
    commit:
      author: {name: bot, email: bot@example.com}
    push: {branch: main}
  update: {path: ./clusters, strategy: Setters}
`
	r := c.run("convert", "--from-flux", "-")
	expect(t, r, ExitFailure, "apiVersion: image.gitopskit.dev/v1", "kind: ImagePolicy", "kind: ImageUpdateAutomation",
		"spec.provider: gitopsd has no such field: dropped", "converted 3 Flux objects in 1 file")
	if strings.Contains(r.String(), "image.toolkit.fluxcd.io") {
		t.Errorf("a Flux apiVersion is left:\n%s", r)
	}
}
